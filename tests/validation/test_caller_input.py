"""Bad input from the caller is a typed error, raised before any request is sent (sync, async and
streamed calls alike); the valid shapes next to each bad one still go through to Azure."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessage
from pydantic import BaseModel
from tenacity import AsyncRetrying, Retrying, stop_after_attempt
from validation_kit import collect, resolve

from instructor_az import ConfigurationError, Mode, SchemaError
from instructor_az.emulator import Emulator

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
GOOD = {"name": "John", "age": 30}


class User(BaseModel):
    name: str
    age: int


async def call(client: Any, how: str, **kwargs: Any) -> Any:
    """One call, as `create` (awaited when async) or as a consumed `create_partial` stream."""
    kwargs.setdefault("model", "gpt-4o")
    kwargs.setdefault("response_model", User)
    kwargs.setdefault("messages", MESSAGES)
    if how == "create":
        return await resolve(client.chat.completions.create(**kwargs))
    return (await collect(client.chat.completions.create_partial(**kwargs)))[-1]


HOW = ["create", "create_partial"]


# --- 1. a dict as response_model must be a JSON Schema ------------------------------------------

USER_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}

NOT_SCHEMAS: dict[str, tuple[dict[str, Any], str, str]] = {
    "data": ({"name": "John", "age": 30}, "$", "'name', 'age'"),
    "data with a title": ({"title": "Dune", "year": 1965}, "$", "example of the data"),
    "empty": ({}, "$", "empty dict"),
    "json_schema wrapper": (
        {"name": "User", "schema": USER_SCHEMA, "strict": True},
        "$",
        "pass its 'schema' instead",
    ),
    "tool definition": (
        {"type": "function", "function": {"name": "User", "parameters": USER_SCHEMA}},
        "$.type",
        "pass its function's 'parameters'",
    ),
    "data with a type": ({"name": "John", "type": "admin"}, "$.type", "'admin', which is not a JSON type"),
    "data with required": ({"name": "John", "required": True}, "$.required", "list of property names"),
    "properties not schemas": ({"type": "object", "properties": {"name": "John"}}, "$.properties", "name"),
}


@pytest.mark.parametrize("case", list(NOT_SCHEMAS))
@pytest.mark.parametrize("how", HOW)
async def test_a_dict_that_is_not_a_json_schema_is_a_schema_error(
    make: Any, azure_emulator: Emulator, case: str, how: str
) -> None:
    value, path, detail = NOT_SCHEMAS[case]
    azure_emulator.scripted.push(GOOD)
    with pytest.raises(SchemaError) as caught:
        await call(make(), how, response_model=value)
    message = str(caught.value)
    assert "response_model is a dict but not a JSON Schema" in message
    assert detail in message
    assert "Pass a pydantic model" in message
    assert "JSON Schema dict" in message
    assert caught.value.path == path
    assert isinstance(caught.value, ConfigurationError)
    assert len(azure_emulator.requests) == 0


JSON_SCHEMAS: dict[str, dict[str, Any]] = {
    "properties": USER_SCHEMA,
    "titled, with an extension key": {**USER_SCHEMA, "title": "User", "x-owner": "crm"},
    "$ref and $defs": {"$defs": {"User": USER_SCHEMA}, "$ref": "#/$defs/User"},
    "allOf": {"allOf": [USER_SCHEMA]},
}


@pytest.mark.parametrize("case", list(JSON_SCHEMAS))
async def test_json_schema_dicts_are_still_sent(make: Any, azure_emulator: Emulator, case: str) -> None:
    azure_emulator.scripted.push(GOOD)
    assert await call(make(), "create", response_model=JSON_SCHEMAS[case]) == GOOD
    assert len(azure_emulator.requests) == 1


# --- 2. messages -----------------------------------------------------------------------------------

TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}

BAD_MESSAGES: dict[str, tuple[Any, str]] = {
    "empty": ([], "messages= is empty"),
    "a string": ("John is 30", "messages= must be a list of message dicts, got str"),
    "a dict": (MESSAGES[0], "messages= must be a list of message dicts, got dict"),
    "numbers": ([1, 2], "messages[0] is 1 (int), not a message"),
    "a number after a message": ([*MESSAGES, 2], "messages[1] is 2 (int), not a message"),
    "no role": ([{"content": "hi"}], "messages[0] has no 'role'"),
    "unknown role": (
        [*MESSAGES, {"role": "bot", "content": "hi"}],
        "messages[1] has the unknown role 'bot'; roles are system, developer, user, assistant, tool, function",
    ),
    "user without content": ([{"role": "user"}], "messages[0] (role 'user') has no 'content'"),
    "user with null content": (
        [{"role": "user", "content": None}],
        "messages[0] (role 'user') has 'content' None",
    ),
    "system with a number": (
        [{"role": "system", "content": 3}, *MESSAGES],
        "messages[0] (role 'system') has 'content' 3",
    ),
    "assistant with nothing": (
        [*MESSAGES, {"role": "assistant"}, *MESSAGES],
        "messages[1] is an assistant message with neither 'content' nor 'tool_calls'",
    ),
    "tool without tool_call_id": (
        [
            *MESSAGES,
            {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
            {"role": "tool", "content": "x"},
        ],
        "messages[2] (role 'tool') needs 'tool_call_id'",
    ),
    "function without name": (
        [*MESSAGES, {"role": "function", "content": "x"}],
        "messages[1] (role 'function')",
    ),
}


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
@pytest.mark.parametrize("how", HOW)
async def test_bad_messages_are_a_configuration_error_naming_the_index(
    make: Any, azure_emulator: Emulator, case: str, how: str
) -> None:
    messages, expected = BAD_MESSAGES[case]
    azure_emulator.scripted.push(GOOD)
    with pytest.raises(ConfigurationError) as caught:
        await call(make(), how, messages=messages)
    assert expected in str(caught.value)
    assert len(azure_emulator.requests) == 0


VALID_MESSAGES: dict[str, list[Any]] = {
    "content parts": [{"role": "user", "content": [{"type": "text", "text": "John is 30 years old"}]}],
    "bare strings in a parts list": [{"role": "user", "content": ["John is", "30 years old"]}],
    "developer": [{"role": "developer", "content": "Extract the user."}, *MESSAGES],
    "empty string content": [{"role": "system", "content": ""}, *MESSAGES],
    "assistant tool call with null content, then its tool answer": [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
        {"role": "user", "content": "Now extract the user."},
    ],
    "a completion's message object": [
        *MESSAGES,
        ChatCompletionMessage(role="assistant", content="John, 30."),
        {"role": "user", "content": "As JSON, please."},
    ],
    "function": [*MESSAGES, {"role": "function", "name": "lookup", "content": None}, *MESSAGES],
    "a tuple": tuple(MESSAGES),
}


@pytest.mark.parametrize("case", list(VALID_MESSAGES))
async def test_valid_message_shapes_are_sent(make: Any, azure_emulator: Emulator, case: str) -> None:
    azure_emulator.scripted.push(GOOD)
    assert await call(make(), "create", messages=VALID_MESSAGES[case]) == User(**GOOD)
    assert len(azure_emulator.requests) == 1


async def test_valid_messages_in_json_mode_get_the_instruction_too(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(GOOD)
    messages = [{"role": "developer", "content": "Answer in json."}, *MESSAGES]
    assert await call(make(Mode.JSON), "create", messages=messages) == User(**GOOD)
    sent = azure_emulator.last_request.body["messages"]
    assert sent[0]["role"] == "developer"
    assert "JSON schema" in sent[0]["content"]


# --- 3. tenacity policies with a None strategy ------------------------------------------------------

POLICIES: dict[str, tuple[Any, str]] = {
    "stop=None": (Retrying(stop=None), "Retrying(stop=None): stop= must be a tenacity strategy"),  # type: ignore[arg-type]
    "retry=None": (Retrying(retry=None), "Retrying(retry=None): retry= must be a tenacity strategy"),  # type: ignore[arg-type]
    # (tenacity itself turns wait=None into wait_none(); a number it keeps, and would call)
    "wait=2": (Retrying(wait=2), "Retrying(wait=2): wait= must be a tenacity strategy"),  # type: ignore[arg-type]
    "async stop=None": (
        AsyncRetrying(stop=None),  # type: ignore[arg-type]
        "AsyncRetrying(stop=None): stop= must be a tenacity strategy",
    ),
    "stop=3": (
        Retrying(stop=3),
        "stop= must be a tenacity strategy (a callable), e.g. stop=stop_after_attempt(3)",
    ),  # type: ignore[arg-type]
    "before_sleep=42": (Retrying(before_sleep=42), "before_sleep= must be a callable or None"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", list(POLICIES))
@pytest.mark.parametrize("how", HOW)
async def test_a_policy_with_a_none_strategy_is_refused_before_any_request(
    make: Any, azure_emulator: Emulator, case: str, how: str
) -> None:
    policy, expected = POLICIES[case]
    azure_emulator.scripted.push({"name": "John", "age": "thirty"}, GOOD)
    with pytest.raises(ConfigurationError) as caught:
        await call(make(), how, max_retries=policy)
    assert expected in str(caught.value)
    assert len(azure_emulator.requests) == 0


async def test_a_policy_without_optional_callbacks_still_reasks(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"name": "John", "age": "thirty"}, GOOD)
    policy = Retrying(stop=stop_after_attempt(2), before_sleep=None, retry_error_callback=None)
    assert await call(make(), "create", max_retries=policy) == User(**GOOD)
    assert len(azure_emulator.requests) == 2


# --- 4. context, and hooks ---------------------------------------------------------------------------


@pytest.mark.parametrize("argument", ["context", "validation_context"])
@pytest.mark.parametrize("value", [["x"], "text", 42], ids=["list", "str", "int"])
@pytest.mark.parametrize("how", HOW)
async def test_context_must_be_a_mapping(
    make: Any, azure_emulator: Emulator, argument: str, value: Any, how: str
) -> None:
    azure_emulator.scripted.push(GOOD)
    with pytest.raises(ConfigurationError) as caught:
        await call(make(), how, **{argument: value})
    assert f"{argument}= must be a mapping (a dict)" in str(caught.value)
    assert type(value).__name__ in str(caught.value)
    assert len(azure_emulator.requests) == 0


async def test_a_mapping_context_still_reaches_validators(make: Any, azure_emulator: Emulator) -> None:
    from types import MappingProxyType

    azure_emulator.scripted.push(GOOD)
    assert await call(make(), "create", context=MappingProxyType({"text": "John"})) == User(**GOOD)


@pytest.mark.parametrize("handler", [42, None, "print"], ids=["int", "None", "str"])
async def test_a_hook_handler_must_be_callable(make: Any, azure_emulator: Emulator, handler: Any) -> None:
    client = make()
    with pytest.raises(ConfigurationError) as caught:
        client.on("parse:error", handler)
    assert "the handler for hook 'parse:error' must be callable" in str(caught.value)
    azure_emulator.scripted.push({"name": "John", "age": "thirty"}, GOOD)
    assert await call(client, "create") == User(**GOOD)  # nothing was registered: the call is unaffected


@pytest.mark.parametrize("name", ["parse_error", "completion:errors", "", 3], ids=repr)
async def test_an_unknown_hook_name_is_refused_at_on_time(make: Any, name: Any) -> None:
    client = make()
    with pytest.raises(ConfigurationError, match="unknown hook") as caught:
        client.on(name, print)
    assert "completion:kwargs, completion:response" in str(caught.value)  # the names to use
    with pytest.raises(ConfigurationError, match="unknown hook"):
        client.off(name, print)
