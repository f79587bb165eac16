"""OpenTelemetry for extraction: a span per call, a child span per attempt, GenAI metrics.

Needs the `telemetry` extra (`pip install "instructor-az[telemetry]"`: opentelemetry-api). It is on
whenever an OpenTelemetry SDK tracer provider is set (and off otherwise, at no cost): every `create`
call, re-ask and stream is traced, and pipeline runs are parents of their rows. See
docs/observability.md. `disable()` / `enable(tracer_provider=..., meter_provider=...)` switch it for
the process (or point it at providers other than the global ones); message content is recorded only
with `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` (the conventions' switch, read when
telemetry is set up: the first traced call, and again after `enable()` or a provider change).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
except ImportError:  # pragma: no cover - the extra is not installed: telemetry is off
    trace = None  # type: ignore[assignment]

SCOPE = "instructor_az"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_OPENAI_V2 = "opentelemetry.instrumentation.openai_v2"
_state: dict[str, Any] = {
    "enabled": True,
    "tracer_provider": None,
    "meter_provider": None,
    #: the last providers looked up and what was made for them (a `_Setup`, or None: not yet / changed)
    "setup": None,
}


class _Setup:
    """The tracer and instruments made for one (tracer provider, meter provider) pair, and the shapes
    of the calls seen under them: made once, reused by every call until a provider changes."""

    __slots__ = ("capture_content", "instruments", "meter_provider", "shapes", "tracer", "tracer_provider")

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            own = version("instructor-az")
        except PackageNotFoundError:  # pragma: no cover
            own = None
        self.tracer_provider, self.meter_provider = tracer_provider, meter_provider
        self.tracer = tracer_provider.get_tracer(SCOPE, own)
        self.instruments: Any = None
        if type(meter_provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider"):
            from ._metrics import instruments

            self.instruments = instruments(meter_provider.get_meter(SCOPE))
        #: (response model, mode, api, deployment, server, stream, openai-v2 on) -> a `CallShape`
        self.shapes: dict[tuple[Any, ...], Any] = {}
        #: the conventions' switch, read when telemetry is set up (as instrumentors read it when
        #: they instrument): set it before, or call `enable()` again after setting it
        value = os.environ.get(CAPTURE_ENV, "")
        self.capture_content = value.strip().lower() in ("1", "true", "yes")


def enable(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Trace calls (the default: whenever a global tracer provider is set). `tracer_provider` /
    `meter_provider`: use these instead of the global ones (as OpenTelemetry instrumentors take them)."""
    _state["enabled"] = True
    _state["tracer_provider"] = tracer_provider
    _state["meter_provider"] = meter_provider
    _state["setup"] = None


def disable() -> None:
    """Trace nothing, whatever tracer provider is set (until `enable()`)."""
    _state["enabled"] = False
    _state["tracer_provider"] = _state["meter_provider"] = _state["setup"] = None


def _setup() -> _Setup | None:
    """What this library traces and measures with, or None when nothing would record its spans. The
    providers are looked up on every call (a global one may be set at any time); what is made for
    them only when they change."""
    if trace is None or not _state["enabled"]:
        return None
    provider = _state["tracer_provider"] or trace.get_tracer_provider()
    setup: _Setup | None = _state["setup"]
    if (
        setup is not None  # the usual case: nothing changed since the last call
        and setup.tracer_provider is provider
        and setup.meter_provider is (_state["meter_provider"] or metrics.get_meter_provider())
    ):
        return setup
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    setup = _state["setup"] = _Setup(provider, _state["meter_provider"] or metrics.get_meter_provider())
    return setup


def _tracer() -> Any:
    """This library's tracer, or None when nothing would record its spans."""
    setup = _setup()
    return None if setup is None else setup.tracer


def _openai_v2_on() -> bool:
    """Whether opentelemetry-instrumentation-openai-v2 instruments the SDK (it then makes the
    inference spans and the gen_ai.client.* metrics; ours nest under it without counting twice).
    Read from its (singleton) instrumentor as it is now, without importing it (not imported: not on)
    nor calling its constructor (which resets the instrumentor's meter)."""
    module = sys.modules.get(_OPENAI_V2)
    if module is None:
        return False
    instrumentor = getattr(getattr(module, "OpenAIInstrumentor", None), "_instance", None)
    return instrumentor is not None and bool(instrumentor.is_instrumented_by_opentelemetry)


def observer_for(
    *, response_model: str, mode: str, api: str, model: Any, client: Any, stream: str | None
) -> Any:
    """A `CallObserver` for one call, or None (telemetry off: nothing is done per call)."""
    setup = _setup()
    if setup is None:
        return None
    if _observing is None:
        _load_observer()
    inner = _openai_v2_on()
    deployment = model if isinstance(model, str) else None
    host, port = _observing.server_of(client)
    key = (response_model, mode, api, deployment, host, port, stream, inner)
    shape = setup.shapes.get(key)
    if shape is None:
        if len(setup.shapes) >= _SHAPES:  # response models made on the fly: do not grow without end
            setup.shapes.clear()
        shape = setup.shapes[key] = _observing.CallShape(
            response_model=response_model,
            mode=mode,
            api=api,
            model=deployment,
            server=(host, port),
            stream=stream,
            inner_spans=inner,
        )
    return _observing.CallObserver(
        setup.tracer, setup.instruments, shape, capture_content=setup.capture_content
    )


#: the call shapes a set-up keeps (beyond that it starts afresh)
_SHAPES = 256
#: `._observer`, imported by the first traced call (importing it needs the OpenTelemetry API)
_observing: Any = None


def _load_observer() -> None:
    global _observing
    from . import _observer

    _observing = _observer


def with_headers(raw_create: Any, observer: Any, is_async: bool) -> Any:
    """The SDK's `with_raw_response.create`, its headers handed to the attempt's span, the parsed
    object returned (a completion, or a stream)."""
    if is_async:

        async def acreate(**request: Any) -> Any:
            raw = await raw_create(**request)
            observer.headers(raw.headers)
            return raw.parse()

        return acreate

    def create(**request: Any) -> Any:
        raw = raw_create(**request)
        observer.headers(raw.headers)
        return raw.parse()

    return create


def start_run(name: str, **attributes: Any) -> Any:
    """A parent span for a pipeline or batch run (None when telemetry is off). Not made current: a
    run yields to its caller, so its rows get it as parent through `parent_of` instead."""
    tracer = _tracer()
    if tracer is None:
        return None
    return tracer.start_span(name, attributes={k: v for k, v in attributes.items() if v is not None})


@contextlib.contextmanager
def parent_of(span: Any) -> Iterator[None]:
    """`span` current inside the block (where a run creates the tasks of its rows, which copy it)."""
    if span is None or trace is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)


def end_run(span: Any, error: BaseException | None = None, **attributes: Any) -> None:
    if span is None:
        return
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, value)
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


__all__ = [
    "CAPTURE_ENV",
    "SCOPE",
    "disable",
    "enable",
    "end_run",
    "observer_for",
    "parent_of",
    "start_run",
    "with_headers",
]
