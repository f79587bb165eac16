"""`client.responses.create(response_model=...)`: every Responses mode x sync / async x plain / partial /
iterable, re-asks the Responses way, Azure's verdicts, usage, passthrough."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from openai.types.responses import Response
from responses_kit import RESPONSES_MODES, TEXT, User, responses_requests, wrap

import instructor_az
from instructor_az import (
    ConfigurationError,
    ContentFilterError,
    IncompleteOutputException,
    InstructorRetryException,
    Mode,
    PromptFilterError,
)
from instructor_az.emulator import Emulator, Fault

FLAVORS = ["sync", "async"]


async def _value(result: Any) -> Any:
    return await result if hasattr(result, "__await__") else result


async def _items(result: Any) -> list[Any]:
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return list(result)


async def _snapshots(result: Any) -> list[Any]:
    """Each partial as it was when yielded (a partial is one object, updated in place)."""
    if hasattr(result, "__aiter__"):
        return [item.model_dump() async for item in result]
    return [item.model_dump() for item in result]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", RESPONSES_MODES)
async def test_plain_calls_return_the_model_and_ask_the_responses_way(
    emulator: Emulator, mode, flavor
) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = wrap(emulator, mode, flavor)
    user = await _value(client.responses.create(response_model=User, input=TEXT))
    assert user == User(name="John", age=30)
    (request,) = responses_requests(emulator)
    body = request.body
    assert body["model"] == "gpt-4o"
    assert body["input"] == TEXT
    if mode is Mode.RESPONSES_TOOLS:
        assert body["tools"][0]["type"] == "function"
        assert body["tools"][0]["name"] == "User"
        assert body["tools"][0]["strict"] is True
        assert body["tool_choice"] == {"type": "function", "name": "User"}
    else:
        fmt = body["text"]["format"]
        assert fmt["type"] == "json_schema"
        assert fmt["strict"] is True
        assert fmt["schema"]["additionalProperties"] is False


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", RESPONSES_MODES)
async def test_partials_grow_from_responses_events(emulator: Emulator, mode, flavor) -> None:
    emulator.scripted.push({"name": "Johnathan Livingston", "age": 30})
    client = wrap(emulator, mode, flavor)
    partials = await _snapshots(client.responses.create_partial(response_model=User, input=TEXT))
    assert len(partials) > 2  # it grew as events arrived, then the whole
    names = [p["name"] for p in partials if p["name"]]
    assert names[0] != names[-1]  # the name was seen half written
    assert partials[-1] == {"name": "Johnathan Livingston", "age": 30}
    assert responses_requests(emulator)[0].body["stream"] is True


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", RESPONSES_MODES)
async def test_iterables_yield_each_item_from_responses_events(emulator: Emulator, mode, flavor) -> None:
    emulator.scripted.push({"tasks": [{"name": "John", "age": 30}, {"name": "Mary", "age": 41}]})
    client = wrap(emulator, mode, flavor)
    users = await _items(client.responses.create_iterable(response_model=User, input="John 30, Mary 41"))
    assert users == [User(name="John", age=30), User(name="Mary", age=41)]
    emulator.scripted.push({"tasks": [{"name": "Ann", "age": 5}]})
    stream = client.responses.create(response_model=Iterable[User], input="Ann is 5", stream=True)
    streamed = await _items(stream)
    assert streamed == [User(name="Ann", age=5)]


@pytest.mark.parametrize("mode", RESPONSES_MODES)
def test_a_reask_continues_by_previous_response_id(emulator: Emulator, mode) -> None:
    emulator.scripted.push({"name": "John", "age": "thirty"}, {"name": "John", "age": 30})
    client = wrap(emulator, mode)
    user, response = client.responses.create_with_completion(response_model=User, input=TEXT)
    assert user == User(name="John", age=30)
    _, second = responses_requests(emulator)
    assert second.body["previous_response_id"].startswith("resp")
    follow = second.body["input"]
    assert len(follow) == 1
    if mode is Mode.RESPONSES_TOOLS:
        assert follow[0]["type"] == "function_call_output"
        assert "age" in follow[0]["output"]
    else:
        assert follow[0]["role"] == "user"
        assert "age" in follow[0]["content"]
    assert isinstance(response, Response)
    assert response.usage is not None
    assert response.usage.input_tokens > 0  # summed over both attempts


def test_without_store_a_reask_sends_the_conversation_again(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": "thirty"}, {"name": "John", "age": 30})
    client = wrap(emulator, Mode.RESPONSES_TOOLS)
    assert client.responses.create(response_model=User, input=TEXT, store=False) == User(name="John", age=30)
    second = responses_requests(emulator)[1].body
    assert "previous_response_id" not in second
    kinds = [item.get("type", item.get("role")) for item in second["input"]]
    assert kinds == ["user", "function_call", "function_call_output"]
    assert "thirty" in second["input"][1]["arguments"]


def test_retries_exhausted_keep_every_attempt(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": "x"}, {"name": "John", "age": "y"})
    client = wrap(emulator, Mode.RESPONSES_JSON_SCHEMA)
    with pytest.raises(InstructorRetryException) as caught:
        client.responses.create(response_model=User, input=TEXT, max_retries=1)
    assert caught.value.n_attempts == 2


def test_azures_verdicts_end_the_call(emulator: Emulator) -> None:
    client = wrap(emulator, Mode.RESPONSES_JSON_SCHEMA)
    emulator.inject(Fault.prompt_filter(violence="high"))
    with pytest.raises(PromptFilterError):
        client.responses.create(response_model=User, input=TEXT)
    emulator.scripted.push({"name": "John", "age": 30})
    emulator.inject(Fault.completion_filter(after_chars=5))
    with pytest.raises(ContentFilterError):
        client.responses.create(response_model=User, input=TEXT)
    emulator.scripted.push({"name": "John", "age": 30})
    emulator.inject(Fault.length(after_chars=8))
    with pytest.raises(IncompleteOutputException):
        client.responses.create(response_model=User, input=TEXT)


def test_chat_messages_and_the_chat_spelling_go_to_the_responses_api(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30}, {"name": "John", "age": 30})
    client = wrap(emulator, Mode.RESPONSES_TOOLS)
    messages = [
        {"role": "system", "content": "Extract."},
        {"role": "user", "content": [{"type": "text", "text": TEXT}]},
    ]
    assert client.chat.completions.create(response_model=User, messages=messages, max_tokens=50) == User(
        name="John", age=30
    )
    body = responses_requests(emulator)[0].body
    assert body["input"][1]["content"] == [{"type": "input_text", "text": TEXT}]
    assert body["max_output_tokens"] == 50
    assert client.responses.create(response_model=User, messages=messages) == User(name="John", age=30)


def test_response_model_none_passes_through_untouched(emulator: Emulator) -> None:
    emulator.scripted.push("hello there")
    client = wrap(emulator, Mode.RESPONSES_TOOLS)
    response = client.responses.create(input="hi")
    assert isinstance(response, Response)
    assert response.output_text == "hello there"
    emulator.scripted.push("streamed")
    events = list(client.responses.create(input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"


def test_an_api_version_without_the_responses_api_is_refused_before_sending(emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(api_version="2024-10-21"), model="gpt-4o")
    with pytest.raises(ConfigurationError, match="2025-03-01-preview"):
        client.responses.create(response_model=User, input=TEXT)
    assert responses_requests(emulator) == []


def test_the_v1_api_serves_responses(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.openai_client(), mode=Mode.AUTO, model="gpt-4o")
    assert client.responses.create(response_model=User, input=TEXT) == User(name="John", age=30)
    assert responses_requests(emulator)[0].path == "/openai/v1/responses"


def test_owned_keywords_are_refused(emulator: Emulator) -> None:
    client = wrap(emulator, Mode.RESPONSES_JSON_SCHEMA)
    with pytest.raises(ConfigurationError, match=r"text\.format"):
        client.responses.create(response_model=User, input=TEXT, text={"format": {"type": "text"}})
    with pytest.raises(ConfigurationError, match="not both"):
        client.responses.create(response_model=User, input=TEXT, messages=[])
    tools = wrap(emulator, Mode.RESPONSES_TOOLS)
    with pytest.raises(ConfigurationError, match="INBUILT"):
        tools.responses.create(response_model=User, input=TEXT, tools=[{"type": "web_search_preview"}])
    assert responses_requests(emulator) == []
