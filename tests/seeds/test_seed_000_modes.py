"""Seed 000 (instructor's Azure OpenAI guide): its samples in-process, in every mode, sync and async.

test_seed_000.py runs each sample once, as written, over loopback. Here the same code runs against the
emulator bound in-process, with the client wrapped in each mode the way the guide's hooks sample
spells it (`from_openai(client, mode=...)`). The changes to the guide's code, and only these:

- `import instructor` reads `import instructor_az as instructor` (`from instructor import X` reads
  `from instructor_az import X`);
- the client gets `http_client=` bound to the emulator (the endpoint and key come from the environment,
  as in the guide);
- the strict modes (TOOLS_STRICT, JSON_SCHEMA) use api-version 2024-08-01-preview, the first with
  structured outputs: with the guide's 2024-02-15-preview the call fails before any request with a
  ConfigurationError naming the version to use, which the guide's error handling prints (tested below);
- the deployment the guide calls "gpt-4" runs gpt-4o 2024-08-06 (a deployment name is the user's choice;
  the guide says "Your deployment name").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from instructor_az import Mode
from instructor_az.emulator import DEFAULT_ENDPOINT, ChatRequest, Deployment, Emulator, Reply, ToolCall

KEY = "seed-000-in-process-key"
SEED_VERSION = "2024-02-15-preview"
STRUCTURED_OUTPUTS_VERSION = "2024-08-01-preview"
MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    emulator = Emulator(
        backend="scripted", api_keys=[KEY], deployments=[Deployment("gpt-4", "gpt-4o", "2024-08-06")]
    )
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", DEFAULT_ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    try:
        yield emulator
    finally:
        emulator.close()


def version_for(mode: Mode) -> str:
    return STRUCTURED_OUTPUTS_VERSION if mode.is_strict else SEED_VERSION


def structured(value: Any) -> Any:
    """The model's answer, put where the request asks for it in any mode."""

    def reply(request: ChatRequest) -> Reply:
        tool = request.answer_tool
        if request.tool_choice == "auto":  # parallel tools: one call per object of the list
            (field,) = value
            return Reply(tool_calls=[ToolCall(tool or "", item) for item in value[field]])
        if tool is not None:
            return Reply(tool_calls=[ToolCall(tool, value)])
        text = json.dumps(value)
        return Reply(content=f"```json\n{text}\n```" if request.wants_fenced_json else text)

    return reply


def check_request(emulator: Emulator, mode: Mode, name: str) -> None:
    sent = emulator.last_request
    assert sent.deployment == "gpt-4"
    assert sent.api_version == version_for(mode)
    assert sent.auth == "api-key"
    body = sent.body
    if mode is Mode.PARALLEL_TOOLS:
        assert body["tool_choice"] == "auto"
    elif mode.is_tools:
        assert body["tool_choice"] == {"type": "function", "function": {"name": name}}
        assert body["tools"][0]["function"].get("strict", False) is (mode is Mode.TOOLS_STRICT)
    elif mode is Mode.JSON:
        assert body["response_format"] == {"type": "json_object"}
    elif mode is Mode.JSON_SCHEMA:
        assert body["response_format"]["json_schema"]["name"] == name
        assert body["response_format"]["json_schema"]["strict"] is True
    else:
        assert "tools" not in body
        assert "response_format" not in body
        assert "```json" in body["messages"][0]["content"]


def setup_client(emulator: Emulator, mode: Mode) -> Any:
    api_version = version_for(mode)
    # --- seed: Authentication ---
    import os

    from openai import AzureOpenAI

    import instructor_az as instructor

    # Configure Azure OpenAI client
    client = AzureOpenAI(
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        api_version=api_version,
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        http_client=emulator.http_client(),
    )

    # Patch the client with instructor
    client = instructor.from_openai(client, mode=mode.value)
    return client


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_basic_usage(emulator: Emulator, mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push(structured({"name": "John", "age": 30}))
    client = setup_client(emulator, mode)
    # --- seed: Basic Usage ---
    from pydantic import BaseModel

    class User(BaseModel):
        name: str
        age: int

    # Synchronous usage
    user = client.chat.completions.create(
        model="gpt-4",  # Your deployment name
        messages=[{"role": "user", "content": "John is 30 years old"}],
        response_model=User,
    )
    print(f"Name: {user.name}, Age: {user.age}")

    assert capsys.readouterr().out == "Name: John, Age: 30\n"
    assert user == User(name="John", age=30)
    check_request(emulator, mode, "User")


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_async_implementation(emulator: Emulator, mode: Mode) -> None:
    emulator.scripted.push(structured({"name": "John", "age": 30}))
    from pydantic import BaseModel

    import instructor_az as instructor

    class User(BaseModel):
        name: str
        age: int

    # --- seed: Async Implementation ---
    import asyncio

    from openai import AsyncAzureOpenAI

    async_client = AsyncAzureOpenAI(
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        api_version=version_for(mode),
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        http_client=emulator.async_http_client(),
    )
    async_client = instructor.from_openai(async_client, mode=mode.value)

    async def get_user_async():  # type: ignore[no-untyped-def]
        user = await async_client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "John is 30 years old"}], response_model=User
        )
        return user

    # Run async function
    user = asyncio.run(get_user_async())

    assert type(user) is User
    assert user == User(name="John", age=30)
    assert isinstance(async_client, instructor.AsyncInstructor)
    check_request(emulator, mode, "User")


ADDRESSES = {
    "name": "John",
    "age": 30,
    "addresses": [
        {"street": "123 Main St", "city": "New York", "country": "USA"},
        {"street": "456 High St", "city": "London", "country": "UK"},
    ],
}


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_nested_models(emulator: Emulator, mode: Mode) -> None:
    emulator.scripted.push(structured(ADDRESSES))
    client = setup_client(emulator, mode)
    # --- seed: Nested Models ---
    from typing import List  # noqa: UP035 - the guide's spelling

    from pydantic import BaseModel

    class Address(BaseModel):
        street: str
        city: str
        country: str

    class UserWithAddress(BaseModel):
        name: str
        age: int
        addresses: List[Address]  # noqa: UP006

    user = client.chat.completions.create(
        model="gpt-4",
        messages=[
            {
                "role": "user",
                "content": """
        John is 30 years old and has two addresses:
        1. 123 Main St, New York, USA
        2. 456 High St, London, UK
        """,
            }
        ],
        response_model=UserWithAddress,
    )

    assert user == UserWithAddress.model_validate(ADDRESSES)
    assert all(type(address) is Address for address in user.addresses)
    check_request(emulator, mode, "UserWithAddress")


STORY = "Once upon a time, a model learned to answer in JSON, one token after another. " * 4


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_streaming_support(emulator: Emulator, mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push(structured({"content": STORY}))
    # the guide's async_client, from its Async Implementation section
    from openai import AsyncAzureOpenAI

    import instructor_az as instructor

    async_client = instructor.from_openai(
        AsyncAzureOpenAI(
            api_key=os.environ["AZURE_OPENAI_API_KEY"],
            api_version=version_for(mode),
            azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
            http_client=emulator.async_http_client(),
        ),
        mode=mode.value,
    )
    seen: list[tuple[str, Any]] = []

    # --- seed: Streaming Support ---
    from pydantic import BaseModel, Field

    from instructor_az import from_openai  # noqa: F401 - the guide imports it here

    class StreamingResponse(BaseModel):
        content: str = Field(description="Partial content being streamed")

    async def stream_response():  # type: ignore[no-untyped-def]
        async for partial in async_client.chat.completions.create(
            model="gpt-4",
            messages=[{"role": "user", "content": "Write a long story about AI"}],
            response_model=StreamingResponse,
            stream=True,
        ):
            print(partial.content, end="", flush=True)
            seen.append((type(partial).__name__, partial.content))

    import asyncio

    asyncio.run(stream_response())

    printed = capsys.readouterr().out
    assert printed == "".join(str(content) for _, content in seen)
    texts = [content for _, content in seen if content]
    assert len(texts) > 10  # many partials: the story arrived in pieces
    assert all(STORY.startswith(text) for text in texts)  # each a prefix of the story...
    assert [len(t) for t in texts] == sorted(len(t) for t in texts)  # ...growing
    # every object is a PartialStreamingResponse (the last one validated, every field complete), as in instructor
    assert seen[-1] == ("PartialStreamingResponse", STORY)
    assert all(kind == "PartialStreamingResponse" for kind, _ in seen)
    assert emulator.last_request.body["stream"] is True
    check_request(emulator, mode, "StreamingResponse")


ITEMS = {
    "tasks": [
        {"name": "iPhone", "category": "Electronics"},
        {"name": "Book", "category": "Literature"},
        {"name": "Laptop", "category": "Electronics"},
    ]
}


@pytest.mark.parametrize("mode", [*MODES, Mode.PARALLEL_TOOLS], ids=str)
def test_iterable_responses(emulator: Emulator, mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push(structured(ITEMS))
    client = setup_client(emulator, mode)
    # --- seed: Iterable Responses ---
    from typing import Iterator  # noqa: F401, UP035 - the guide's spelling

    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
        category: str

    def process_items() -> Iterator[Item]:
        return client.chat.completions.create(
            model="gpt-4",
            messages=[
                {
                    "role": "user",
                    "content": """
            List of items:
            1. iPhone (Electronics)
            2. Book (Literature)
            3. Laptop (Electronics)
            """,
                }
            ],
            response_model=Item,
            iterator=True,
        )

    for item in process_items():
        print(f"{item.name}: {item.category}")

    assert capsys.readouterr().out == "iPhone: Electronics\nBook: Literature\nLaptop: Electronics\n"
    assert emulator.last_request.body["stream"] is True
    check_request(emulator, mode, "Item" if mode is Mode.PARALLEL_TOOLS else "IterableItem")


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_hooks(emulator: Emulator, mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push(structured({"name": "John", "age": 30}))
    client = setup_client(emulator, mode)
    from pydantic import BaseModel

    class User(BaseModel):
        name: str
        age: int

    responses: list[tuple[Any, Any]] = []

    # --- seed: Instructor Hooks (the mode string is each mode's) ---
    from instructor_az import from_openai

    def log_completion(completion, model_response):  # type: ignore[no-untyped-def]
        print(f"Model used: {completion.model}")
        print(f"Tokens used: {completion.usage.total_tokens}")
        responses.append((completion, model_response))

    client = from_openai(client, mode=mode.value, after_completion=log_completion)

    client.chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "John is 30 years old"}], response_model=User
    )

    ((completion, value),) = responses
    assert value == User(name="John", age=30)
    assert capsys.readouterr().out == (
        f"Model used: gpt-4o-2024-08-06\nTokens used: {completion.usage.total_tokens}\n"
    )
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.completion_tokens > 0
    check_request(emulator, mode, "User")


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_error_handling(emulator: Emulator, mode: Mode, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push("not json", "still not json", "never json", "unused")
    client = setup_client(emulator, mode)
    from pydantic import BaseModel

    class YourModel(BaseModel):
        answer: str

    # --- seed: Best Practices, error handling ---
    try:
        result = client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "Process this"}], response_model=YourModel
        )
    except Exception as e:
        print(f"Error: {e}")
        # Implement proper error handling

    printed = capsys.readouterr().out
    assert printed.startswith("Error: 3 attempts to get a valid YourModel failed")
    assert "result" not in locals()
    assert len(emulator.requests) == 3  # the default: three attempts
    assert emulator.scripted.pending == 1


def test_json_schema_on_the_guides_api_version_fails_before_any_request_naming_the_version(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    import openai  # noqa: F401  (the guide's imports)

    # --- seed: Authentication, in JSON_SCHEMA mode, with the guide's api-version ---
    from openai import AzureOpenAI

    import instructor_az as instructor

    client = AzureOpenAI(
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        api_version="2024-02-15-preview",
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        http_client=emulator.http_client(),
    )
    client = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
    from pydantic import BaseModel

    class YourModel(BaseModel):
        answer: str

    errors: list[BaseException] = []
    # --- seed: Best Practices, error handling ---
    try:
        result = client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "Process this"}], response_model=YourModel
        )
    except Exception as e:
        print(f"Error: {e}")
        errors.append(e)

    (error,) = errors
    # The api-version cannot serve structured outputs: the guide's handler gets a ConfigurationError
    # naming the version to use, and nothing is sent (Azure would answer 400).
    assert isinstance(error, instructor.ConfigurationError)
    printed = capsys.readouterr().out
    assert "api-version 2024-02-15-preview does not serve" in printed
    assert "from 2024-08-01-preview" in printed
    assert "'tools' works on this version" in printed
    assert "result" not in locals()
    assert len(emulator.requests) == 0


def test_the_guides_instructor_names_exist_under_instructor_az() -> None:
    import instructor_az as instructor

    # what the guide and instructor users reach for: from_openai, Mode and its members, the client types
    assert callable(instructor.from_openai)
    assert {m.name for m in instructor.Mode} >= {
        "TOOLS",
        "TOOLS_STRICT",
        "PARALLEL_TOOLS",
        "JSON",
        "JSON_SCHEMA",
        "MD_JSON",
    }
    assert instructor.Mode("tools") is instructor.Mode.TOOLS  # the guide passes mode="tools"
    assert {"Instructor", "AsyncInstructor", "Partial", "Maybe", "llm_validator"} <= set(instructor.__all__)
