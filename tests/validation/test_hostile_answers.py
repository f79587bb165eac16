"""Hostile answers from the model end in a re-ask or a typed error, never a crash, and the streamed and
non-streamed paths judge every answer alike: JSON as RFC 8259 defines it (no NaN / Infinity), no
repeated keys, bounded nesting, only the function that was offered, strict-mode nulls dropped."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from pydantic import BaseModel, Field, model_validator
from validation_kit import collect, resolve

from instructor_az import IncompleteOutputException, InstructorRetryException, Mode, ResponseParseError
from instructor_az._answer_json import MAX_ANSWER_DEPTH
from instructor_az.emulator import Emulator, Fault, Reply, ToolCall

Make = Any  # the `make` fixture (conftest): make(mode) -> a wrapped client, sync or async

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
GOOD = {"name": "John", "age": 30}
SINGLE_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Node(BaseModel):
    """Recursive, with an optional field: strict modes make `child` required and nullable."""

    name: str
    child: Node | None = None


class Blob(BaseModel):
    name: str
    data: Any = None


def answer(mode: Mode, text: str, tool: str = "User") -> Any:
    """A raw answer text where `mode` reads it."""
    if mode.is_tools:
        return Reply(tool_calls=[ToolCall(tool, text)])
    return f"```json\n{text}\n```" if mode is Mode.MD_JSON else text


def reask_text(emulator: Emulator) -> str:
    """The message of the last re-ask the library sent (tool result or user message)."""
    return str(emulator.requests[-1].body["messages"][-1]["content"])


def deep_node(depth: int) -> str:
    return '{"name": "n", "child": ' * depth + "null" + "}" * depth


# --- nesting: any depth ends in a re-ask ------------------------------------------------------------


@pytest.mark.parametrize("mode", SINGLE_MODES)
@pytest.mark.parametrize("depth", [300, 10_000])
async def test_a_deeply_nested_answer_is_reasked_in_every_mode(
    make: Make, azure_emulator: Emulator, mode: Mode, depth: int
) -> None:
    azure_emulator.scripted.push(answer(mode, deep_node(depth), "Node"), answer(mode, deep_node(3), "Node"))
    client = make(mode)
    node = await resolve(
        client.chat.completions.create(model="gpt-4o", response_model=Node, messages=MESSAGES)
    )
    assert node.child.child is not None
    assert node.child.child.child is None
    assert len(azure_emulator.requests) == 2
    assert f"nested too deeply (more than {MAX_ANSWER_DEPTH} levels" in reask_text(azure_emulator)


@pytest.mark.parametrize("depth", [MAX_ANSWER_DEPTH + 1, 10_000])
async def test_a_deep_answer_to_a_json_schema_dict_is_reasked(
    make: Make, azure_emulator: Emulator, depth: int
) -> None:
    schema = {"type": "object", "properties": {"data": {}}, "required": ["data"]}
    deep = '{"data": ' + "[" * depth + "]" * depth + "}"
    azure_emulator.scripted.push(
        answer(Mode.TOOLS, deep, "Response"), answer(Mode.TOOLS, '{"data": [[1]]}', "Response")
    )
    value = await resolve(
        make(Mode.TOOLS).chat.completions.create(model="gpt-4o", response_model=schema, messages=MESSAGES)
    )
    assert value == {"data": [[1]]}
    assert "nested too deeply" in reask_text(azure_emulator)


async def test_the_deepest_accepted_answer_validates(make: Make, azure_emulator: Emulator) -> None:
    # MAX_ANSWER_DEPTH levels of objects in all: the root and its children.
    azure_emulator.scripted.push(answer(Mode.TOOLS_STRICT, deep_node(MAX_ANSWER_DEPTH), "Node"))
    node = await resolve(
        make(Mode.TOOLS_STRICT).chat.completions.create(
            model="gpt-4o", response_model=Node, messages=MESSAGES
        )
    )
    depth = 0
    while node is not None:
        node, depth = node.child, depth + 1
    assert depth == MAX_ANSWER_DEPTH
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize("mode", SINGLE_MODES)
async def test_a_deep_streamed_answer_is_reasked(make: Make, azure_emulator: Emulator, mode: Mode) -> None:
    azure_emulator.scripted.push(answer(mode, deep_node(10_000), "Node"), answer(mode, deep_node(2), "Node"))
    stream = make(mode).chat.completions.create_partial(
        model="gpt-4o", response_model=Node, messages=MESSAGES
    )
    partials = await collect(stream)
    assert partials[-1] == Node(name="n", child=Node(name="n"))
    assert len(azure_emulator.requests) == 2
    assert "nested too deeply" in reask_text(azure_emulator)


async def test_a_deep_value_in_an_open_field_is_reasked_streamed(
    make: Make, azure_emulator: Emulator
) -> None:
    deep = '{"name": "x", "data": ' + "[" * 10_000 + "]" * 10_000 + "}"
    azure_emulator.scripted.push(
        answer(Mode.TOOLS, deep, "Blob"), answer(Mode.TOOLS, '{"name": "x", "data": [1]}', "Blob")
    )
    stream = make(Mode.TOOLS).chat.completions.create_partial(
        model="gpt-4o", response_model=Blob, messages=MESSAGES
    )
    assert (await collect(stream))[-1] == Blob(name="x", data=[1])
    assert "nested too deeply" in reask_text(azure_emulator)


# --- TOOLS: only the offered function --------------------------------------------------------------


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.TOOLS_STRICT])
async def test_a_call_to_a_function_never_offered_is_reasked(
    make: Make, azure_emulator: Emulator, mode: Mode
) -> None:
    azure_emulator.scripted.push(
        Reply(tool_calls=[ToolCall("delete_all_users", GOOD)]), Reply(tool_calls=[ToolCall("User", GOOD)])
    )
    user = await resolve(
        make(mode).chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert user == User(**GOOD)
    assert len(azure_emulator.requests) == 2
    reask = reask_text(azure_emulator)
    assert "`delete_all_users`" in reask
    assert "call `User`" in reask


async def test_a_streamed_call_to_a_function_never_offered_is_reasked(
    make: Make, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(
        Reply(tool_calls=[ToolCall("delete_all_users", GOOD)]), Reply(tool_calls=[ToolCall("User", GOOD)])
    )
    partials = await collect(
        make(Mode.TOOLS).chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=MESSAGES
        )
    )
    assert partials[-1] == User(**GOOD)
    # nothing of the other function's arguments was shown as a User
    assert all(p.name in (None, "", "J", "Jo", "Joh", "John") for p in partials)
    assert len(azure_emulator.requests) == 2
    assert "`delete_all_users` is not a function you can call" in reask_text(azure_emulator)


async def test_exhausted_wrong_function_calls_name_the_expected_one(
    make: Make, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(*[Reply(tool_calls=[ToolCall("delete_all_users", GOOD)])] * 2)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(
            make(Mode.TOOLS).chat.completions.create(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=1
            )
        )
    error = caught.value.last_exception
    assert isinstance(error, ResponseParseError)
    assert "`delete_all_users`, not the function `User`" in str(error)


# --- one rule on both paths -------------------------------------------------------------------------


class Tagged(BaseModel):
    name: str
    tags: list[str] = []


@pytest.mark.parametrize("mode", [Mode.TOOLS_STRICT, Mode.JSON_SCHEMA])
async def test_a_null_the_strict_schema_allows_is_accepted_streamed_and_not(
    make: Make, azure_emulator: Emulator, mode: Mode
) -> None:
    text = json.dumps({"tasks": [{"name": "a", "tags": None}, {"name": "b", "tags": ["x"]}]})
    azure_emulator.scripted.push(answer(mode, text, "IterableTagged"), answer(mode, text, "IterableTagged"))
    client = make(mode)
    whole = await resolve(
        client.chat.completions.create(model="gpt-4o", response_model=Iterable[Tagged], messages=MESSAGES)
    )
    streamed = await collect(
        client.chat.completions.create_iterable(model="gpt-4o", response_model=Tagged, messages=MESSAGES)
    )
    assert whole == streamed == [Tagged(name="a"), Tagged(name="b", tags=["x"])]
    assert len(azure_emulator.requests) == 2  # neither was re-asked


HOSTILE = [
    ('{"name": "John", "age": NaN}', "NaN and Infinity are not JSON"),
    ('{"name": "John", "age": Infinity}', "NaN and Infinity are not JSON"),
    ('{"name": "John", "age": -Infinity}', "invalid number"),
    ('{"name": "John", "age": 30, "age": 31}', "duplicate key 'age' in the object at $"),
    ('{"name": "John", "name": "Jim", "age": 30}', "duplicate key 'name'"),
]


@pytest.mark.parametrize("mode", SINGLE_MODES)
@pytest.mark.parametrize(("text", "rule"), HOSTILE)
@pytest.mark.parametrize("streamed", [False, True])
async def test_nan_infinity_and_repeated_keys_are_reasked_streamed_or_not(
    make: Make, azure_emulator: Emulator, mode: Mode, text: str, rule: str, streamed: bool
) -> None:
    azure_emulator.scripted.push(answer(mode, text), answer(mode, json.dumps(GOOD)))
    completions = make(mode).chat.completions
    if streamed:
        got = (
            await collect(completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES))
        )[-1]
    else:
        got = await resolve(completions.create(model="gpt-4o", response_model=User, messages=MESSAGES))
    assert got == User(**GOOD)
    assert len(azure_emulator.requests) == 2
    assert rule in reask_text(azure_emulator)


@pytest.mark.parametrize("text", [t for t, _ in HOSTILE])
async def test_a_json_schema_dict_refuses_the_same_answers(
    make: Make, azure_emulator: Emulator, text: str
) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {}}, "required": ["name"]}
    azure_emulator.scripted.push(answer(Mode.JSON, text), answer(Mode.JSON, json.dumps(GOOD)))
    value = await resolve(
        make(Mode.JSON).chat.completions.create(model="gpt-4o", response_model=schema, messages=MESSAGES)
    )
    assert value == GOOD
    assert len(azure_emulator.requests) == 2


# --- iterable re-asks: no item twice, none lost -----------------------------------------------------


class Item(BaseModel):
    n: int = Field(lt=100)


def items_answer(*ns: int) -> Reply:
    return Reply(tool_calls=[ToolCall("IterableItem", {"tasks": [{"n": n} for n in ns]})])


@pytest.mark.parametrize(
    "second",
    [
        pytest.param((2, 3), id="shifted"),
        pytest.param((1, 2, 3), id="whole-list-again"),
        pytest.param((3,), id="continued"),
    ],
)
async def test_an_iterable_reask_yields_each_item_once(
    make: Make, azure_emulator: Emulator, second: tuple[int, ...]
) -> None:
    azure_emulator.scripted.push(items_answer(1, 2, 500), items_answer(*second))
    stream = make(Mode.TOOLS).chat.completions.create_iterable(
        model="gpt-4o", response_model=Item, messages=MESSAGES
    )
    assert await collect(stream) == [Item(n=1), Item(n=2), Item(n=3)]
    reask = reask_text(azure_emulator)
    assert "Items 1 to 2 of the list were accepted already" in reask
    assert "starting from item 3" in reask


async def test_an_iterable_reask_over_several_attempts_counts_every_accepted_item(
    make: Make, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(items_answer(1, 500), items_answer(2, 3, 500), items_answer(3, 4))
    stream = make(Mode.TOOLS).chat.completions.create_iterable(
        model="gpt-4o", response_model=Item, messages=MESSAGES
    )
    assert await collect(stream) == [Item(n=n) for n in (1, 2, 3, 4)]
    assert "Item 1 of the list was accepted" in str(
        azure_emulator.requests[1].body["messages"][-1]["content"]
    )
    assert "Items 1 to 3 of the list were accepted" in reask_text(azure_emulator)


# --- usage of streams stopped early -----------------------------------------------------------------


async def test_a_stream_stopped_for_a_reask_estimates_its_usage(make: Make, azure_emulator: Emulator) -> None:
    bad = {"name": "John " * 40, "age": 300}
    azure_emulator.scripted.push(answer(Mode.TOOLS, json.dumps(bad)), answer(Mode.TOOLS, json.dumps(bad)))
    with pytest.raises(InstructorRetryException) as caught:
        await collect(
            make(Mode.TOOLS).chat.completions.create_partial(
                model="gpt-4o",
                response_model=User,
                messages=MESSAGES,
                max_retries=1,
                stream_options={"include_usage": True},
            )
        )
    usage = caught.value.total_usage
    assert usage.estimated_requests == 2  # both stopped before Azure's usage chunk
    assert usage.completion_tokens >= 2 * len('{"name": "' + bad["name"]) // 4
    assert usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert all(a.usage.estimated for a in caught.value.attempts)
    assert "estimated for 2 requests Azure did not report" in str(caught.value)


class Ordered(BaseModel):
    low: int = Field(le=100)
    high: int

    @model_validator(mode="after")
    def low_below_high(self) -> Ordered:
        if self.low >= self.high:
            raise ValueError("low must be below high")
        return self


async def test_estimated_and_reported_usage_are_told_apart(make: Make, azure_emulator: Emulator) -> None:
    # The first answer fails at `low` mid-stream (stopped early), the second only once complete.
    azure_emulator.scripted.push(
        answer(Mode.TOOLS, '{"low": 500, "high": 1}', "Ordered"),
        answer(Mode.TOOLS, '{"low": 5, "high": 1}', "Ordered"),
    )
    seen: list[Any] = []
    client = make(Mode.TOOLS)
    client.on("completion:response", seen.append)
    with pytest.raises(InstructorRetryException) as caught:
        await collect(
            client.chat.completions.create_partial(
                model="gpt-4o",
                response_model=Ordered,
                messages=MESSAGES,
                max_retries=1,
                stream_options={"include_usage": True},
            )
        )
    first, second = caught.value.attempts
    assert first.usage.estimated
    assert first.usage.total_tokens > 0
    assert not second.usage.estimated
    reported = seen[-1].usage  # the usage chunk Azure sent at the end of the second stream
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (
        reported.prompt_tokens,
        reported.completion_tokens,
    )
    total = caught.value.total_usage
    assert total.estimated_requests == 1
    assert total.total_tokens == first.usage.total_tokens + reported.total_tokens


async def test_a_streamed_answer_cut_off_without_usage_reports_its_estimated_tokens(
    make: Make, azure_emulator: Emulator
) -> None:
    azure_emulator.inject(Fault.length(after_chars=12))
    azure_emulator.scripted.push(answer(Mode.TOOLS, json.dumps({"name": "John " * 10, "age": 30})))
    with pytest.raises(IncompleteOutputException) as caught:
        await collect(make(Mode.TOOLS).chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES))
    assert caught.value.usage.estimated_requests == 1
    # 12 characters of arguments and the function's name, about 4 characters a token
    assert caught.value.usage.completion_tokens == (12 + len("User") + 3) // 4
    assert "(4 completion tokens, estimated)" in str(caught.value)
