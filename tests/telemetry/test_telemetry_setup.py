"""What is looked up once and what on every call: providers, openai-v2, sampling; metric and header shapes."""

from __future__ import annotations

import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind
from telemetry_kit import MESSAGES, Otel, User

import instructor_az
from instructor_az import ContentFilterError, telemetry
from instructor_az._errors import Usage
from instructor_az.emulator import Emulator, Fault

#: the conventions' required metric attributes (with gen_ai.request.model: known for every call here)
GENAI = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model"}


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_metric_points_carry_the_conventions_attributes(otel: Otel, emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    emulator.scripted.push({"name": "John", "age": 30})
    client.create(response_model=User, messages=MESSAGES)
    emulator.scripted.push({"name": "John", "age": 30})
    emulator.inject(Fault.completion_filter(after_chars=5, violence="high"))
    with pytest.raises(ContentFilterError):
        client.create(response_model=User, messages=MESSAGES)

    tokens = otel.metric("gen_ai.client.token.usage")
    assert {p.attributes["gen_ai.token.type"] for p in tokens} == {"input", "output"}
    for point in tokens:
        assert set(point.attributes) == GENAI | {"gen_ai.token.type"}
        assert point.attributes["gen_ai.operation.name"] == "chat"
        assert point.attributes["gen_ai.provider.name"] == "azure.ai.openai"
        assert point.attributes["gen_ai.request.model"] == "gpt-4o"
    assert sum(p.count for p in tokens) == 4  # input and output, per attempt
    durations = otel.metric("gen_ai.client.operation.duration")
    ok, failed = sorted(durations, key=lambda p: "error.type" in p.attributes)
    assert set(ok.attributes) == GENAI
    assert set(failed.attributes) == GENAI | {"error.type"}
    assert failed.attributes["error.type"] == "ContentFilterError"
    assert ok.count == failed.count == 1
    # the server and the response model are the attempts' (not the points')
    for attempt in otel.named("chat "):
        assert attempt.attributes["server.address"] == "emulator.openai.azure.com"
        assert attempt.attributes["server.port"] == 443
        assert attempt.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    for call in otel.named("create "):
        assert "server.address" not in call.attributes


def test_request_parameters_and_every_azure_header_reach_the_attempt(otel: Otel, emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    client.create(response_model=User, messages=MESSAGES, temperature=0.5, max_tokens=200, seed=7)
    (attempt,) = otel.named("chat ")
    a = attempt.attributes
    assert a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.max_tokens"] == 200
    assert a["gen_ai.request.seed"] == 7
    assert a["instructor_az.azure.region"] == "Sweden Central"
    assert a["instructor_az.azure.deployment"] == "gpt-4o"
    assert a["instructor_az.azure.request_id"]
    assert "instructor_az.azure.spillover_from" not in a  # not sent: not recorded


def _observer() -> object:
    return telemetry.observer_for(
        response_model="User", mode="tools", api="chat", model="gpt-4o", client=None, stream=None
    )


@pytest.mark.parametrize("kind", ["httpx", "mapping"])
def test_headers_are_read_in_one_pass_whatever_their_case(otel: Otel, kind: str) -> None:
    sent = [
        ("X-MS-Region", "East US"),
        ("x-ms-deployment-name", "gpt-4o"),
        ("X-Ms-Spillover-From-Deployment", "gpt-4o-ptu"),
        ("apim-request-id", "abc"),
        ("x-instructor-az-target", "eastus"),
        ("content-type", "application/json"),
        ("x-ms-region-unrelated", "no"),
    ]
    headers = httpx2.Headers(sent) if kind == "httpx" else {k.lower(): v for k, v in sent}
    observer: object = _observer()
    observer.attempt_started({"messages": MESSAGES})  # type: ignore[attr-defined]
    observer.headers(headers)  # type: ignore[attr-defined]
    observer.sent()  # type: ignore[attr-defined]
    observer.succeeded()  # type: ignore[attr-defined]
    observer.ended(None, Usage(), 1)  # type: ignore[attr-defined]
    (attempt,) = otel.named("chat ")
    azure = {
        k: v
        for k, v in attempt.attributes.items()
        if k.startswith(("instructor_az.azure", "instructor_az.router"))
    }
    assert azure == {
        "instructor_az.azure.region": "East US",
        "instructor_az.azure.deployment": "gpt-4o",
        "instructor_az.azure.spillover_from": "gpt-4o-ptu",
        "instructor_az.azure.request_id": "abc",
        "instructor_az.router.target": "eastus",
    }


def test_providers_are_looked_up_again_when_they_change(emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    first, first_spans = _provider()
    second, second_spans = _provider()
    reader = InMemoryMetricReader()
    try:
        telemetry.enable(tracer_provider=first)
        client.create(response_model=User, messages=MESSAGES)
        client.create(response_model=User, messages=MESSAGES)
        telemetry.enable(tracer_provider=second, meter_provider=MeterProvider(metric_readers=[reader]))
        client.create(response_model=User, messages=MESSAGES)
        telemetry.disable()
        assert _observer() is None
        client.create(response_model=User, messages=MESSAGES)
        telemetry.enable(tracer_provider=first)
        client.create(response_model=User, messages=MESSAGES)
    finally:
        telemetry.enable()
    assert _observer() is None  # no global provider in the tests: off again
    assert len([s for s in first_spans.get_finished_spans() if s.name == "create User"]) == 3
    assert len([s for s in second_spans.get_finished_spans() if s.name == "create User"]) == 1
    data = reader.get_metrics_data()
    names = (
        {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics} if data else set()
    )
    assert "gen_ai.client.token.usage" in names  # the second meter provider got the call made under it


def test_openai_v2_is_seen_as_it_is_at_each_call(otel: Otel, emulator: Emulator) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
    client.create(response_model=User, messages=MESSAGES)  # before: ours is the inference span
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, meter_provider=telemetry._state["meter_provider"]
    )
    try:
        client.create(response_model=User, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    client.create(response_model=User, messages=MESSAGES)  # after: ours again
    ours = sorted(
        (
            s
            for s in otel.spans()
            if s.instrumentation_scope.name == telemetry.SCOPE and s.name != "create User"
        ),
        key=lambda s: s.start_time,
    )
    assert [(s.name, s.kind) for s in ours] == [
        ("chat gpt-4o", SpanKind.CLIENT),
        ("attempt 1", SpanKind.INTERNAL),
        ("chat gpt-4o", SpanKind.CLIENT),
    ]


def test_unsampled_calls_record_no_spans_but_their_metrics(emulator: Emulator) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    telemetry.enable(tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader]))
    try:
        emulator.scripted.push({"name": "john", "age": 30}, {"name": "John", "age": 30})
        client = instructor_az.from_openai(emulator.client(), model="gpt-4o")
        assert client.create(response_model=User, messages=MESSAGES) == User(name="John", age=30)
    finally:
        telemetry.enable()
    assert exporter.get_finished_spans() == ()
    data = reader.get_metrics_data()
    points = {
        m.name: m.data.data_points for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
    }
    assert sum(p.count for p in points["gen_ai.client.operation.duration"]) == 2
    assert sum(p.value for p in points["instructor_az.client.reasks"]) == 1
