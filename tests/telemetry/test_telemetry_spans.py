"""Spans and metrics for success, re-ask, content filter, length, streaming, pipelines; and off."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_kit import MESSAGES, Otel, User

import instructor_az
from instructor_az import ContentFilterError, IncompleteOutputException, Mode, telemetry
from instructor_az.emulator import DEFAULT_API_KEY, Emulator, Fault


def test_a_call_is_a_span_with_one_genai_child_per_attempt(otel: Otel, emulator: Emulator) -> None:
    emulator.scripted.push({"name": "john", "age": 30}, {"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    assert client.create(response_model=User, messages=MESSAGES) == User(name="John", age=30)

    (call,) = otel.named("create ")
    first, second = sorted(otel.named("chat "), key=lambda s: s.attributes["instructor_az.attempt"])
    assert call.name == "create User"
    assert first.parent.span_id == call.context.span_id
    assert second.parent.span_id == call.context.span_id
    assert first.kind is SpanKind.CLIENT
    a = first.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "azure.ai.openai"
    assert a["gen_ai.request.model"] == "gpt-4o"
    assert a["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert a["gen_ai.response.id"].startswith("chatcmpl")
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] > 0
    assert a["server.address"] == "emulator.openai.azure.com"
    assert a["server.port"] == 443
    assert a["gen_ai.output.type"] == "json"
    assert a["instructor_az.attempt"] == 1
    # what the call asked for is the call span's, not repeated on each attempt
    assert call.attributes["instructor_az.mode"] == "tools"
    assert call.attributes["instructor_az.response_model"] == "User"
    assert call.attributes["instructor_az.api"] == "chat"
    assert call.attributes["instructor_az.stream"] == "none"
    assert call.attributes["gen_ai.request.model"] == "gpt-4o"
    assert "instructor_az.mode" not in a
    assert "instructor_az.response_model" not in a
    assert a["instructor_az.azure.region"] == "Sweden Central"
    assert a["instructor_az.azure.deployment"] == "gpt-4o"
    # why it was re-asked: the validation error, on the attempt that failed
    assert a["error.type"] == "ValidationError"
    assert "capital letter" in a["instructor_az.validation_errors"]
    assert [e.name for e in first.events] == ["instructor_az.validation_error"]
    assert "error.type" not in second.attributes
    assert call.attributes["instructor_az.attempts"] == 2
    assert call.attributes["instructor_az.reasks"] == 1
    total = first.attributes["gen_ai.usage.input_tokens"] + second.attributes["gen_ai.usage.input_tokens"]
    assert call.attributes["instructor_az.usage.input_tokens"] == total
    assert "gen_ai.operation.name" not in call.attributes  # not an inference span: no double count
    for span in otel.spans():
        assert DEFAULT_API_KEY not in str(dict(span.attributes))

    tokens = otel.metric("gen_ai.client.token.usage")
    assert sum(p.sum for p in tokens if p.attributes["gen_ai.token.type"] == "input") == total
    assert {p.attributes["gen_ai.request.model"] for p in tokens} == {"gpt-4o"}
    assert sum(p.count for p in otel.metric("gen_ai.client.operation.duration")) == 2
    assert sum(p.value for p in otel.metric("instructor_az.client.reasks")) == 1
    assert sum(p.value for p in otel.metric("instructor_az.client.validation_failures")) == 1


def test_content_filter_and_length_end_the_call_with_their_error(otel: Otel, emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    emulator.scripted.push({"name": "John", "age": 30})
    emulator.inject(Fault.completion_filter(after_chars=5, violence="high"))
    with pytest.raises(ContentFilterError):
        client.create(response_model=User, messages=MESSAGES)
    emulator.scripted.push({"name": "John", "age": 30})
    emulator.inject(Fault.length(after_chars=8))
    with pytest.raises(IncompleteOutputException):
        client.create(response_model=User, messages=MESSAGES)
    filtered, cut = sorted(otel.named("chat "), key=lambda s: s.start_time)
    assert filtered.status.status_code is StatusCode.ERROR
    assert filtered.attributes["gen_ai.response.finish_reasons"] == ("content_filter",)
    assert "violence" in filtered.attributes["instructor_az.content_filter.categories"]
    assert cut.attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert cut.attributes["error.type"] == "IncompleteOutputException"
    calls = otel.named("create ")
    assert [c.status.status_code for c in calls] == [StatusCode.ERROR, StatusCode.ERROR]


def test_a_prompt_filter_is_a_failed_attempt(otel: Otel, emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(max_retries=0), model="gpt-4o")
    emulator.inject(Fault.prompt_filter(jailbreak="detected"))
    with pytest.raises(instructor_az.PromptFilterError):
        client.create(response_model=User, messages=MESSAGES)
    (attempt,) = otel.named("chat ")
    assert attempt.attributes["instructor_az.content_filter.source"] == "prompt"
    assert "jailbreak" in attempt.attributes["instructor_az.content_filter.categories"]


async def test_streams_say_so_and_when_the_first_partial_came(otel: Otel, emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.async_client(), model="gpt-4o", mode=Mode.JSON_SCHEMA)
    partials = [p async for p in client.create_partial(response_model=User, messages=MESSAGES)]
    assert partials[-1] == User(name="John", age=30)
    (call,) = otel.named("create ")
    (attempt,) = otel.named("chat ")
    assert call.attributes["instructor_az.stream"] == "partial"
    assert 0 < call.attributes["instructor_az.first_output_s"] <= (call.end_time - call.start_time) / 1e9
    assert "instructor_az.first_output" in [e.name for e in attempt.events]
    assert attempt.parent.span_id == call.context.span_id


def test_a_call_inside_the_users_span_is_its_child_and_the_sdk_call_is_the_attempts(
    otel: Otel, emulator: Emulator
) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    tracer = otel.tracer_provider.get_tracer("app")
    seen_inside = []
    client.on("completion:kwargs", lambda **_: seen_inside.append(trace.get_current_span()))
    with tracer.start_as_current_span("handle ticket") as parent:
        client.create(response_model=User, messages=MESSAGES)
    (call,) = otel.named("create ")
    (attempt,) = otel.named("chat ")
    assert call.parent.span_id == parent.get_span_context().span_id
    assert seen_inside[0].get_span_context().span_id == attempt.context.span_id  # current while it is sent
    assert trace.get_current_span() is trace.INVALID_SPAN  # and not after


def test_a_pipeline_run_is_the_parent_of_its_rows(otel: Otel, emulator: Emulator) -> None:
    emulator.scripted.on(lambda request: True, {"name": "Ann", "age": 5})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    outcomes = list(instructor_az.extract_many(client, [f"row {i}" for i in range(6)], response_model=User))
    assert all(o.ok for o in outcomes)
    (run,) = otel.named("instructor_az.pipeline")
    calls = otel.named("create ")
    assert len(calls) == 6
    assert all(c.parent.span_id == run.context.span_id for c in calls)
    assert run.attributes["instructor_az.rows.ok"] == 6
    assert run.attributes["instructor_az.response_model"] == "User"


def test_content_is_recorded_only_when_asked(otel: Otel, emulator: Emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    client.create(response_model=User, messages=MESSAGES)
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "true")
    client.create(response_model=User, messages=MESSAGES)  # read when telemetry was set up: still off
    telemetry.enable(tracer_provider=otel.tracer_provider, meter_provider=telemetry._state["meter_provider"])
    client.create(response_model=User, messages=MESSAGES)  # set up again: read again
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "false")
    telemetry.enable(tracer_provider=otel.tracer_provider, meter_provider=telemetry._state["meter_provider"])
    client.create(response_model=User, messages=MESSAGES)
    quiet, still_quiet, loud, quiet_again = sorted(otel.named("chat "), key=lambda s: s.start_time)
    for span in (quiet, still_quiet, quiet_again):
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
    assert "John is 30" in loud.attributes["gen_ai.input.messages"]
    assert '"John"' in loud.attributes["gen_ai.output.messages"]


def test_off_means_no_spans_and_no_observer(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    state = client._attempts(User, {"messages": MESSAGES}, None, None)
    assert state.observer is None  # no global tracer provider in the tests: nothing is done per call
    telemetry.disable()
    try:
        assert client.create(response_model=User, messages=MESSAGES) == User(name="John", age=30)
    finally:
        telemetry.enable()


def test_alongside_openai_v2_instrumentation_nothing_is_counted_twice(otel: Otel, emulator: Emulator) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, meter_provider=telemetry._state["meter_provider"]
    )
    try:
        emulator.scripted.push({"name": "John", "age": 30})
        client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
        client.create(response_model=User, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    (call,) = otel.named("create ")
    (attempt,) = otel.named("attempt ")
    theirs = [s for s in otel.spans() if s.name.startswith("chat ")]
    assert attempt.kind is SpanKind.INTERNAL  # theirs is the inference span, nested under our attempt
    assert attempt.parent.span_id == call.context.span_id
    assert len(theirs) == 1
    assert theirs[0].parent.span_id == attempt.context.span_id
    assert attempt.attributes["instructor_az.attempt"] == 1
    tokens = otel.metric("gen_ai.client.token.usage")
    inputs = [p for p in tokens if p.attributes.get("gen_ai.token.type") == "input"]
    assert sum(p.count for p in inputs) == 1  # recorded once (by openai-v2), not twice


def test_responses_api_calls_are_traced_the_same_way(otel: Otel, emulator: Emulator) -> None:
    emulator.scripted.push({"name": "john", "age": 30}, {"name": "John", "age": 30})
    client = instructor_az.from_openai(
        emulator.client(api_version="2025-04-01-preview"), model="gpt-4o", mode=Mode.RESPONSES_TOOLS
    )
    assert client.responses.create(response_model=User, input="john, 30") == User(name="John", age=30)
    (call,) = otel.named("create ")
    attempts = sorted(otel.named("chat "), key=lambda s: s.attributes["instructor_az.attempt"])
    assert call.attributes["instructor_az.api"] == "responses"
    assert [a.attributes["instructor_az.attempt"] for a in attempts] == [1, 2]
    assert attempts[0].attributes["gen_ai.response.id"].startswith("resp")
    assert attempts[0].attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "capital letter" in attempts[0].attributes["instructor_az.validation_errors"]
    assert attempts[1].attributes["gen_ai.usage.output_tokens"] > 0
    assert call.attributes["instructor_az.mode"] == "responses_tools"
