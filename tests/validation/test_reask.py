"""The re-ask loop: an invalid answer goes back to the model with its errors, phrased per mode, until an
answer validates or the attempts run out (then `InstructorRetryException` tells the whole story)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError
from validation_kit import Wire, collect, resolve

from instructor_az import InstructorRetryException, Mode, ResponseParseError, Usage
from instructor_az.emulator import Emulator, Reply, ToolCall

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}
ALL_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.PARALLEL_TOOLS, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


def response_model(mode: Mode) -> Any:
    return Iterable[User] if mode is Mode.PARALLEL_TOOLS else User


def expected(mode: Mode, value: dict[str, Any]) -> Any:
    return [User(**value)] if mode is Mode.PARALLEL_TOOLS else User(**value)


def answer(mode: Mode, value: Any) -> Any:
    """What a deployment answers in `mode`: a tool call, JSON content, or JSON in a fenced block."""
    if mode.is_tools:
        return Reply(tool_calls=[ToolCall("User", value)])
    text = json.dumps(value)
    return f"Here is the user:\n```json\n{text}\n```\n" if mode is Mode.MD_JSON else text


def check_reask(mode: Mode, wire: Wire, emulator: Emulator) -> None:
    """The second request is the first one plus the model's first answer and its errors, per mode."""
    first, second = (r.body["messages"] for r in emulator.requests)
    assert second[: len(first)] == first  # the conversation (and any schema instruction) is kept
    assert len(second) == len(first) + 2
    assistant, errors = second[-2:]
    first_answer = wire.completions[0]["choices"][0]["message"]
    assert assistant["role"] == "assistant"
    if mode.is_tools:
        (sent_call,) = first_answer["tool_calls"]
        assert assistant["tool_calls"] == [
            {"id": sent_call["id"], "type": "function", "function": sent_call["function"]}
        ]
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == BAD
        assert errors["role"] == "tool"
        assert errors["tool_call_id"] == sent_call["id"]
        assert "Recall the function `User`" in errors["content"]
    else:
        assert "tool_calls" not in assistant
        assert assistant["content"] == first_answer["content"]  # the answer exactly as the model gave it
        assert errors["role"] == "user"
        assert "answer again with only the corrected JSON" in errors["content"]
        assert ("```json" in errors["content"]) is (mode is Mode.MD_JSON)
    assert "age: Input should be less than or equal to 130 (got 300)" in errors["content"]
    assert [r.status for r in emulator.requests] == [200, 200]  # Azure accepts the re-ask as phrased


# --- one invalid answer, then a valid one --------------------------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_invalid_then_valid_succeeds_in_two_calls(
    make: Any, azure_emulator: Emulator, wire: Wire, mode: Mode
) -> None:
    azure_emulator.scripted.push(answer(mode, BAD), answer(mode, GOOD))
    client = make(mode)
    value = await resolve(
        client.chat.completions.create(model="gpt-4o", response_model=response_model(mode), messages=MESSAGES)
    )
    assert value == expected(mode, GOOD)
    assert len(azure_emulator.requests) == 2
    check_reask(mode, wire, azure_emulator)


async def test_parallel_tools_reask_answers_every_call(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    """Azure rejects an assistant turn whose tool calls are not all answered: each gets a tool message."""
    first = Reply(tool_calls=[ToolCall("User", {"name": "Ann", "age": 41}), ToolCall("User", BAD)])
    second = Reply(tool_calls=[ToolCall("User", {"name": "Ann", "age": 41}), ToolCall("User", GOOD)])
    azure_emulator.scripted.push(first, second)
    users = await resolve(
        make(Mode.PARALLEL_TOOLS).chat.completions.create(
            model="gpt-4o", response_model=Iterable[User], messages=MESSAGES
        )
    )
    assert users == [User(name="Ann", age=41), User(**GOOD)]
    reask = azure_emulator.requests[1].body["messages"]
    sent_ids = [c["id"] for c in wire.completions[0]["choices"][0]["message"]["tool_calls"]]
    assert [c["id"] for c in reask[-3]["tool_calls"]] == sent_ids
    assert [m["role"] for m in reask[-2:]] == ["tool", "tool"]
    assert [m["tool_call_id"] for m in reask[-2:]] == sent_ids
    assert any("(got 300)" in m["content"] for m in reask[-2:])
    assert azure_emulator.requests[1].status == 200


async def test_answer_that_is_not_json_is_reasked_with_the_parse_error(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push("Sorry, I cannot format that.", json.dumps(GOOD))
    user = await resolve(
        make(Mode.JSON).chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert user == User(**GOOD)
    assistant, errors = azure_emulator.requests[1].body["messages"][-2:]
    assert assistant == {"role": "assistant", "content": "Sorry, I cannot format that."}
    assert errors["role"] == "user"
    assert "JSON" in errors["content"]


async def test_tool_mode_answer_without_a_tool_call_is_reasked(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(Reply(content="I think his name is John."), answer(Mode.TOOLS, GOOD))
    user = await resolve(
        make(Mode.TOOLS).chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert user == User(**GOOD)
    assistant, errors = azure_emulator.requests[1].body["messages"][-2:]
    assert assistant == {"role": "assistant", "content": "I think his name is John."}
    assert errors["role"] == "user"  # there is no tool call to answer with a tool message
    assert "call the function `User`" in errors["content"]


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON, Mode.MD_JSON])
async def test_streamed_partial_is_reasked_the_same_way(
    make: Any, azure_emulator: Emulator, mode: Mode
) -> None:
    azure_emulator.scripted.push(answer(mode, BAD), answer(mode, GOOD))
    client = make(mode)
    items = await collect(
        client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert items[-1] == User(**GOOD)
    assert len(azure_emulator.requests) == 2
    assert all(r.body["stream"] is True for r in azure_emulator.requests)
    first, second = (r.body["messages"] for r in azure_emulator.requests)
    assert second[: len(first)] == first
    assistant, errors = second[len(first) :]
    assert errors["role"] == ("tool" if mode.is_tools else "user")
    assert "less than or equal to 130 (got 300)" in errors["content"]
    if mode.is_tools:
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == BAD
        assert errors["tool_call_id"] == assistant["tool_calls"][0]["id"]
    else:
        assert '"age": 300' in assistant["content"]


# --- every attempt invalid -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
async def test_n_invalid_answers_raise_retry_exception(
    make: Any, azure_emulator: Emulator, wire: Wire, n: int
) -> None:
    azure_emulator.scripted.push(*[answer(Mode.TOOLS, {"name": "John", "age": 300 + i}) for i in range(n)])
    azure_emulator.scripted.push(answer(Mode.TOOLS, GOOD))  # there, but never asked for
    client = make(Mode.TOOLS)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(
            client.chat.completions.create(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=n - 1
            )
        )
    exc = caught.value
    assert len(azure_emulator.requests) == n
    assert azure_emulator.scripted.pending == 1
    assert exc.n_attempts == n == len(exc.attempts)
    # each attempt: its number, the completion the emulator sent, the exception, the tokens it cost
    assert [a.number for a in exc.attempts] == list(range(1, n + 1))
    assert [a.completion.id for a in exc.attempts] == [b["id"] for b in wire.completions]
    assert [a.usage for a in exc.attempts] == wire.usages()
    for i, attempt in enumerate(exc.attempts):
        assert isinstance(attempt.exception, ValidationError)
        assert attempt.exception.errors()[0]["input"] == 300 + i
    assert exc.last_completion is exc.attempts[-1].completion
    assert exc.last_exception is exc.attempts[-1].exception
    # usage summed over every attempt, as the emulator reported it
    assert exc.total_usage == wire.total()
    assert exc.total_usage.total_tokens == sum(b["usage"]["total_tokens"] for b in wire.completions) > 0
    assert exc.total_usage_tokens == exc.total_usage.total_tokens
    # the message lists each attempt's errors
    lines = str(exc).splitlines()
    assert lines[0] == (
        f"{n} attempt{'s' if n > 1 else ''} to get a valid User failed ({exc.total_usage.total_tokens} tokens used):"
    )
    assert lines[1:] == [
        f"  attempt {i}: age: Input should be less than or equal to 130" for i in range(1, n + 1)
    ]
    # the final messages: the conversation as last sent, then the last answer and its errors
    last_sent = azure_emulator.last_request.body["messages"]
    assert exc.messages[: len(last_sent)] == last_sent
    assert exc.messages[0] == MESSAGES[0]
    assert len(exc.messages) == len(MESSAGES) + 2 * n
    assistant, tool = exc.messages[-2:]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "name": "John",
        "age": 300 + n - 1,
    }
    assert tool["role"] == "tool"
    assert f"(got {300 + n - 1})" in tool["content"]


@pytest.mark.parametrize("mode", [Mode.JSON, Mode.MD_JSON])
async def test_retry_exception_in_json_modes_lists_parse_errors(
    make: Any, azure_emulator: Emulator, wire: Wire, mode: Mode
) -> None:
    azure_emulator.scripted.push("no JSON here", answer(mode, BAD))
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(
            make(mode).chat.completions.create(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=1
            )
        )
    exc = caught.value
    first, second = exc.attempts
    assert isinstance(first.exception, (ResponseParseError, ValidationError))
    assert isinstance(second.exception, ValidationError)
    assert "attempt 1: " in str(exc)
    assert "attempt 2: age: Input should be less than or equal to 130" in str(exc)
    assert exc.total_usage == wire.total()
    assert exc.messages[-1]["role"] == "user"
    assert exc.messages[-2] == {
        "role": "assistant",
        "content": wire.completions[1]["choices"][0]["message"]["content"],
    }


async def test_create_with_completion_reports_usage_of_every_attempt(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    azure_emulator.scripted.push(answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, GOOD))
    user, completion = await resolve(
        make(Mode.TOOLS).chat.completions.create_with_completion(
            model="gpt-4o", response_model=User, messages=MESSAGES
        )
    )
    assert user == User(**GOOD)
    assert len(wire.completions) == 3
    assert completion.id == wire.completions[-1]["id"]  # the completion the value came from
    total = wire.total()
    assert Usage.of(completion) == total
    assert completion.usage.total_tokens > wire.usages()[-1].total_tokens  # more than the last answer alone


async def test_create_with_completion_without_reask_keeps_the_usage_sent(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    azure_emulator.scripted.push(answer(Mode.TOOLS, GOOD))
    _, completion = await resolve(
        make(Mode.TOOLS).chat.completions.create_with_completion(
            model="gpt-4o", response_model=User, messages=MESSAGES
        )
    )
    assert Usage.of(completion) == wire.usages()[0]


# --- parallel tools: re-asks name the tools that exist -------------------------------------------


class Pet(BaseModel):
    species: str


async def test_parallel_tools_text_answer_is_reasked_naming_the_real_tools(
    make: Any, azure_emulator: Emulator
) -> None:
    """No tool call at all: the re-ask asks for the tools that were offered, not the list's own name."""
    azure_emulator.scripted.push(Reply(content="I could not find anyone."), answer(Mode.TOOLS, GOOD))
    users = await resolve(
        make(Mode.PARALLEL_TOOLS).chat.completions.create(
            model="gpt-4o", response_model=Iterable[User], messages=MESSAGES
        )
    )
    assert users == [User(**GOOD)]
    offered = [t["function"]["name"] for t in azure_emulator.requests[0].body["tools"]]
    assert offered == ["User"]
    assistant, errors = azure_emulator.requests[1].body["messages"][-2:]
    assert assistant == {"role": "assistant", "content": "I could not find anyone."}
    assert errors["role"] == "user"
    assert "`User`" in errors["content"]
    assert "Iterable" not in errors["content"]  # no function of that name was ever offered
    assert "not one of" not in errors["content"]  # it called nothing, let alone an unknown function
    assert azure_emulator.requests[1].status == 200


async def test_parallel_tools_unknown_tool_is_not_asked_for_again(
    make: Any, azure_emulator: Emulator
) -> None:
    """A call to a function that was not offered: its tool message points at the offered ones instead."""
    first = Reply(tool_calls=[ToolCall("User", GOOD), ToolCall("Person", {"name": "Ann"})])
    azure_emulator.scripted.push(
        first, Reply(tool_calls=[ToolCall("User", GOOD), ToolCall("Pet", {"species": "cat"})])
    )
    found = await resolve(
        make(Mode.PARALLEL_TOOLS).chat.completions.create(
            model="gpt-4o", response_model=Iterable[User | Pet], messages=MESSAGES
        )
    )
    assert found == [User(**GOOD), Pet(species="cat")]
    reask = azure_emulator.requests[1].body["messages"]
    tool_messages = {m["tool_call_id"]: m["content"] for m in reask if m["role"] == "tool"}
    person_id = next(c["id"] for c in reask[-3]["tool_calls"] if c["function"]["name"] == "Person")
    assert "Recall the function `Person`" not in tool_messages[person_id]
    assert "`User`" in tool_messages[person_id]
    assert "`Pet`" in tool_messages[person_id]
    assert azure_emulator.requests[1].status == 200
