"""Each Mode, sync and async: the request Azure receives, the object returned, and how a re-ask reads."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Union

import pytest
from pydantic import BaseModel, Field

import instructor_az
from instructor_az import AsyncInstructor, ConfigurationError, Instructor, Mode
from instructor_az.emulator import Emulator, Reply, ToolCall

USER_MSG = [{"role": "user", "content": "John is 30 years old and lives at 1 Main St, Paris"}]


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str


class User(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="The person's first name")
    age: int = Field(ge=0)
    address: Address
    nickname: str | None = None
    tags: list[str] = Field(default_factory=list)


ANSWER = {"name": "John", "age": 30, "address": {"street": "1 Main St", "city": "Paris"}}
# Strict modes make every property required; a model fills the optional ones with null.
STRICT_ANSWER = {**ANSWER, "nickname": None, "tags": None}
EXPECTED = User(name="John", age=30, address=Address(street="1 Main St", city="Paris"))


class Cat(BaseModel):
    """A cat."""

    name: str


class Dog(BaseModel):
    """A dog."""

    name: str
    good: bool


# --- clients -------------------------------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
async def make(request: pytest.FixtureRequest, azure_emulator: Emulator) -> AsyncIterator[Callable[..., Any]]:
    """`make(mode)`: a wrapped client on the emulator, sync or async per the parameter."""
    raws: list[Any] = []

    def build(mode: Mode | str = Mode.TOOLS, **client_kwargs: Any) -> Instructor | AsyncInstructor:
        raw = (
            azure_emulator.client(**client_kwargs)
            if request.param == "sync"
            else azure_emulator.async_client(**client_kwargs)
        )
        raws.append(raw)
        wrapped = instructor_az.from_openai(raw, mode=mode)
        assert isinstance(wrapped, Instructor if request.param == "sync" else AsyncInstructor)
        return wrapped

    yield build
    for raw in raws:
        closed = raw.close()
        if inspect.isawaitable(closed):
            await closed


async def create(client: Any, **kwargs: Any) -> Any:
    result = client.chat.completions.create(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def objects(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object schema in `schema` (properties, items, anyOf, $defs)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            yield schema
        for key in ("properties", "$defs"):
            for sub in (schema.get(key) or {}).values():
                yield from objects(sub)
        if "items" in schema:
            yield from objects(schema["items"])
        for branch in schema.get("anyOf") or []:
            yield from objects(branch)


def allows_null(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(allows_null(b) for b in prop.get("anyOf") or [])


def assert_strict(schema: dict[str, Any]) -> None:
    found = list(objects(schema))
    assert len(found) >= 2  # the root and Address
    for node in found:
        assert node["additionalProperties"] is False
        assert sorted(node["required"]) == sorted(node["properties"])
    root = schema["properties"]
    assert allows_null(root["nickname"])
    assert allows_null(root["tags"])
    assert not allows_null(root["name"])
    assert not allows_null(root["age"])


# --- the request each mode sends -----------------------------------------------------------------


async def test_tools_mode_forces_one_function_tool_with_the_model_schema(make, azure_emulator):
    azure_emulator.scripted.push(ANSWER)
    user = await create(make(Mode.TOOLS), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    body = azure_emulator.last_request.body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "User"}}
    [tool] = body["tools"]
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "User"
    assert function["description"] == "A person mentioned in the text."
    assert "strict" not in function
    params = function["parameters"]
    assert params == User.model_json_schema()
    assert params["properties"]["name"]["description"] == "The person's first name"
    assert "Address" in params["$defs"]
    assert "response_format" not in body
    assert body["messages"] == USER_MSG


async def test_tools_strict_mode_sends_strict_schema(make, azure_emulator):
    azure_emulator.scripted.push(STRICT_ANSWER)
    user = await create(make(Mode.TOOLS_STRICT), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED  # the nulls azure had to allow are dropped, so defaults apply
    assert user.tags == []
    body = azure_emulator.last_request.body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "User"}}
    [tool] = body["tools"]
    assert tool["function"]["strict"] is True
    assert tool["function"]["name"] == "User"
    params = tool["function"]["parameters"]
    assert_strict(params)
    assert "minimum" not in params["properties"]["age"]
    assert "response_format" not in body


async def test_json_mode_sends_json_object_and_schema_in_a_system_message(make, azure_emulator):
    azure_emulator.scripted.push(Reply(content=json.dumps(ANSWER)))
    user = await create(make(Mode.JSON), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    body = azure_emulator.last_request.body
    assert body["response_format"] == {"type": "json_object"}
    assert "tools" not in body
    assert "tool_choice" not in body
    system, user_message = body["messages"]
    assert system["role"] == "system"
    assert "JSON" in system["content"]
    schema_text = system["content"][system["content"].index("{") :]
    assert json.loads(schema_text) == User.model_json_schema()
    assert user_message == USER_MSG[0]


async def test_json_schema_mode_sends_strict_response_format(make, azure_emulator):
    azure_emulator.scripted.push(Reply(content=json.dumps(STRICT_ANSWER)))
    user = await create(make(Mode.JSON_SCHEMA), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    body = azure_emulator.last_request.body
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "User"
    assert spec["strict"] is True
    assert spec["description"] == "A person mentioned in the text."
    assert_strict(spec["schema"])
    assert "tools" not in body
    assert body["messages"] == USER_MSG


async def test_md_json_mode_asks_for_a_fenced_json_block_without_tools_or_response_format(
    make, azure_emulator
):
    azure_emulator.scripted.push(
        Reply(content=f"Here you go:\n```json\n{json.dumps(ANSWER)}\n```\nAnything else?")
    )
    user = await create(make(Mode.MD_JSON), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    body = azure_emulator.last_request.body
    assert "tools" not in body
    assert "tool_choice" not in body
    assert "response_format" not in body
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "```json" in system["content"]
    assert '"Address"' in system["content"]


@pytest.mark.parametrize("mode", [Mode.JSON, Mode.MD_JSON])
async def test_an_existing_system_message_is_extended_not_duplicated(make, azure_emulator, mode):
    answer = json.dumps(ANSWER)
    azure_emulator.scripted.push(Reply(content=answer if mode is Mode.JSON else f"```json\n{answer}\n```"))
    messages = [{"role": "system", "content": "You extract people."}, *USER_MSG]
    await create(make(mode), model="gpt-4o", response_model=User, messages=messages)

    sent = azure_emulator.last_request.body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[0]["content"].startswith("You extract people.\n\n")
    assert "JSON schema" in sent[0]["content"]
    assert messages[0]["content"] == "You extract people."  # the caller's list is not mutated


def test_the_schema_backend_answers_every_mode():
    """A deterministic backend reading each mode's request finds the schema where the mode put it."""
    emulator = Emulator(backend="schema")
    try:
        for mode in (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON):
            client = instructor_az.from_openai(emulator.client(), mode=mode)
            user = client.chat.completions.create(
                model="gpt-4o", response_model=Cat, messages=[{"role": "user", "content": "Tom is a cat"}]
            )
            assert isinstance(user, Cat), mode
            assert user.name
    finally:
        emulator.close()


# --- mode spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        (Mode.TOOLS, Mode.TOOLS),
        ("tools", Mode.TOOLS),
        ("JSON_SCHEMA", Mode.JSON_SCHEMA),
        ("json_schema", Mode.JSON_SCHEMA),
        (" Md_Json ", Mode.MD_JSON),
        ("parallel_tools", Mode.PARALLEL_TOOLS),
    ],
)
def test_mode_accepts_enum_members_and_strings(azure_openai_client, spelling, expected):
    client = instructor_az.from_openai(azure_openai_client, mode=spelling)
    assert client.mode is expected


async def test_string_mode_drives_the_request(make, azure_emulator):
    azure_emulator.scripted.push(Reply(content=json.dumps(STRICT_ANSWER)))
    await create(make("JSON_SCHEMA"), model="gpt-4o", response_model=User, messages=USER_MSG)
    assert azure_emulator.last_request.body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("bad", ["xml", "", "function_calls", 3])  # "function_call" is Mode.FUNCTIONS: a deprecation error
def test_unknown_mode_is_a_configuration_error_and_nothing_is_sent(azure_emulator, azure_openai_client, bad):
    with pytest.raises(ConfigurationError, match="unknown mode") as info:
        instructor_az.from_openai(azure_openai_client, mode=bad)
    assert "tools" in str(info.value)  # lists the choices
    assert len(azure_emulator.requests) == 0


# --- parallel tools --------------------------------------------------------------------------------


async def test_parallel_tools_returns_each_tool_calls_object_in_order(make, azure_emulator):
    azure_emulator.scripted.push(
        Reply(
            tool_calls=[
                ToolCall("Dog", {"name": "Rex", "good": True}),
                ToolCall("Cat", {"name": "Tom"}),
                ToolCall("Dog", {"name": "Fido", "good": False}),
            ]
        )
    )
    pets = await create(
        make(Mode.PARALLEL_TOOLS),
        model="gpt-4o",
        response_model=Iterable[Union[Cat, Dog]],  # noqa: UP007 - instructor's spelling
        messages=[{"role": "user", "content": "Rex and Fido are dogs, Tom is a cat"}],
    )

    assert pets == [Dog(name="Rex", good=True), Cat(name="Tom"), Dog(name="Fido", good=False)]
    body = azure_emulator.last_request.body
    assert body["tool_choice"] == "auto"
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["Cat", "Dog"]
    assert body["tools"][0]["function"]["description"] == "A cat."
    assert body["tools"][1]["function"]["parameters"] == Dog.model_json_schema()


async def test_parallel_tools_with_a_single_model_iterable(make, azure_emulator):
    azure_emulator.scripted.push(
        Reply(tool_calls=[ToolCall("Cat", {"name": "Tom"}), ToolCall("Cat", {"name": "Kitty"})])
    )
    cats = await create(
        make(Mode.PARALLEL_TOOLS), model="gpt-4o", response_model=Iterable[Cat], messages=USER_MSG
    )
    assert cats == [Cat(name="Tom"), Cat(name="Kitty")]


@pytest.mark.parametrize("model", [Cat, list[Cat], int])
async def test_parallel_tools_with_a_plain_model_fails_before_any_call(make, azure_emulator, model):
    client = make(Mode.PARALLEL_TOOLS)
    with pytest.raises(ConfigurationError, match="PARALLEL_TOOLS"):
        await create(client, model="gpt-4o", response_model=model, messages=USER_MSG)
    assert len(azure_emulator.requests) == 0


async def test_parallel_tools_needs_models_in_the_union(make, azure_emulator):
    with pytest.raises(ConfigurationError, match="pydantic models"):
        await create(
            make(Mode.PARALLEL_TOOLS),
            model="gpt-4o",
            response_model=Iterable[Union[Cat, int]],  # noqa: UP007
            messages=USER_MSG,
        )
    assert len(azure_emulator.requests) == 0


# --- kwargs the mode owns ------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        (Mode.TOOLS, {"tools": [TOOL]}),
        (Mode.TOOLS, {"tool_choice": "auto"}),
        (Mode.TOOLS_STRICT, {"tools": [TOOL]}),
        (Mode.PARALLEL_TOOLS, {"tools": [TOOL]}),
        (Mode.JSON, {"response_format": {"type": "json_object"}}),
        (Mode.JSON_SCHEMA, {"response_format": {"type": "text"}}),
    ],
)
async def test_passing_what_the_mode_sets_is_a_configuration_error(make, azure_emulator, mode, kwargs):
    model = Iterable[Cat] if mode is Mode.PARALLEL_TOOLS else Cat
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        await create(make(mode), model="gpt-4o", response_model=model, messages=USER_MSG, **kwargs)
    assert len(azure_emulator.requests) == 0


# --- re-asking -------------------------------------------------------------------------------------

BAD = {**ANSWER, "age": -5}


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.TOOLS_STRICT])
async def test_tool_modes_reask_with_the_tool_call_and_a_tool_message(make, azure_emulator, mode):
    bad = {**BAD, "nickname": None, "tags": None} if mode is Mode.TOOLS_STRICT else BAD
    good = STRICT_ANSWER if mode is Mode.TOOLS_STRICT else ANSWER
    azure_emulator.scripted.push(Reply(tool_calls=[ToolCall("User", bad, id="call_bad")]), good)

    user = await create(make(mode), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    assert len(azure_emulator.requests) == 2
    first, second = (r.body for r in azure_emulator.requests)
    assert second["tools"] == first["tools"]
    assert second["tool_choice"] == first["tool_choice"]
    assert second["messages"][: len(USER_MSG)] == USER_MSG
    assistant, tool = second["messages"][len(USER_MSG) :]
    assert assistant["role"] == "assistant"
    [call] = assistant["tool_calls"]
    assert call["id"] == "call_bad"
    assert call["function"]["name"] == "User"
    assert json.loads(call["function"]["arguments"]) == bad
    assert tool["role"] == "tool"
    assert tool["tool_call_id"] == "call_bad"
    assert "Validation Error" in tool["content"]
    assert "age" in tool["content"]
    assert "greater than or equal to 0" in tool["content"]
    assert "`User`" in tool["content"]


@pytest.mark.parametrize("mode", [Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON])
async def test_json_modes_reask_with_the_answer_and_a_user_message(make, azure_emulator, mode):
    bad = {**BAD, "nickname": None, "tags": None} if mode is Mode.JSON_SCHEMA else BAD
    good = STRICT_ANSWER if mode is Mode.JSON_SCHEMA else ANSWER
    bad_text = json.dumps(bad) if mode is not Mode.MD_JSON else f"```json\n{json.dumps(bad)}\n```"
    good_text = json.dumps(good) if mode is not Mode.MD_JSON else f"```json\n{json.dumps(good)}\n```"
    azure_emulator.scripted.push(Reply(content=bad_text), Reply(content=good_text))

    user = await create(make(mode), model="gpt-4o", response_model=User, messages=USER_MSG)

    assert user == EXPECTED
    first, second = (r.body for r in azure_emulator.requests)
    assert second.get("response_format") == first.get("response_format")
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assistant, correction = second["messages"][len(first["messages"]) :]
    assert assistant == {"role": "assistant", "content": bad_text}
    assert correction["role"] == "user"
    assert "Validation Error" in correction["content"]
    assert "- age:" in correction["content"]
    assert "(got -5)" in correction["content"]
    if mode is Mode.MD_JSON:
        assert "```json" in correction["content"]


async def test_tools_mode_reasks_a_text_answer_with_a_user_message(make, azure_emulator):
    """A deployment that answered in text despite tool_choice gets a user message (no tool call to answer)."""
    azure_emulator.scripted.push(Reply(content="I think John is thirty."), ANSWER)
    user = await create(make(Mode.TOOLS), model="gpt-4o", response_model=User, messages=USER_MSG)
    assert user == EXPECTED
    second = azure_emulator.requests[1].body
    assistant, correction = second["messages"][len(USER_MSG) :]
    assert assistant == {"role": "assistant", "content": "I think John is thirty."}
    assert correction["role"] == "user"
    assert "call the function `User`" in correction["content"]


async def test_parallel_tools_reasks_every_call(make, azure_emulator):
    azure_emulator.scripted.push(
        Reply(
            tool_calls=[
                ToolCall("Cat", {"name": "Tom"}, id="call_1"),
                ToolCall("Dog", {"name": "Rex"}, id="call_2"),
            ]
        ),
        Reply(tool_calls=[ToolCall("Cat", {"name": "Tom"}), ToolCall("Dog", {"name": "Rex", "good": True})]),
    )
    pets = await create(
        make(Mode.PARALLEL_TOOLS),
        model="gpt-4o",
        response_model=Iterable[Union[Cat, Dog]],  # noqa: UP007
        messages=USER_MSG,
    )
    assert pets == [Cat(name="Tom"), Dog(name="Rex", good=True)]
    second = azure_emulator.requests[1].body["messages"]
    assistant, *tools = second[len(USER_MSG) :]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_1", "call_2"]
    assert [t["tool_call_id"] for t in tools] == ["call_1", "call_2"]
    assert all(t["role"] == "tool" for t in tools)
    assert "good" in tools[1]["content"]
