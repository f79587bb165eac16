"""Chat completions through the real SDK: tools, response formats, Azure's annotations, backends, bad requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import (
    ChatRequest,
    Deployment,
    Emulator,
    Reply,
    ToolCall,
)

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
SAFE = {"filtered": False, "severity": "safe"}
NOT_DETECTED = {"filtered": False, "detected": False}
# Seed 001's gpt-4o sample (api-version 2024-10-21), key by key.
SEED_CHOICE_FILTERS = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
SEED_PROMPT_FILTERS = {
    "hate": SAFE,
    "jailbreak": NOT_DETECTED,
    "self_harm": SAFE,
    "sexual": SAFE,
    "violence": SAFE,
}
AZURE_ERROR_KEYS = {"message", "type", "param", "code"}


def _json_schema_format(schema: dict[str, Any], *, strict: bool = True, name: str = "Person") -> Any:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def _bad_request(call: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as exc:
        call()
    error = exc.value
    assert error.status_code == 400
    assert isinstance(error.body, dict)
    return error


# --- tools -----------------------------------------------------------------------------------------------


def test_named_tool_choice_calls_that_tool_and_finishes_with_stop(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push({"timezone": "Europe/Paris"})
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=USER,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"  # Azure, like OpenAI, reports "stop" for a forced function
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments) == {"timezone": "Europe/Paris"}
    assert call.id.startswith("call_")
    assert choice.message.content is None


def test_auto_tool_call_finishes_with_tool_calls(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ToolCall("get_weather", {"city": "Paris"}))
    completion = client.chat.completions.create(
        model="gpt-4o", messages=USER, tools=[WEATHER, TIME], tool_choice="auto"
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_a_json_value_goes_to_the_first_tool_when_none_is_forced(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push({"city": "Lyon"})
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER, TIME])
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Lyon"}
    assert completion.choices[0].finish_reason == "tool_calls"


def test_required_tool_choice_gets_a_tool_call(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ToolCall("get_time", {"timezone": "UTC"}))
    completion = client.chat.completions.create(
        model="gpt-4o", messages=USER, tools=[WEATHER, TIME], tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "get_time"
    assert completion.choices[0].finish_reason == "tool_calls"


def test_auto_tool_choice_can_answer_in_text(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("I cannot look that up.")
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER])
    assert completion.choices[0].message.content == "I cannot look that up."
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"


def test_parallel_tool_calls_come_back_in_order_with_distinct_ids(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_time", '{"timezone": "CET"}', id="call_fixed"),
            ]
        )
    )
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER, TIME])
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert calls[1].function.arguments == '{"timezone": "CET"}'
    assert calls[1].id == "call_fixed"
    assert calls[0].id != calls[1].id
    assert completion.choices[0].finish_reason == "tool_calls"


def test_tool_results_round_trip_is_accepted(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ToolCall("get_weather", {"city": "Paris"}, id="call_1"), "It is sunny in Paris.")
    first = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER])
    assistant = first.choices[0].message
    messages = [
        *USER,
        assistant.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "clear"}'},
    ]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "It is sunny in Paris."


def test_tool_choice_naming_an_unknown_function_is_a_400(client: AzureOpenAI) -> None:
    error = _bad_request(
        lambda: client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "launch_rockets"}},
        )
    )
    assert error.body["param"] == "tool_choice"


def test_tools_on_a_model_without_tools_is_a_400(emulator: Emulator) -> None:
    emulator.add_deployment(Deployment("plain", "gpt-35-turbo", "0301", tools=False))
    with emulator.client(max_retries=0) as client:
        error = _bad_request(
            lambda: client.chat.completions.create(model="plain", messages=USER, tools=[WEATHER])
        )
    assert error.body["param"] == "tools"


# --- response formats ---------------------------------------------------------------------------------------


def test_json_object_needs_the_word_json_in_the_messages(client: AzureOpenAI, emulator: Emulator) -> None:
    error = _bad_request(
        lambda: client.chat.completions.create(
            model="gpt-4o", messages=USER, response_format={"type": "json_object"}
        )
    )
    assert "must contain the word 'json'" in error.body["message"]
    assert error.body["param"] == "messages"
    emulator.scripted.push({"city": "Paris", "sky": "clear"})
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris as JSON."}],
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content or "") == {"city": "Paris", "sky": "clear"}


def test_strict_json_schema_is_accepted_and_answered_with_json(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push({"name": "Ada", "age": 36})
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Ada is 36."}],
        response_format=_json_schema_format(PERSON_SCHEMA),
    )
    value = json.loads(completion.choices[0].message.content or "")
    assert value == {"name": "Ada", "age": 36}
    jsonschema.validate(value, PERSON_SCHEMA)


@pytest.mark.parametrize(
    ("schema", "detail"),
    [
        (
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            "'additionalProperties' is required to be supplied and to be false",
        ),
        (
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            "Missing 'age'",
        ),
        (
            {"type": "array", "items": {"type": "string"}},
            "schema must be a JSON Schema of 'type: \"object\"'",
        ),
        (
            {
                "type": "object",
                "properties": {"age": {"type": "integer", "minimum": 0}},
                "required": ["age"],
                "additionalProperties": False,
            },
            "'minimum' is not permitted",
        ),
    ],
)
def test_invalid_strict_json_schema_is_a_400_naming_the_schema(
    client: AzureOpenAI, schema: dict[str, Any], detail: str
) -> None:
    error = _bad_request(
        lambda: client.chat.completions.create(
            model="gpt-4o", messages=USER, response_format=_json_schema_format(schema)
        )
    )
    assert error.body["message"].startswith("Invalid schema for response_format 'Person'")
    assert detail in error.body["message"]
    assert error.body["type"] == "invalid_request_error"


def test_non_strict_json_schema_is_not_checked_for_strict_rules(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push({"name": "Bo"})
    loose = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}}
    completion = client.chat.completions.create(
        model="gpt-4o", messages=USER, response_format=_json_schema_format(loose, strict=False)
    )
    assert json.loads(completion.choices[0].message.content or "") == {"name": "Bo"}


def test_strict_tool_with_a_schema_problem_is_a_400(client: AzureOpenAI) -> None:
    strict_tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    error = _bad_request(
        lambda: client.chat.completions.create(model="gpt-4o", messages=USER, tools=[strict_tool])
    )
    assert error.body["message"].startswith("Invalid schema for function 'get_weather'")
    assert "additionalProperties" in error.body["message"]
    assert error.body["param"] == "tools[0].function.parameters"


def test_valid_strict_tool_is_accepted(client: AzureOpenAI, emulator: Emulator) -> None:
    strict_tool = {
        "type": "function",
        "function": {"name": "extract", "strict": True, "parameters": PERSON_SCHEMA},
    }
    emulator.scripted.push({"name": "Ada", "age": 36})
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=USER,
        tools=[strict_tool],
        tool_choice={"type": "function", "function": {"name": "extract"}},
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments) == {"name": "Ada", "age": 36}


def test_json_schema_on_a_model_without_structured_outputs_is_a_400(client: AzureOpenAI) -> None:
    error = _bad_request(
        lambda: client.chat.completions.create(
            model="gpt-4", messages=USER, response_format=_json_schema_format(PERSON_SCHEMA)
        )
    )
    assert error.body["param"] == "response_format"


# --- plain answers, usage and Azure's annotations -----------------------------------------------------------


def test_plain_text_answer_with_consistent_usage(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen.")
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "When was Microsoft founded?"},
        ],
    )
    choice = completion.choices[0]
    assert choice.message.content == "Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen."
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert choice.message.refusal is None
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("fp_")


def test_longer_prompts_and_answers_cost_more_tokens(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("Short.", "A much longer answer that keeps going for quite a few more words.")
    short = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    long = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi, please tell me a great deal about it all"}]
    )
    assert short.usage is not None
    assert long.usage is not None
    assert long.usage.prompt_tokens > short.usage.prompt_tokens
    assert long.usage.completion_tokens > short.usage.completion_tokens


def test_filter_annotations_have_azures_shape(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("Microsoft was founded on April 4, 1975.")
    completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    extra = completion.model_extra or {}
    assert extra["prompt_filter_results"] == [
        {"prompt_index": 0, "content_filter_results": SEED_PROMPT_FILTERS}
    ]
    dumped = completion.model_dump()
    choice_filters = dumped["choices"][0]["content_filter_results"]
    for category, value in SEED_CHOICE_FILTERS.items():
        assert choice_filters[category] == value
    # Anything beyond the seed's four harm categories may only be the protected-material detectors.
    for category in set(choice_filters) - set(SEED_CHOICE_FILTERS):
        assert category in ("protected_material_code", "protected_material_text")
        assert choice_filters[category] == NOT_DETECTED


def test_vision_request_on_gpt_4o_annotates_the_image_prompt_too(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("A watercolor painting of a city skyline.")
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What's in this image?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/generated-seattle.png"}},
                ],
            }
        ],
        max_tokens=300,
    )
    assert completion.choices[0].message.content == "A watercolor painting of a city skyline."
    prompt_results = (completion.model_extra or {})["prompt_filter_results"]
    assert [r["prompt_index"] for r in prompt_results] == [0, 1]  # as in seed 001's vision sample
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 50  # an image costs tokens
    assert emulator.last_request.body["messages"][0]["content"][1]["type"] == "image_url"


def test_image_on_a_model_without_vision_is_a_400(emulator: Emulator) -> None:
    emulator.add_deployment(Deployment("text-only", "gpt-35-turbo", "0125", vision=False))
    with emulator.client(max_retries=0) as client:
        error = _bad_request(
            lambda: client.chat.completions.create(
                model="text-only",
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
                    }
                ],
            )
        )
    assert "image_url" in error.body["message"]


def test_max_tokens_smaller_than_the_answer_truncates_with_finish_reason_length(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    answer = "one two three four five six seven eight nine ten eleven twelve"
    emulator.scripted.push(answer)
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=4)
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    content = choice.message.content or ""
    assert content
    assert answer.startswith(content)
    assert len(content) < len(answer)
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 4


def test_max_tokens_larger_than_the_answer_keeps_it_whole(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("short answer")
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=50)
    assert completion.choices[0].message.content == "short answer"
    assert completion.choices[0].finish_reason == "stop"


def test_n_2_returns_two_choices_from_two_answers(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("first", "second")
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, n=2)
    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.message.content for c in completion.choices] == ["first", "second"]
    assert all(c.finish_reason == "stop" for c in completion.choices)
    assert emulator.scripted.pending == 0


# --- the scripted backend --------------------------------------------------------------------------------


def test_scripted_answers_are_used_in_queue_order(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("first", "second")
    emulator.scripted.push("third")
    answers = [
        client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
        for _ in range(3)
    ]
    assert answers == ["first", "second", "third"]


def test_scripted_answers_can_be_queued_per_deployment(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("for mini", deployment="gpt-4o-mini")
    emulator.scripted.push("for 4o", deployment="gpt-4o")
    emulator.scripted.push("for anyone")
    first_4o = client.chat.completions.create(model="gpt-4o", messages=USER)
    first_mini = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    second_mini = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert first_4o.choices[0].message.content == "for 4o"
    assert first_mini.choices[0].message.content == "for mini"
    assert second_mini.choices[0].message.content == "for anyone"


def test_scripted_rules_answer_matching_requests_after_the_queue(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.on(lambda request: "weather" in request.last_user_text, "Sunny.")
    emulator.scripted.on(lambda request: request.deployment == "gpt-4o-mini", "Mini rule.")
    emulator.scripted.push("Queued first.")
    answers = [
        client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
        for _ in range(3)
    ]
    assert answers == ["Queued first.", "Sunny.", "Sunny."]
    mini = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert mini.choices[0].message.content == "Mini rule."


def test_callable_answers_see_the_request(client: AzureOpenAI, emulator: Emulator) -> None:
    seen: list[ChatRequest] = []

    def answer(request: ChatRequest) -> str:
        seen.append(request)
        return request.last_user_text.upper()

    emulator.scripted.push(answer)
    completion = client.chat.completions.create(model="gpt-4o", messages=USER, temperature=0.2)
    assert completion.choices[0].message.content == "WHAT IS THE WEATHER IN PARIS?"
    (request,) = seen
    assert request.deployment == "gpt-4o"
    assert request.model == "gpt-4o"
    assert request.body["temperature"] == 0.2


def test_exhausted_script_is_a_400_telling_how_to_push(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("only one")
    client.chat.completions.create(model="gpt-4o", messages=USER)
    error = _bad_request(lambda: client.chat.completions.create(model="gpt-4o", messages=USER))
    assert "emulator.scripted.push(" in error.body["message"]
    assert "'gpt-4o'" in error.body["message"]
    assert error.body["code"] == "EmulatorScriptExhausted"


def test_a_queued_answer_for_another_deployment_does_not_leak(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("for mini", deployment="gpt-4o-mini")
    _bad_request(lambda: client.chat.completions.create(model="gpt-4o", messages=USER))
    assert emulator.scripted.pending == 1


# --- the schema backend ---------------------------------------------------------------------------------


@pytest.fixture
def schema_client() -> Iterator[AzureOpenAI]:
    emulator = Emulator(backend="schema")
    client = emulator.client(max_retries=0)
    yield client
    client.close()
    emulator.close()


NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "priority": {"type": "string", "enum": ["low", "medium", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {
            "type": "object",
            "properties": {"email": {"type": "string"}, "active": {"type": "boolean"}},
            "required": ["email", "active"],
            "additionalProperties": False,
        },
        "estimate": {"anyOf": [{"type": "number"}, {"type": "null"}]},
    },
    "required": ["title", "priority", "tags", "owner", "estimate"],
    "additionalProperties": False,
}


def test_schema_backend_answers_json_schema_with_a_valid_value(schema_client: AzureOpenAI) -> None:
    completion = schema_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Create a ticket"}],
        response_format=_json_schema_format(NESTED_SCHEMA, name="Ticket"),
    )
    value = json.loads(completion.choices[0].message.content or "")
    jsonschema.validate(value, NESTED_SCHEMA)


def test_schema_backend_extracts_name_and_age_from_the_prompt(schema_client: AzureOpenAI) -> None:
    completion = schema_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "John is 30 years old"}],
        response_format=_json_schema_format(PERSON_SCHEMA),
    )
    assert json.loads(completion.choices[0].message.content or "") == {"name": "John", "age": 30}


def test_schema_backend_answers_a_forced_tool_with_valid_arguments(schema_client: AzureOpenAI) -> None:
    tool = {"type": "function", "function": {"name": "Person", "parameters": PERSON_SCHEMA}}
    completion = schema_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "John is 30 years old"}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "Person"}},
    )
    (call,) = completion.choices[0].message.tool_calls or []
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, PERSON_SCHEMA)
    assert arguments == {"name": "John", "age": 30}
    assert completion.choices[0].finish_reason == "stop"


def test_schema_backend_answers_plain_requests_with_text(schema_client: AzureOpenAI) -> None:
    completion = schema_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert "Say hello" in (completion.choices[0].message.content or "")


# --- bad requests: Azure's 400 body, never a 500 ------------------------------------------------------------


def test_malformed_json_body_is_a_400(client: AzureOpenAI) -> None:
    error = _bad_request(
        lambda: client.post(
            "/deployments/gpt-4o/chat/completions",
            content=b'{"messages": [',
            cast_to=object,
            options={"headers": {"Content-Type": "application/json"}},
        )
    )
    assert set(error.body) == AZURE_ERROR_KEYS
    assert error.body["type"] == "invalid_request_error"
    assert "could not parse the JSON body" in error.body["message"]


def test_missing_messages_is_a_400_missing_required_parameter(client: AzureOpenAI) -> None:
    error = _bad_request(lambda: client.post("/chat/completions", body={"model": "gpt-4o"}, cast_to=object))
    assert set(error.body) == AZURE_ERROR_KEYS
    assert error.body["code"] == "missing_required_parameter"
    assert error.body["param"] == "messages"
    assert error.body["message"] == "Missing required parameter: 'messages'."


@pytest.mark.parametrize(
    ("messages", "param", "fragment"),
    [
        ("When was Microsoft founded?", "messages", "expected an array"),
        ([], "messages", "too short"),
        ([{"role": "robot", "content": "beep"}], "messages[0].role", "Invalid value: 'robot'"),
        ([{"content": "no role"}], "messages[0].role", "Missing required parameter"),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "42"}],
            "messages[1].role",
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "user", "content": "and?"},
            ],
            "messages.[1].role",
            "did not have response messages: call_a",
        ),
        (
            [{"role": "user", "content": [{"type": "video", "url": "x"}]}],
            "messages[0].content[0].type",
            "Invalid value: 'video'",
        ),
    ],
)
def test_invalid_messages_are_a_400_with_azures_body(
    client: AzureOpenAI, emulator: Emulator, messages: Any, param: str, fragment: str
) -> None:
    emulator.scripted.push("never used")
    error = _bad_request(lambda: client.chat.completions.create(model="gpt-4o", messages=messages))
    assert set(error.body) == AZURE_ERROR_KEYS
    assert error.body["type"] == "invalid_request_error"
    assert error.body["param"] == param
    assert fragment in error.body["message"]
    assert emulator.scripted.pending == 1  # rejected before the backend
    assert emulator.last_request.status == 400


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": -0.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
    ],
)
def test_invalid_arguments_are_a_400_naming_the_parameter(
    client: AzureOpenAI, arguments: dict[str, Any], param: str
) -> None:
    error = _bad_request(lambda: client.chat.completions.create(model="gpt-4o", messages=USER, **arguments))
    assert error.body["param"] == param


def test_request_body_that_is_not_an_object_is_a_400(client: AzureOpenAI) -> None:
    error = _bad_request(
        lambda: client.post(
            "/deployments/gpt-4o/chat/completions",
            content=b"[1, 2, 3]",
            cast_to=object,
            options={"headers": {"Content-Type": "application/json"}},
        )
    )
    assert "expected an object" in error.body["message"]


def test_refusal_reply_sets_refusal_and_no_content(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(Reply(refusal="I can't help with that."))
    completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    message = completion.choices[0].message
    assert message.refusal == "I can't help with that."
    assert message.content is None
    assert completion.choices[0].finish_reason == "stop"


async def test_concurrent_async_requests_each_take_one_queued_answer(
    async_client: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    answers = [f"answer {i}" for i in range(8)]
    emulator.scripted.push(*answers)
    completions = await asyncio.gather(
        *(async_client.chat.completions.create(model="gpt-4o", messages=USER) for _ in answers)
    )
    assert sorted(c.choices[0].message.content or "" for c in completions) == sorted(answers)
    assert emulator.scripted.pending == 0
    assert len(emulator.requests) == len(answers)


def _file_part(file: Any) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": "Summarize"}, {"type": "file", "file": file}],
    }


def test_a_file_part_is_accepted_by_a_vision_deployment(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push("A one-page report.")
    file = {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}
    completion = azure_openai_client.chat.completions.create(model="gpt-4o", messages=[_file_part(file)])  # type: ignore[list-item]
    assert completion.choices[0].message.content == "A one-page report."


@pytest.mark.parametrize(
    ("model", "file", "param", "message"),
    [
        (
            "gpt-35-turbo",
            {"file_data": "data:application/pdf;base64,JVBE"},
            "messages[0].content[1].type",
            "does not support file content types",
        ),
        (
            "gpt-4o",
            {"filename": "r.pdf"},
            "messages[0].content[1].file.file_data",
            "Missing required parameter",
        ),
        ("gpt-4o", {"file_data": "JVBERi0xLjQK"}, "messages[0].content[1].file.file_data", "base64 data URL"),
    ],
)
def test_a_bad_file_part_is_azures_400(model: str, file: dict[str, Any], param: str, message: str) -> None:
    emulator = Emulator(
        deployments=[
            Deployment("gpt-4o", "gpt-4o", "2024-08-06", vision=True),
            Deployment("gpt-35-turbo", "gpt-35-turbo", "0125"),
        ]
    )
    with emulator.client(max_retries=0) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=[_file_part(file)])  # type: ignore[list-item]
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == param
    assert message in error["message"]
