"""Seed 001 (openai-python's Azure reference): its samples through a *wrapped* client, against the emulator.

`client = instructor_az.from_openai(AzureOpenAI(...))`, then each sample as written: with no
`response_model` every call is the SDK's own (passthrough), and everything that is not chat completions
goes straight to the SDK (proxy). The environment points at the emulator served on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AzureOpenAI

import instructor_az
from instructor_az.emulator import Emulator

pytestmark = pytest.mark.loopback

KEY = "seed-001-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(backend="schema", api_keys=[KEY])
    with emulator.serve() as endpoint:
        yield emulator, endpoint
    emulator.close()


@pytest.fixture
def emulator(
    served: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Emulator:
    emulator, endpoint = served
    emulator.reset()
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    monkeypatch.chdir(tmp_path)  # the samples write speech.mp3 in the working directory
    return emulator


@pytest.fixture
def client(emulator: Emulator) -> Any:
    # --- seed: API key authentication, then wrapped ---
    import os

    client = AzureOpenAI(
        api_key=os.getenv("AZURE_OPENAI_API_KEY"),
        api_version="2024-10-21",
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
    )
    return instructor_az.from_openai(client)


def test_entra_id_token_provider(emulator: Emulator) -> None:
    import os

    def token_provider() -> str:  # what get_bearer_token_provider(DefaultAzureCredential(), ...) returns
        return Emulator.entra_token()

    client = AzureOpenAI(
        azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        azure_ad_token_provider=token_provider,
        api_version="2024-10-21",
    )
    client = instructor_az.from_openai(client)
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "When was Microsoft founded?"}]
    )
    assert completion.choices[0].message.content
    assert emulator.last_request.auth == "bearer"


def test_chat_passthrough(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: chat completions ---
    completion = client.chat.completions.create(
        model="gpt-4o",  # Replace with your model dpeloyment name.
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "When was Microsoft founded?"},
        ],
    )

    # print(completion.choices[0].message)
    print(completion.model_dump_json(indent=2))

    assert isinstance(completion, openai.types.chat.ChatCompletion)  # the SDK's own object
    printed = json.loads(capsys.readouterr().out)
    assert printed["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert printed["choices"][0]["content_filter_results"]["violence"]["severity"] == "safe"
    # --- seed: request ids ---
    print(completion._request_id)
    assert completion._request_id
    assert capsys.readouterr().out.strip() == completion._request_id


def test_streaming_passthrough(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: streaming ---
    completion = client.chat.completions.create(
        model="gpt-4o",  # Replace with your model dpeloyment name.
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "When was Microsoft founded?"},
        ],
        stream=True,
    )

    for chunk in completion:
        if chunk.choices and chunk.choices[0].delta.content is not None:
            print(
                chunk.choices[0].delta.content,
                end="",
            )

    assert capsys.readouterr().out.startswith("This is the Azure OpenAI emulator")
    assert isinstance(completion, openai.Stream)


def test_vision_passthrough(client: Any, emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: vision ---
    completion = client.chat.completions.create(
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
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["prompt_filter_results"]) == 2  # Azure annotates the text and the image
    assert emulator.last_request.body["messages"][0]["content"][1]["type"] == "image_url"


def test_embeddings_proxy(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: embeddings ---
    embedding = client.embeddings.create(
        model="text-embedding-3-large",  # Replace with your model deployment name
        input="Attenion is all you need",
        encoding_format="float",
    )

    print(embedding)
    assert len(embedding.data[0].embedding) == 3072
    assert "CreateEmbeddingResponse" in capsys.readouterr().out


def test_images_proxy(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: image generation ---
    generate_image = client.images.generate(
        model="dall-e-3",  # replace with your model deployment name
        prompt="A rabbit eating pancakes",
        n=1,
        size="1024x1024",
        quality="hd",
        response_format="url",
        style="vivid",
    )

    print(generate_image.model_dump_json(indent=2))
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"][0]["url"].startswith("http")
    assert printed["data"][0]["revised_prompt"]


def test_audio_proxy(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Azure serves text to speech on preview api-versions only (a GA version gets 404, as the emulator
    # does), so this client is the seed's with a preview version.
    import os

    from instructor_az.emulator import LATEST_PREVIEW

    client = instructor_az.from_openai(
        AzureOpenAI(
            api_key=os.getenv("AZURE_OPENAI_API_KEY"),
            api_version=LATEST_PREVIEW,
            azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
        )
    )
    # --- seed: text to speech ---
    from pathlib import Path

    speech_file_path = Path("speech.mp3")

    response = client.audio.speech.create(
        model="tts-hd",  # Replace with model deployment name
        voice="alloy",
        input="Testing, testing, 1,2,3.",
    )
    response.write_to_file(speech_file_path)
    assert speech_file_path.stat().st_size > 0

    Path("speech1.mp3").write_bytes(speech_file_path.read_bytes())
    # --- seed: speech to text ---
    audio_file = open("speech1.mp3", "rb")  # noqa: SIM115 - the sample's own spelling
    transcript = client.audio.transcriptions.create(
        model="whisper",  # Replace with model deployment name
        file=audio_file,
    )

    print(transcript)
    audio_file.close()
    assert "Transcription" in capsys.readouterr().out
    assert transcript.text


def test_legacy_completions_proxy(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: completions (legacy) ---
    legacy_completion = client.completions.create(
        model="gpt-35-turbo-instruct",  # Replace with model deployment name
        prompt="Hello World!",
        max_tokens=100,
        temperature=0,
    )

    print(legacy_completion.model_dump_json(indent=2))
    printed = json.loads(capsys.readouterr().out)
    assert printed["object"] == "text_completion"
    assert printed["choices"][0]["text"]
    print(legacy_completion._request_id)
    assert capsys.readouterr().out.strip() == legacy_completion._request_id


def test_error_handling_sample(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # --- seed: error handling ---
    import openai

    try:
        client.fine_tuning.jobs.create(
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
    assert lines[0] == "Another non-200-range status code was received"
    assert lines[1] == "404"  # the emulator serves no fine-tuning: Azure's 404 for an unknown route


def test_retries_and_with_options(emulator: Emulator) -> None:
    # --- seed: retries for all requests ---
    from openai import AzureOpenAI

    client = AzureOpenAI(max_retries=0)  # endpoint, key and version from the environment
    client = instructor_az.from_openai(client)
    assert client.client.max_retries == 0
    # --- seed: max retries for specific requests ---
    completion = client.with_options(max_retries=5).chat.completions.create(
        messages=[
            {
                "role": "user",
                "content": "When was Microsoft founded?",
            }
        ],
        model="gpt-4o",
    )
    assert completion.choices[0].message.content
    assert isinstance(client.with_options(max_retries=5), instructor_az.Instructor)
    assert client.with_options(max_retries=5).client.max_retries == 5
