"""The schema backend in an agent loop (answers a tool's result with text) and in JSON mode without a schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import Emulator

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = {"role": "user", "content": "What is the weather in Paris?"}


@pytest.fixture
def schema_client() -> Iterator[AzureOpenAI]:
    emulator = Emulator(backend="schema")
    with emulator.client(max_retries=0) as client:
        yield client
    emulator.close()


def _after_tool(result: str = '{"temperature": 21}') -> list[dict[str, Any]]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    return [
        ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]


def test_an_agent_loop_finishes_a_tool_call_then_a_text_answer(schema_client: AzureOpenAI) -> None:
    first = schema_client.chat.completions.create(model="gpt-4o", messages=[ASK], tools=[WEATHER])  # type: ignore[list-item]
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls
    assert calls
    assert calls[0].function.name == "get_weather"
    second = schema_client.chat.completions.create(model="gpt-4o", messages=_after_tool(), tools=[WEATHER])  # type: ignore[arg-type, list-item]
    choice = second.choices[0]
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert "temperature" in (choice.message.content or "")  # it used the tool's result


@pytest.mark.parametrize(
    "tool_choice", [{"type": "function", "function": {"name": "get_weather"}}, "required"]
)
def test_a_forced_tool_is_called_again_after_a_tool_result(
    schema_client: AzureOpenAI, tool_choice: Any
) -> None:
    completion = schema_client.chat.completions.create(
        model="gpt-4o",
        messages=_after_tool(),
        tools=[WEATHER],
        tool_choice=tool_choice,  # type: ignore[arg-type, list-item]
    )
    calls = completion.choices[0].message.tool_calls
    assert calls
    assert calls[0].function.name == "get_weather"


def test_a_reask_in_a_tool_result_gets_a_new_call(schema_client: AzureOpenAI) -> None:
    reask = "Validation Error found:\ncity: Field required\nRecall the function `get_weather` with the errors fixed."
    completion = schema_client.chat.completions.create(
        model="gpt-4o", messages=_after_tool(reask), tools=[WEATHER]
    )  # type: ignore[arg-type, list-item]
    calls = completion.choices[0].message.tool_calls
    assert calls
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}


def test_after_a_tool_result_a_json_schema_answer_is_json_content(schema_client: AzureOpenAI) -> None:
    fmt = {
        "type": "json_schema",
        "json_schema": {
            "name": "Report",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"summary": {"type": "string"}},
                "required": ["summary"],
                "additionalProperties": False,
            },
        },
    }
    completion = schema_client.chat.completions.create(
        model="gpt-4o",
        messages=_after_tool(),
        tools=[WEATHER],
        response_format=fmt,  # type: ignore[arg-type, list-item]
    )
    message = completion.choices[0].message
    assert not message.tool_calls
    assert set(json.loads(message.content or "")) == {"summary"}


def _json_mode(client: AzureOpenAI, prompt: str) -> Any:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_object"},
    )
    return json.loads(completion.choices[0].message.content or "")


def test_json_mode_uses_the_keys_the_prompt_names(schema_client: AzureOpenAI) -> None:
    value = _json_mode(schema_client, "John is 30 years old. Return JSON with keys name and age.")
    assert value == {"name": "John", "age": 30}
    value = _json_mode(
        schema_client,
        "Extract as json with the fields: `city`, `country`. Text: Lena lives in Berlin, Germany.",
    )
    assert set(value) == {"city", "country"}


def test_json_mode_follows_an_example_object_in_the_prompt(schema_client: AzureOpenAI) -> None:
    value = _json_mode(
        schema_client, 'Maria is 41. Reply in JSON like {"name": "...", "age": 0, "adult": true}.'
    )
    assert value == {"name": "Maria", "age": 41, "adult": True}


def test_json_mode_with_nothing_to_go_on_is_a_400_asking_for_a_schema(schema_client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _json_mode(schema_client, "Tell me about Paris, in json.")
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "EmulatorNeedsSchema"
    assert body["param"] == "response_format"
    assert "Put the schema in the prompt" in body["message"]


def test_json_mode_with_a_prompt_nested_too_deeply_to_read_still_answers(schema_client: AzureOpenAI) -> None:
    # Python's JSON reader gives up on this nesting (RecursionError); the prompt still names its keys.
    deep = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    prompt = f"Return JSON with keys name and age. Noise: {deep}"
    completion = schema_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": prompt}], response_format={"type": "json_object"}
    )
    assert set(json.loads(completion.choices[0].message.content or "")) == {"name", "age"}
