"""An empty scripted queue reached by a re-ask says why there was a re-ask: the previous answer's error."""

from __future__ import annotations

import openai
import pytest
from openai import AzureOpenAI
from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Emulator, ScriptedBackend, ScriptExhaustedError
from instructor_az.emulator._backends import REASK_REASON_CHARS, ChatRequest


class Person(BaseModel):
    name: str
    age: int = Field(le=130)


def _error_text(exc: BaseException) -> str:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return " | ".join(str(e) for e in seen)


def test_a_reask_on_an_empty_queue_names_the_validation_error(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push({"name": "John", "age": 300})  # fails validation: one answer, no correction
    wrapped = instructor_az.from_openai(client)
    with pytest.raises(Exception) as caught:
        wrapped.chat.completions.create(
            model="gpt-4o",
            response_model=Person,
            max_retries=2,
            messages=[{"role": "user", "content": "John is 300 years old"}],
        )
    text = _error_text(caught.value)
    assert "has no answer for deployment 'gpt-4o'" in text
    assert "This request is a re-ask: the previous answer failed validation with:" in text
    assert "less than or equal to 130" in text
    last = emulator.last_request
    assert last.status == 400
    assert last.body["messages"][-1]["role"] == "tool"


def test_the_azure_error_carries_the_reason_and_the_sdk_sees_it(client: AzureOpenAI) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "Person", "arguments": '{"age": 300}'}}
    messages = [
        {"role": "user", "content": "John is 300"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": "Validation Error found:\nname: Field required\nRecall the function `Person` with the errors fixed.",
        },
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "EmulatorScriptExhausted"
    assert "failed validation with: name: Field required (queue a corrected answer" in body["message"]
    assert "Recall the function" not in body["message"]  # the instruction to the model is left out


def test_a_user_reask_after_a_json_answer_is_recognized_too() -> None:
    request = ChatRequest(
        "gpt-4o",
        "gpt-4o",
        {
            "messages": [
                {"role": "user", "content": "Give me JSON"},
                {"role": "assistant", "content": '{"age": "old"}'},
                {
                    "role": "user",
                    "content": "Correct your answer. Validation Error found:\nage: Input should be a valid integer\nFix the errors and answer again with only the corrected JSON.",
                },
            ]
        },
    )
    with pytest.raises(ScriptExhaustedError) as caught:
        ScriptedBackend().reply(request)
    assert caught.value.reask_reason == "age: Input should be a valid integer"


def test_a_long_validation_error_is_truncated() -> None:
    long_error = "; ".join(f"field_{i}: Field required" for i in range(200))
    request = ChatRequest(
        "gpt-4o",
        "gpt-4o",
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": "{}"},
                {"role": "user", "content": f"Validation Error found:\n{long_error}"},
            ]
        },
    )
    with pytest.raises(ScriptExhaustedError) as caught:
        ScriptedBackend().reply(request)
    reason = caught.value.reask_reason
    assert reason is not None
    assert reason.startswith("field_0: Field required")
    assert len(reason) < REASK_REASON_CHARS + 40
    assert "more characters)" in reason


def test_a_first_request_on_an_empty_queue_mentions_no_reask(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "re-ask" not in caught.value.body["message"]  # type: ignore[index]
