"""Seed 001 (openai-python's Azure reference) through a wrapped client, in-process: the async client's
samples, Entra ID, the error-handling sample over Azure's error table with structured calls, request ids
of structured calls, and what the wrapper proxies.

test_seed_001.py runs the samples once with a sync client over loopback. Here the client is
`instructor_az.from_openai(AzureOpenAI(..., http_client=<bound to the emulator>))` or its async twin;
endpoint, key and api-version come from the environment, as the reference's `AzureOpenAI()` reads them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

import instructor_az
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_PREVIEW, Emulator, Fault

KEY = "seed-001-in-process-key"
USER_PROMPT = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(backend="schema", api_keys=[KEY])
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", DEFAULT_ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    monkeypatch.chdir(tmp_path)  # the audio samples write files in the working directory
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
async def aclient(emulator: Emulator) -> AsyncIterator[Any]:
    import os

    # --- seed: API key authentication (async client), then wrapped ---
    client = AsyncAzureOpenAI(
        api_key=os.getenv("AZURE_OPENAI_API_KEY"),
        api_version="2024-10-21",
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        http_client=emulator.async_http_client(),
    )
    wrapped = instructor_az.from_openai(client)
    yield wrapped
    await client.close()


# --- the async client's samples ------------------------------------------------------------------


async def test_async_chat_passthrough(aclient: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: chat.completions.create() ---
    completion = await aclient.chat.completions.create(
        model="gpt-4o",  # Replace with your model dpeloyment name.
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "When was Microsoft founded?"},
        ],
    )

    # print(completion.choices[0].message)
    print(completion.model_dump_json(indent=2))

    assert type(completion) is ChatCompletion
    printed = json.loads(capsys.readouterr().out)
    assert printed["object"] == "chat.completion"
    assert printed["choices"][0]["finish_reason"] == "stop"
    assert printed["choices"][0]["content_filter_results"]["self_harm"] == {
        "filtered": False,
        "severity": "safe",
    }
    assert printed["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] == {
        "filtered": False,
        "detected": False,
    }
    assert (
        printed["usage"]["total_tokens"]
        == printed["usage"]["prompt_tokens"] + printed["usage"]["completion_tokens"]
    )
    # --- seed: request ids ---
    print(completion._request_id)
    assert capsys.readouterr().out.strip() == completion._request_id != ""


async def test_async_streaming_passthrough(aclient: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: chat.completions.create() - streaming (async for) ---
    completion = await aclient.chat.completions.create(
        model="gpt-4o",  # Replace with your model dpeloyment name.
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "When was Microsoft founded?"},
        ],
        stream=True,
    )

    chunks = []
    async for chunk in completion:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content is not None:
            print(
                chunk.choices[0].delta.content,
                end="",
            )

    assert isinstance(completion, openai.AsyncStream)  # the SDK's own stream, untouched
    assert capsys.readouterr().out == (
        "This is the Azure OpenAI emulator's schema backend answering: When was Microsoft founded?"
    )
    assert chunks[0].choices == []  # Azure's prompt annotation chunk: the sample's guard skips it
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_async_vision_embeddings_images_and_legacy_completions(
    aclient: Any, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # --- seed: chat.completions.create() - image input ---
    completion = await aclient.chat.completions.create(
        model="gpt-4o",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What's in this image?"},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "https://raw.githubusercontent.com/MicrosoftDocs/azure-ai-docs/main/articles/ai-services/openai/media/how-to/generated-seattle.png",
                        },
                    },
                ],
            }
        ],
        max_tokens=300,
    )

    print(completion.model_dump_json(indent=2))
    vision = json.loads(capsys.readouterr().out)
    assert [p["prompt_index"] for p in vision["prompt_filter_results"]] == [0, 1]  # the text, and the image
    assert emulator.last_request.body["max_tokens"] == 300

    # --- seed: embeddings.create() ---
    embedding = await aclient.embeddings.create(
        model="text-embedding-3-large",  # Replace with your model deployment name
        input="Attenion is all you need",
        encoding_format="float",
    )

    print(embedding)
    assert capsys.readouterr().out.startswith("CreateEmbeddingResponse(data=[Embedding(embedding=[")
    assert len(embedding.data[0].embedding) == 3072
    assert embedding.usage.prompt_tokens > 0

    # --- seed: images.generate() ---
    generate_image = await aclient.images.generate(
        model="dall-e-3",  # replace with your model deployment name
        prompt="A rabbit eating pancakes",
        n=1,
        size="1024x1024",
        quality="hd",
        response_format="url",
        style="vivid",
    )

    print(generate_image.model_dump_json(indent=2))
    image = json.loads(capsys.readouterr().out)["data"][0]
    assert image["url"].startswith("https://")
    assert image["b64_json"] is None
    assert image["content_filter_results"]["violence"]["filtered"] is False

    # --- seed: completions.create() (legacy) ---
    legacy_completion = await aclient.completions.create(
        model="gpt-35-turbo-instruct",  # Replace with model deployment name
        prompt="Hello World!",
        max_tokens=100,
        temperature=0,
    )

    print(legacy_completion.model_dump_json(indent=2))
    legacy = json.loads(capsys.readouterr().out)
    assert legacy["object"] == "text_completion"
    assert legacy["choices"][0]["text"]
    # --- seed: request ids ---
    print(legacy_completion._request_id)
    assert capsys.readouterr().out.strip() == legacy_completion._request_id != ""
    assert [r.path.rsplit("/", 1)[-1] for r in emulator.requests] == [
        "completions",
        "embeddings",
        "generations",
        "completions",
    ]


async def test_async_audio(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    # text to speech needs a preview api-version (the reference says so): the seed's client with one
    client = AsyncAzureOpenAI(
        api_key=os.getenv("AZURE_OPENAI_API_KEY"),
        api_version=LATEST_PREVIEW,
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        http_client=emulator.async_http_client(),
    )
    client = instructor_az.from_openai(client)
    # --- seed: audio.speech.create() ---
    from pathlib import Path

    speech_file_path = Path("speech.mp3")

    response = await client.audio.speech.create(
        model="tts-hd",  # Replace with model deployment name
        voice="alloy",
        input="Testing, testing, 1,2,3.",
    )
    response.write_to_file(speech_file_path)
    mp3 = speech_file_path.read_bytes()  # noqa: ASYNC240
    assert mp3[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")  # an mp3 file

    Path("speech1.mp3").write_bytes(mp3)  # noqa: ASYNC240
    # --- seed: audio.transcriptions.create() ---
    audio_file = open("speech1.mp3", "rb")  # noqa: SIM115, ASYNC230 - the sample's own spelling
    transcript = await client.audio.transcriptions.create(
        model="whisper",  # Replace with model deployment name
        file=audio_file,
    )

    print(transcript)
    audio_file.close()
    assert capsys.readouterr().out.startswith("Transcription(text='Testing, testing, one, two, three.'")
    assert transcript.text == "Testing, testing, one, two, three."
    await client.client.close()


async def test_async_error_handling_and_retries(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # --- seed: retries for all requests (async client), then wrapped ---
    from openai import AsyncAzureOpenAI

    client = AsyncAzureOpenAI(max_retries=0, http_client=emulator.async_http_client())
    client = instructor_az.from_openai(client)
    # --- seed: error handling ---
    import openai

    try:
        await client.fine_tuning.jobs.create(
            model="gpt-4o",
            training_file="file-test",
        )
    except openai.APIConnectionError as e:
        print("The server could not be reached")
        print(e.__cause__)  # an underlying Exception, likely raised within httpx.
    except openai.RateLimitError:
        print("A 429 status code was received; we should back off a bit.")
    except openai.APIStatusError as e:
        print("Another non-200-range status code was received")
        print(e.status_code)
        print(e.response)

    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Another non-200-range status code was received", "404"]
    assert lines[2].startswith("<Response [404")

    # --- seed: max retries for specific requests ---
    emulator.inject(Fault.rate_limit(retry_after_ms=5), times=2)
    completion = await client.with_options(max_retries=5).chat.completions.create(
        messages=[
            {
                "role": "user",
                "content": "When was Microsoft founded?",
            }
        ],
        model="gpt-4o",
    )
    assert completion.choices[0].message.content
    assert [r.status for r in emulator.requests][-3:] == [429, 429, 200]  # the SDK retried the 429s
    assert client.client.max_retries == 0
    await client.client.close()


# --- Entra ID ----------------------------------------------------------------------------------------


def test_entra_id_sample_with_azure_identity(emulator: Emulator) -> None:
    pytest.importorskip("azure.identity")
    from azure.core.credentials import AccessToken

    class EmulatorCredential:
        """A TokenCredential issuing the emulator's Entra-shaped tokens (DefaultAzureCredential needs Azure)."""

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            assert scopes == ("https://cognitiveservices.azure.com/.default",)
            return AccessToken(Emulator.entra_token(), 2**31 - 1)

    DefaultAzureCredential = EmulatorCredential  # the only change to the sample
    # --- seed: Microsoft Entra ID authentication, then wrapped ---
    import os

    from azure.identity import get_bearer_token_provider
    from openai import AzureOpenAI

    token_provider = get_bearer_token_provider(
        DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default"
    )

    client = AzureOpenAI(
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        azure_ad_token_provider=token_provider,
        api_version="2024-10-21",
        http_client=emulator.http_client(),
    )
    client = instructor_az.from_openai(client)
    user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=USER_PROMPT)
    assert user == User(name="John", age=30)
    assert emulator.last_request.auth == "bearer"


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_entra_id_token_provider_for_structured_calls(emulator: Emulator, flavor: str) -> None:
    import os

    issued: list[str] = []

    def token_provider() -> str:  # what get_bearer_token_provider(DefaultAzureCredential(), scope) returns
        issued.append(Emulator.entra_token())
        return issued[-1]

    if flavor == "sync":
        client: Any = AzureOpenAI(
            azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
            azure_ad_token_provider=token_provider,
            api_version="2024-10-21",
            http_client=emulator.http_client(),
        )
        wrapped = instructor_az.from_openai(client)
        users = [wrapped.chat.completions.create(model="gpt-4o", response_model=User, messages=USER_PROMPT)]
        users += list(
            wrapped.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=USER_PROMPT)
        )[-1:]
    else:
        client = AsyncAzureOpenAI(
            azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
            azure_ad_token_provider=token_provider,
            api_version="2024-10-21",
            http_client=emulator.async_http_client(),
        )
        wrapped = instructor_az.from_openai(client)
        users = [
            await wrapped.chat.completions.create(model="gpt-4o", response_model=User, messages=USER_PROMPT)
        ]
        users += [
            u
            async for u in wrapped.chat.completions.create_partial(
                model="gpt-4o", response_model=User, messages=USER_PROMPT
            )
        ][-1:]
    assert users == [User(name="John", age=30)] * 2
    assert [r.auth for r in emulator.requests] == ["bearer", "bearer"]
    assert len(issued) == 2  # the provider is asked for each request, streamed or not


# --- the error-handling sample around structured calls ------------------------------------------------

ERROR_CASES: dict[str, tuple[type[Exception], list[str]]] = {
    "400": (openai.BadRequestError, ["Another non-200-range status code was received", "400"]),
    "401": (openai.AuthenticationError, ["Another non-200-range status code was received", "401"]),
    "404": (openai.NotFoundError, ["Another non-200-range status code was received", "404"]),
    "429": (openai.RateLimitError, ["A 429 status code was received; we should back off a bit."]),
    "500": (openai.InternalServerError, ["Another non-200-range status code was received", "500"]),
    "503": (openai.InternalServerError, ["Another non-200-range status code was received", "503"]),
    "connection": (openai.APIConnectionError, ["The server could not be reached"]),
}


def failing_call(emulator: Emulator, case: str) -> tuple[Callable[[], Any], Any]:
    """A structured call through a wrapped client (SDK retries off, as the reference's
    `AzureOpenAI(max_retries=0)`) that fails the way `case` says."""
    import os

    client = instructor_az.from_openai(
        AzureOpenAI(
            api_key=KEY if case != "401" else "not-the-key",
            api_version=os.environ["OPENAI_API_VERSION"],
            azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
            max_retries=0,
            http_client=emulator.http_client(),
        )
    )
    kwargs: dict[str, Any] = {"model": "gpt-4o", "response_model": User, "messages": USER_PROMPT}
    if case == "400":
        kwargs["temperature"] = 3
    elif case == "404":
        kwargs["model"] = "no-such-deployment"
    elif case == "429":
        emulator.inject(Fault.rate_limit(retry_after_ms=5))
    elif case in ("500", "503"):
        emulator.inject(Fault.server_error(int(case)))
    elif case == "connection":
        emulator.inject(Fault.drop_connection(after_chunks=0))
    return lambda: client.chat.completions.create(**kwargs), client


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_handling_sample_around_a_structured_call(
    emulator: Emulator, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, lines = ERROR_CASES[case]
    call, _ = failing_call(emulator, case)
    # --- seed: error handling, around a structured call ---
    import openai

    try:
        call()
    except openai.APIConnectionError as e:
        print("The server could not be reached")
        print(e.__cause__)  # an underlying Exception, likely raised within httpx.
    except openai.RateLimitError:
        print("A 429 status code was received; we should back off a bit.")
    except openai.APIStatusError as e:
        print("Another non-200-range status code was received")
        print(e.status_code)
        print(e.response)

    printed = capsys.readouterr().out.splitlines()
    assert printed[: len(lines)] == lines
    assert len(emulator.requests) == 1  # never re-asked (and the SDK's retries are off)

    # the same failure, caught: the SDK's own exception, not wrapped; the error hook saw that very one
    call, client = failing_call(emulator, case)
    errors: list[BaseException] = []
    client.on("completion:error", errors.append)
    with pytest.raises(openai.APIError) as caught:
        call()
    assert type(caught.value) is expected
    assert errors == [caught.value]
    assert not isinstance(caught.value, instructor_az.InstructorError)
    if isinstance(caught.value, openai.APIStatusError):
        assert caught.value.request_id == caught.value.response.headers["x-request-id"]
        assert caught.value.status_code == int(case)


@pytest.mark.parametrize("stream", [False, True])
def test_connection_error_of_a_structured_call_keeps_its_cause(
    emulator: Emulator, stream: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key=KEY, max_retries=0))
    emulator.inject(Fault.drop_connection(after_chunks=0 if not stream else 3))
    # --- seed: error handling (its connection branch), around a structured call ---
    try:
        if stream:
            list(
                client.chat.completions.create_partial(
                    model="gpt-4o", response_model=User, messages=USER_PROMPT
                )
            )
        else:
            client.chat.completions.create(model="gpt-4o", response_model=User, messages=USER_PROMPT)
    except openai.APIConnectionError as e:
        print("The server could not be reached")
        print(e.__cause__)  # an underlying Exception, likely raised within httpx.

    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "The server could not be reached"
    assert printed[1].startswith("peer closed connection") or "disconnected" in printed[1]


# --- request ids and what the wrapper proxies ----------------------------------------------------------


@pytest.fixture
def tapped(emulator: Emulator) -> tuple[Any, list[str]]:
    """A wrapped client whose HTTP responses' x-request-id headers are recorded."""
    import os

    seen: list[str] = []
    http = emulator.http_client()
    http.event_hooks = {"response": [lambda response: seen.append(response.headers["x-request-id"])]}
    raw = AzureOpenAI(
        api_key=os.getenv("AZURE_OPENAI_API_KEY"),
        api_version="2024-10-21",
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        http_client=http,
    )
    return instructor_az.from_openai(raw), seen


def test_request_id_of_a_structured_call(
    tapped: tuple[Any, list[str]], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    client, seen = tapped
    user, completion = client.chat.completions.create_with_completion(
        model="gpt-4o", response_model=User, messages=USER_PROMPT
    )
    assert user == User(name="John", age=30)
    # --- seed: request ids ---
    print(completion._request_id)
    assert capsys.readouterr().out.strip() == seen[-1]


def test_request_id_of_a_reasked_call_is_the_last_requests() -> None:
    emulator = Emulator(backend="scripted", api_keys=[KEY])
    try:
        ids: list[str] = []
        http = emulator.http_client()
        http.event_hooks = {"response": [lambda response: ids.append(response.headers["x-request-id"])]}
        client = instructor_az.from_openai(
            AzureOpenAI(
                api_key=KEY, api_version="2024-10-21", azure_endpoint=DEFAULT_ENDPOINT, http_client=http
            )
        )
        emulator.scripted.push({"name": "John", "age": "thirty"}, {"name": "John", "age": 30})
        user, completion = client.chat.completions.create_with_completion(
            model="gpt-4o", response_model=User, messages=USER_PROMPT
        )
        assert user == User(name="John", age=30)
        assert len(ids) == 2
        assert completion._request_id == ids[-1]  # the completion returned is the last request's
    finally:
        emulator.close()


def test_the_wrapper_proxies_the_sdk(tapped: tuple[Any, list[str]], emulator: Emulator) -> None:
    client, seen = tapped
    raw: AzureOpenAI = client.client
    assert isinstance(raw, AzureOpenAI)
    # everything but chat completions' create is the SDK's own
    assert client.embeddings is raw.embeddings
    assert client.images is raw.images
    assert client.completions is raw.completions
    assert client.audio is raw.audio
    response = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "When was Microsoft founded?"}]
    )
    assert response.headers["x-request-id"] == seen[-1]
    assert response.parse()._request_id == seen[-1]
    assert response.headers["x-ms-region"] == "Emulator"
    # with_options / copy: the SDK's, still wrapped, hooks kept
    calls: list[Any] = []
    client.on("completion:response", calls.append)
    tuned = client.with_options(timeout=7.5, max_retries=1)
    assert isinstance(tuned, instructor_az.Instructor)
    assert (tuned.client.timeout, tuned.client.max_retries) == (7.5, 1)
    assert tuned.create(model="gpt-4o", response_model=User, messages=USER_PROMPT) == User(
        name="John", age=30
    )
    assert len(calls) == 1
    assert raw.timeout != 7.5  # the original is unchanged
