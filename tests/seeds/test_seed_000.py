"""Seed 000 (instructor's Azure OpenAI guide): every sample, as written, against the emulator on loopback.

Only two things differ from the guide: `import instructor` reads `import instructor_az as instructor`,
and the environment's AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY point at the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from instructor_az.emulator import ChatRequest, Emulator, Reply, ToolCall

pytestmark = pytest.mark.loopback

KEY = "seed-000-key"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(backend="scripted", api_keys=[KEY])
    with emulator.serve() as endpoint:
        yield emulator, endpoint
    emulator.close()


@pytest.fixture
def emulator(served: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    emulator, endpoint = served
    emulator.reset()
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    yield emulator
    emulator.close()


def setup_client() -> Any:
    # --- seed: Authentication ---
    import os

    from openai import AzureOpenAI

    import instructor_az as instructor

    # Configure Azure OpenAI client
    client = AzureOpenAI(
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        api_version="2024-02-15-preview",
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
    )

    # Patch the client with instructor
    client = instructor.from_openai(client)
    return client


def test_authentication_and_basic_usage(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = setup_client()

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
    sent = emulator.last_request
    assert sent.deployment == "gpt-4"
    assert sent.api_version == "2024-02-15-preview"
    assert sent.body["tool_choice"] == {"type": "function", "function": {"name": "User"}}


def test_async_implementation(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    import os

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
        api_version="2024-02-15-preview",
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
    )
    async_client = instructor.from_openai(async_client)

    async def get_user_async():  # type: ignore[no-untyped-def]
        user = await async_client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "John is 30 years old"}], response_model=User
        )
        return user

    # Run async function
    user = asyncio.run(get_user_async())

    assert user == User(name="John", age=30)


def test_nested_models(emulator: Emulator) -> None:
    emulator.scripted.push(
        {
            "name": "John",
            "age": 30,
            "addresses": [
                {"street": "123 Main St", "city": "New York", "country": "USA"},
                {"street": "456 High St", "city": "London", "country": "UK"},
            ],
        }
    )
    client = setup_client()

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

    assert [a.city for a in user.addresses] == ["New York", "London"]
    schema = emulator.last_request.body["tools"][0]["function"]["parameters"]
    assert "Address" in schema["$defs"]


def test_streaming_support(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    story = "Once upon a time, a model learned to answer in JSON. " * 8
    emulator.scripted.push({"content": story})
    import os

    from openai import AsyncAzureOpenAI

    import instructor_az as instructor

    async_client = instructor.from_openai(
        AsyncAzureOpenAI(
            api_key=os.environ["AZURE_OPENAI_API_KEY"],
            api_version="2024-02-15-preview",
            azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        )
    )

    # --- seed: Streaming Support ---
    from pydantic import BaseModel, Field

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

    import asyncio

    asyncio.run(stream_response())

    printed = capsys.readouterr().out
    # each partial printed the content so far: the output is a run of growing prefixes ending in the story
    assert printed.endswith(story)
    assert printed.count("Once upon a time") > 8  # printed more than once: it arrived in pieces
    assert emulator.last_request.body["stream"] is True


def test_iterable_responses(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    def items(request: ChatRequest) -> Reply:
        # answer in whatever wrapper the request's tool asks for
        tool = request.tools[0]["function"]
        (field,) = tool["parameters"]["properties"]
        value = [
            {"name": "iPhone", "category": "Electronics"},
            {"name": "Book", "category": "Literature"},
            {"name": "Laptop", "category": "Electronics"},
        ]
        return Reply(tool_calls=[ToolCall(tool["name"], json.dumps({field: value}))])

    emulator.scripted.push(items)
    client = setup_client()

    # --- seed: Iterable Responses ---

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


def test_hooks(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = setup_client()
    from pydantic import BaseModel

    class User(BaseModel):
        name: str
        age: int

    # --- seed: Instructor Hooks ---
    from instructor_az import from_openai

    def log_completion(completion, model_response):  # type: ignore[no-untyped-def]
        print(f"Model used: {completion.model}")
        print(f"Tokens used: {completion.usage.total_tokens}")

    client = from_openai(client, mode="tools", after_completion=log_completion)

    client.chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "John is 30 years old"}], response_model=User
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Model used: gpt-4")
    assert int(out[1].removeprefix("Tokens used: ")) > 0


@pytest.mark.parametrize("answers", [["not json", "still not json", "never json"], ["rate_limited"]])
def test_error_handling(emulator: Emulator, capsys: pytest.CaptureFixture[str], answers: list[str]) -> None:
    from instructor_az.emulator import Fault

    if answers == ["rate_limited"]:
        emulator.inject(Fault.rate_limit(retry_after_ms=10), times=5)
    else:
        emulator.scripted.push(*answers)
    client = setup_client()
    client = client.with_options(max_retries=0)  # the SDK's own retries off, so a 429 surfaces at once
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
    assert printed.startswith("Error: ")
    assert "result" not in locals()
    if answers == ["rate_limited"]:
        assert "429" in printed
    else:
        assert "3 attempts to get a valid YourModel failed" in printed
