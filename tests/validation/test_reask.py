"""The re-ask loop: invalid answers are sent back with their errors, per mode, until valid or out of attempts."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from tenacity import AsyncRetrying, Retrying, stop_after_attempt, wait_fixed

import instructor_az
from instructor_az import InstructorRetryException, Mode
from instructor_az.emulator import Emulator, Reply, ToolCall

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}


def answer(mode: Mode, value: dict[str, Any]) -> Any:
    """The reply a deployment gives in `mode`."""
    if mode.is_tools:
        return Reply(tool_calls=[ToolCall("User", value)])
    text = json.dumps(value)
    return f"```json\n{text}\n```" if mode is Mode.MD_JSON else text


MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


def check_reask_messages(mode: Mode, messages: list[dict[str, Any]]) -> None:
    """The second request: the original messages, the first answer, then the errors."""
    assert messages[: len(MESSAGES)] == MESSAGES or messages[1 : 1 + len(MESSAGES)] == MESSAGES
    assistant, errors = messages[-2], messages[-1]
    assert assistant["role"] == "assistant"
    if mode.is_tools:
        call = assistant["tool_calls"][0]
        assert json.loads(call["function"]["arguments"]) == BAD
        assert errors["role"] == "tool"
        assert errors["tool_call_id"] == call["id"]
    else:
        assert "300" in assistant["content"]
        assert errors["role"] == "user"
    assert "less than or equal to 130" in errors["content"]
    assert "age" in errors["content"]


@pytest.mark.parametrize("mode", MODES)
def test_invalid_then_valid_succeeds_in_two_calls(
    azure_emulator: Emulator, azure_openai_client: Any, mode: Mode
) -> None:
    azure_emulator.scripted.push(answer(mode, BAD), answer(mode, GOOD))
    client = instructor_az.from_openai(azure_openai_client, mode=mode)
    user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert user == User(**GOOD)
    assert len(azure_emulator.requests) == 2
    check_reask_messages(mode, azure_emulator.requests[1].body["messages"])


@pytest.mark.parametrize("mode", MODES)
async def test_async_invalid_then_valid_succeeds_in_two_calls(
    azure_emulator: Emulator, async_azure_openai_client: Any, mode: Mode
) -> None:
    azure_emulator.scripted.push(answer(mode, BAD), answer(mode, GOOD))
    client = instructor_az.from_openai(async_azure_openai_client, mode=mode)
    user = await client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert user == User(**GOOD)
    check_reask_messages(mode, azure_emulator.requests[1].body["messages"])


def test_streamed_partial_is_reasked_the_same_way(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, GOOD))
    client = instructor_az.from_openai(azure_openai_client)
    *_, last = client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert last.model_dump() == GOOD
    assert len(azure_emulator.requests) == 2
    check_reask_messages(Mode.TOOLS, azure_emulator.requests[1].body["messages"])


@pytest.mark.parametrize("n", [1, 3])
def test_n_invalid_answers_raise_retry_exception_with_summed_usage(
    azure_emulator: Emulator, azure_openai_client: Any, n: int
) -> None:
    azure_emulator.scripted.push(*[answer(Mode.TOOLS, {"name": "John", "age": 300 + i}) for i in range(n)])
    client = instructor_az.from_openai(azure_openai_client)
    responses: list[Any] = []
    client.on("completion:response", responses.append)
    with pytest.raises(InstructorRetryException) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=n)
    exc = caught.value
    assert exc.n_attempts == n == len(exc.attempts) == len(azure_emulator.requests)
    assert [a.completion for a in exc.attempts] == responses
    assert all("less than or equal to 130" in str(a.exception) for a in exc.attempts)
    assert exc.total_usage.total_tokens == sum(r.usage.total_tokens for r in responses)
    assert exc.total_usage.prompt_tokens == sum(r.usage.prompt_tokens for r in responses)
    # the message lists each attempt's errors briefly
    for i in range(n):
        assert f"attempt {i + 1}" in str(exc)
    # the final messages end with the last re-ask when there was one
    assert exc.messages[0] == MESSAGES[0]
    if n > 1:
        assert exc.messages[-1]["role"] == "tool"


def test_create_with_completion_sums_usage_over_attempts(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    azure_emulator.scripted.push(answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, GOOD))
    client = instructor_az.from_openai(azure_openai_client)
    responses: list[Any] = []
    client.on("completion:response", lambda r: responses.append(r.usage.model_copy()))
    user, completion = client.chat.completions.create_with_completion(
        model="gpt-4o", response_model=User, messages=MESSAGES
    )
    assert user == User(**GOOD)
    assert len(responses) == 2
    assert completion.usage.total_tokens == sum(u.total_tokens for u in responses)
    assert completion.usage.completion_tokens == sum(u.completion_tokens for u in responses)


def test_tenacity_policy_is_honoured(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(*[answer(Mode.TOOLS, BAD)] * 3)
    before: list[int] = []
    after: list[int] = []
    policy = Retrying(
        stop=stop_after_attempt(2),
        wait=wait_fixed(0.05),
        before=lambda state: before.append(state.attempt_number),
        after=lambda state: after.append(state.attempt_number),
    )
    client = instructor_az.from_openai(azure_openai_client)
    started = time.perf_counter()
    with pytest.raises(InstructorRetryException) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=policy)
    assert time.perf_counter() - started >= 0.05  # one wait between the two attempts
    assert caught.value.n_attempts == 2
    assert len(azure_emulator.requests) == 2
    assert azure_emulator.scripted.pending == 1  # stop_after_attempt(2): the third answer was never asked for
    assert before == [1, 2]
    assert after == [1, 2]  # tenacity calls `after` for each failed attempt, the last included


async def test_async_tenacity_policy_is_honoured(azure_emulator: Emulator, async_azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, BAD), answer(Mode.TOOLS, GOOD))
    client = instructor_az.from_openai(async_azure_openai_client)
    started = time.perf_counter()
    user = await client.chat.completions.create(
        model="gpt-4o",
        response_model=User,
        messages=MESSAGES,
        max_retries=AsyncRetrying(stop=stop_after_attempt(3), wait=wait_fixed(0.03)),
    )
    assert user == User(**GOOD)
    assert time.perf_counter() - started >= 0.06  # two waits
    assert len(azure_emulator.requests) == 3


class Quote(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def in_source(cls, value: str, info: ValidationInfo) -> str:
        source = (info.context or {}).get("source", "")
        if value not in source:
            raise ValueError(f"the quote {value!r} is not in the source document")
        return value


@pytest.mark.parametrize("keyword", ["context", "validation_context"])
def test_context_reaches_validators(azure_emulator: Emulator, azure_openai_client: Any, keyword: str) -> None:
    azure_emulator.scripted.push({"text": "invented words"}, {"text": "the quick fox"})
    client = instructor_az.from_openai(azure_openai_client)
    quote = client.chat.completions.create(
        model="gpt-4o",
        response_model=Quote,
        messages=MESSAGES,
        **{keyword: {"source": "the quick fox jumps"}},
    )
    assert quote.text == "the quick fox"
    assert "is not in the source document" in json.dumps(azure_emulator.requests[1].body["messages"])
