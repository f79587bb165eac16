"""The local backend: a real model (Gemma 3 270M on llama.cpp) behind the emulator.

Everything here runs the real model through the unmodified openai SDK. Answers are greedy (temperature
0) unless a test says otherwise, so they are repeatable on one build of llama.cpp.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel, ValidationInfo, field_validator

import instructor_az
from instructor_az import Mode
from instructor_az.emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, LATEST_GA, ChatRequest, Emulator

pytest.importorskip("llama_cpp", reason="the local model tests need the 'local' extra")
from instructor_az.emulator import LocalBackend
from instructor_az.emulator._local import plan_task

pytestmark = pytest.mark.local_model

JOHN = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int


@pytest.fixture
def local_backend(local_model_backend: LocalBackend) -> LocalBackend:
    """The plugin's session-wide model (instructor_az.testing), loaded once."""
    return local_model_backend


@pytest.fixture
def emulator(local_backend: LocalBackend) -> Iterator[Emulator]:
    emulator = Emulator(backend=local_backend)
    yield emulator
    emulator.close()


@pytest.fixture
def azure(emulator: Emulator) -> AzureOpenAI:
    """An `AzureOpenAI` as users build it, bound in-process to the emulator."""
    return AzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_key=DEFAULT_API_KEY,
        api_version=LATEST_GA,
        http_client=emulator.http_client(),
    )


@pytest.fixture
def async_azure(emulator: Emulator) -> AsyncAzureOpenAI:
    return AsyncAzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_key=DEFAULT_API_KEY,
        api_version=LATEST_GA,
        http_client=emulator.async_http_client(),
    )


def prompt_tokens(backend: LocalBackend, body: dict[str, Any]) -> int:
    """What the model's own tokenizer counts for the prompt the backend renders from `body`."""
    task = plan_task(ChatRequest("gpt-4o", "gpt-4o", body), default_max_tokens=512, default_temperature=0.0)
    assert backend._worker is not None
    return len(backend._worker.llm.tokenize(task.prompt.encode(), add_bos=True, special=True))


# --- extraction in each mode -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA])
def test_extracts_john_30(
    azure: AzureOpenAI, emulator: Emulator, local_backend: LocalBackend, mode: Mode
) -> None:
    client = instructor_az.from_openai(azure, mode=mode)
    user, completion = client.chat.completions.create_with_completion(
        model="gpt-4o", response_model=User, messages=JOHN
    )
    assert user == User(name="John", age=30)
    body = emulator.last_request.body
    if mode is Mode.TOOLS:
        assert body["tool_choice"] == {"type": "function", "function": {"name": "User"}}
        assert json.loads(completion.choices[0].message.tool_calls[0].function.arguments) == {
            "name": "John",
            "age": 30,
        }
        assert (
            completion.choices[0].finish_reason == "stop"
        )  # a forced function finishes with "stop" on Azure
    else:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert json.loads(completion.choices[0].message.content) == {"name": "John", "age": 30}
    # usage comes from the model's tokenizer, not an estimate
    assert completion.usage.prompt_tokens == prompt_tokens(local_backend, body)
    assert 5 <= completion.usage.completion_tokens <= 30


@pytest.mark.parametrize("mode", [Mode.TOOLS_STRICT, Mode.JSON, Mode.MD_JSON])
def test_other_modes_extract_john_30(azure: AzureOpenAI, mode: Mode) -> None:
    client = instructor_az.from_openai(azure, mode=mode)
    assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN) == User(
        name="John", age=30
    )


def test_answers_are_constrained_to_the_schema(azure: AzureOpenAI) -> None:
    """The grammar makes even a nested, enum-bearing schema parse, whatever the model would have said."""

    class Address(BaseModel):
        city: str
        country: str

    class Contact(BaseModel):
        name: str
        address: Address
        tags: list[str]

    client = instructor_az.from_openai(azure, mode=Mode.JSON_SCHEMA)
    contact = client.chat.completions.create(
        model="gpt-4o",
        response_model=Contact,
        messages=[
            {"role": "user", "content": "Ana from Lisbon, Portugal is a customer (vip, early adopter)."}
        ],
        max_tokens=150,
    )
    assert isinstance(contact.address, Address)
    assert contact.address.city == "Lisbon"
    assert all(isinstance(tag, str) for tag in contact.tags)


def test_plain_text_has_usage_from_the_tokenizer(azure: AzureOpenAI, local_backend: LocalBackend) -> None:
    completion = azure.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello."}], max_tokens=12
    )
    choice = completion.choices[0]
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens <= 12
    assert completion.usage.prompt_tokens == prompt_tokens(
        local_backend, {"messages": [{"role": "user", "content": "Say hello."}]}
    )


def test_max_tokens_cut_is_incomplete_output(azure: AzureOpenAI, emulator: Emulator) -> None:
    client = instructor_az.from_openai(azure)
    with pytest.raises(instructor_az.IncompleteOutputException) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN, max_tokens=4)
    assert "max_tokens" in str(caught.value)
    assert len(emulator.requests) == 1  # a cut answer is not re-asked


# --- streaming --------------------------------------------------------------------------------------


def test_raw_stream_is_token_by_token_in_azures_chunk_shape(azure: AzureOpenAI) -> None:
    chunks = list(
        azure.chat.completions.create(
            model="gpt-4o",
            messages=JOHN,
            stream=True,
            stream_options={"include_usage": True},
            tools=[
                {"type": "function", "function": {"name": "User", "parameters": User.model_json_schema()}}
            ],
            tool_choice={"type": "function", "function": {"name": "User"}},
        )
    )
    assert chunks[0].choices == []
    assert chunks[0].prompt_filter_results  # type: ignore[attr-defined]
    pieces = [
        c.choices[0].delta.tool_calls[0].function.arguments
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls and c.choices[0].delta.tool_calls[0].function.arguments
    ]
    assert len(pieces) >= 8  # one delta per generated token, not one blob
    assert json.loads("".join(pieces)) == {"name": "John", "age": 30}
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens >= len(pieces)


def test_create_partial_streams_growing_users(azure: AzureOpenAI) -> None:
    client = instructor_az.from_openai(azure)
    # a partial is updated in place (docs/streaming.md): keep snapshots with model_dump()
    snapshots = [
        p.model_dump()
        for p in client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=JOHN)
    ]
    assert len(snapshots) >= 2
    assert snapshots[0]["name"] is None or snapshots[0]["age"] is None  # it filled in as tokens arrived
    assert snapshots[-1] == {"name": "John", "age": 30}


async def test_async_stream_and_create(async_azure: AsyncAzureOpenAI) -> None:
    client = instructor_az.from_openai(async_azure, mode=Mode.JSON_SCHEMA)
    seen = [
        p.model_dump()
        async for p in client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=JOHN
        )
    ]
    assert len(seen) >= 2
    assert seen[-1] == {"name": "John", "age": 30}
    user = await client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN)
    assert user == User(name="John", age=30)


def test_stream_abandoned_early_frees_the_model(azure: AzureOpenAI) -> None:
    stream = azure.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        max_tokens=400,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()
    # the abandoned generation stops at its next token, so the model answers the next request at once
    client = instructor_az.from_openai(azure)
    assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN).age == 30


# --- re-asking with a real model --------------------------------------------------------------------


class Checked(BaseModel):
    name: str
    age: int

    @field_validator("name")
    @classmethod
    def reviewed(cls, value: str, info: ValidationInfo) -> str:
        seen: list[str] = info.context["seen"] if info.context else []
        seen.append(value)
        if len(seen) == 1:
            raise ValueError("a reviewer must confirm the name: answer again with the same name")
        return value


@pytest.mark.parametrize("stream", [False, True])
def test_validator_rejecting_the_first_answer_is_reasked_and_seen_in_hooks(
    azure: AzureOpenAI, emulator: Emulator, stream: bool
) -> None:
    client = instructor_az.from_openai(azure)
    events: list[tuple[str, Any]] = []
    client.on("completion:kwargs", lambda *a, **kw: events.append(("kwargs", kw.get("messages"))))
    client.on("completion:response", lambda response: events.append(("response", response)))
    client.on("parse:error", lambda error: events.append(("parse:error", error)))
    seen: list[str] = []
    # temperature 0 also for the re-ask (the backend samples re-asks afresh when a request sets none)
    kwargs: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": JOHN,
        "context": {"seen": seen},
        "max_retries": 2,
        "temperature": 0,
    }
    if stream:
        *_, user = client.chat.completions.create_partial(response_model=Checked, **kwargs)
    else:
        user = client.chat.completions.create(response_model=Checked, **kwargs)
    assert isinstance(user, Checked)
    assert user.model_dump() == {"name": "John", "age": 30}
    # the real model's first answer was rejected, the second accepted (a stream also checks the field
    # as it completes, before the final object is validated)
    assert seen == (["John", "John", "John"] if stream else ["John", "John"])
    kinds = [kind for kind, _ in events]
    if stream:  # the stream stopped at the rejected field: no completion arrived for the first attempt
        assert kinds == ["kwargs", "parse:error", "kwargs", "response"]
    else:
        assert kinds == ["kwargs", "response", "parse:error", "kwargs", "response"]
    reask = events[kinds.index("kwargs", 1)][1]
    assert "a reviewer must confirm the name" in json.dumps(reask)
    assert len(emulator.requests) == 2
    assert "a reviewer must confirm the name" in json.dumps(emulator.requests[1].body["messages"])


# --- the backend as a service -----------------------------------------------------------------------


def test_concurrent_requests_are_queued_and_all_answered(azure: AzureOpenAI, emulator: Emulator) -> None:
    client = instructor_az.from_openai(azure)
    results: list[Any] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert results == [User(name="John", age=30)] * 3
    assert len(emulator.requests) == 3


def test_prompt_longer_than_the_context_is_azures_400() -> None:
    small = LocalBackend(n_ctx=64)
    emulator = Emulator(backend=small)
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            emulator.client(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "word " * 200}]
            )
        assert caught.value.code == "context_length_exceeded"
        assert "maximum context length is 64 tokens" in caught.value.message
    finally:
        emulator.close()


def test_over_loopback(local_backend: LocalBackend) -> None:
    emulator = Emulator(backend=local_backend)
    try:
        with emulator.serve() as endpoint:
            azure = AzureOpenAI(azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA)
            client = instructor_az.from_openai(azure)
            assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN) == User(
                name="John", age=30
            )
    finally:
        emulator.close()


# --- more shapes ------------------------------------------------------------------------------------


class Weather(BaseModel):
    city: str


class Search(BaseModel):
    query: str


def test_parallel_tools_returns_each_call(azure: AzureOpenAI, emulator: Emulator) -> None:
    client = instructor_az.from_openai(azure, mode=Mode.PARALLEL_TOOLS)
    calls = list(
        client.chat.completions.create(
            model="gpt-4o",
            response_model=Iterable[Weather | Search],
            messages=[{"role": "user", "content": "What is the weather in Paris and in Tokyo?"}],
            max_tokens=100,
        )
    )
    assert calls == [Weather(city="Paris"), Weather(city="Tokyo")]
    assert emulator.last_request.body["tool_choice"] == "auto"
    assert {t["function"]["name"] for t in emulator.last_request.body["tools"]} == {"Weather", "Search"}


def test_create_iterable_yields_each_user_as_it_closes(azure: AzureOpenAI) -> None:
    client = instructor_az.from_openai(azure)
    users = []
    for user in client.chat.completions.create_iterable(
        model="gpt-4o",
        response_model=User,
        messages=[{"role": "user", "content": "John is 30 years old and Mary is 25."}],
        max_tokens=100,
    ):
        users.append(user)
    assert users[:2] == [User(name="John", age=30), User(name="Mary", age=25)]


def test_cli_serves_the_local_model_on_loopback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "instructor_az.cli", "emulator", "--backend", "local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        azure = AzureOpenAI(azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA)
        user = instructor_az.from_openai(azure).chat.completions.create(
            model="gpt-4o", response_model=User, messages=JOHN
        )
        assert user == User(name="John", age=30)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "local backend" in out
    assert "loaded in" in out


def test_close_frees_the_model_and_it_reloads_on_next_use() -> None:
    backend = LocalBackend(n_ctx=512)
    emulator = Emulator(backend=backend)
    try:
        client = instructor_az.from_openai(emulator.client())
        assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN).age == 30
        backend.close()
        assert backend._worker is None
        assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=JOHN).age == 30
    finally:
        backend.close()
        emulator.close()


async def test_concurrent_async_streams_are_queued_and_all_complete(
    async_azure: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    import asyncio

    client = instructor_az.from_openai(async_azure)

    async def stream_one() -> dict[str, Any]:
        last: dict[str, Any] = {}
        async for partial in client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=JOHN
        ):
            last = partial.model_dump()
        return last

    results = await asyncio.wait_for(asyncio.gather(stream_one(), stream_one(), stream_one()), timeout=120)
    assert results == [{"name": "John", "age": 30}] * 3
    assert len(emulator.requests) == 3
