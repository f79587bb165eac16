"""One call's spans and metrics: a call span, and one child span per attempt.

`CallObserver` is told what the re-ask protocol does (`Attempts` calls it: an attempt starts, its
request is sent, its answer arrives or fails or is rejected with validation errors, the first partial
object comes out, the call ends) and turns it into OpenTelemetry: spans that follow the GenAI semantic
conventions (`gen_ai.*`) plus what only this library knows (`instructor_az.*`: the attempt number, the
mode, the response model, the validation errors behind each re-ask, content-filter categories, Azure's
region and deployment headers, streaming and the time to the first partial). It has no logic of the
loop: it only observes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._metrics import Instruments

PROVIDER = "azure.ai.openai"
_REQUEST_ATTRIBUTES = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}


def _server(client: Any) -> tuple[str | None, int | None]:
    base = getattr(client, "base_url", None)
    host = getattr(base, "host", None)
    port = getattr(base, "port", None)
    if host and port is None:
        port = 443 if getattr(base, "scheme", "https") == "https" else 80
    return host, port


def _finish_reasons(completion: Any) -> list[str]:
    choices = getattr(completion, "choices", None)
    if choices:
        return [str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)]
    status = getattr(completion, "status", None)  # the Responses API
    if status == "incomplete":
        details = getattr(completion, "incomplete_details", None)
        return [str(getattr(details, "reason", None) or "incomplete")]
    return ["stop"] if status == "completed" else ([str(status)] if status else [])


class CallObserver:
    """The telemetry of one `create` call."""

    def __init__(
        self,
        tracer: trace.Tracer,
        instruments: Instruments | None,
        *,
        response_model: str,
        mode: str,
        api: str,
        model: str | None,
        client: Any,
        stream: str | None,
        capture_content: bool,
        inner_spans: bool,
    ) -> None:
        self.tracer, self.instruments = tracer, instruments
        self.model, self.mode, self.api = model, mode, api
        self.capture_content = capture_content
        #: another instrumentation (openai-v2) makes the inference spans and metrics: ours stay INTERNAL
        self.inner_spans = inner_spans
        self.server = _server(client)
        self.base: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER,
            "instructor_az.mode": mode,
            "instructor_az.response_model": response_model,
            "instructor_az.api": api,
        }
        if model:
            self.base["gen_ai.request.model"] = model
        if self.server[0]:
            self.base["server.address"] = self.server[0]
        if self.server[1] is not None:
            self.base["server.port"] = self.server[1]
        self.started = time.monotonic()
        # The call's span is not an inference span (its attempts are): no gen_ai operation or usage
        # of its own, so backends that sum GenAI spans do not count a call twice.
        call = {
            k: v for k, v in self.base.items() if k not in ("gen_ai.operation.name", "gen_ai.provider.name")
        }
        self.span = tracer.start_span(
            f"create {response_model}",
            kind=SpanKind.INTERNAL,
            attributes={**call, "instructor_az.stream": stream or "none"},
        )
        self._context = trace.set_span_in_context(self.span)
        self.attempt: trace.Span | None = None
        self.attempt_t0 = 0.0
        self.number = 0
        self.reasks = 0
        self._token: Any = None
        self._first_output = False

    # --- an attempt ----------------------------------------------------------------------------------

    def attempt_started(self, request: Mapping[str, Any]) -> None:
        self._end_attempt(None)  # a request sent again under another plan (Mode.AUTO) starts afresh
        self.number += 1
        attributes = dict(self.base)
        attributes["instructor_az.attempt"] = self.number
        attributes["gen_ai.output.type"] = "json"
        for key, name in _REQUEST_ATTRIBUTES.items():
            value = request.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = value
        if self.capture_content:
            conversation = request.get("messages", request.get("input"))
            attributes["gen_ai.input.messages"] = json.dumps(conversation, default=str)[:65_536]
        name = f"attempt {self.number}" if self.inner_spans else f"chat {self.model or ''}".strip()
        kind = SpanKind.INTERNAL if self.inner_spans else SpanKind.CLIENT
        self.attempt = self.tracer.start_span(name, context=self._context, kind=kind, attributes=attributes)
        self.attempt_t0 = time.monotonic()
        # Current while the SDK sends it, so an HTTP or openai-v2 span nests under the attempt.
        self._token = otel_context.attach(trace.set_span_in_context(self.attempt))

    def sent(self) -> None:
        """The request is out (its answer, or a stream's first bytes, came back): no longer current."""
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None

    def headers(self, headers: Mapping[str, str]) -> None:
        span = self.attempt
        if span is None:
            return
        for header, name in (
            ("x-ms-region", "instructor_az.azure.region"),
            ("x-ms-deployment-name", "instructor_az.azure.deployment"),
            ("x-ms-spillover-from-deployment", "instructor_az.azure.spillover_from"),
            ("apim-request-id", "instructor_az.azure.request_id"),
            ("x-instructor-az-target", "instructor_az.router.target"),
        ):
            value = headers.get(header)
            if value:
                span.set_attribute(name, value)

    def answered(self, completion: Any, usage: Any) -> None:
        span = self.attempt
        if span is None:
            return
        model = getattr(completion, "model", None)
        if model:
            span.set_attribute("gen_ai.response.model", model)
        response_id = getattr(completion, "id", None)
        if response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        reasons = _finish_reasons(completion)
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        if usage.estimated_requests:
            span.set_attribute("instructor_az.usage.estimated", True)
        if self.capture_content:
            span.set_attribute("gen_ai.output.messages", _answer_text(completion)[:65_536])
        self._tokens(usage, model)

    def rejected(self, error: BaseException, errors: list[Mapping[str, Any]], text: str) -> None:
        """The answer failed validation: the errors that cause the re-ask."""
        span = self.attempt
        self.reasks += 1
        if self.instruments is not None:
            self.instruments.validation_failures.add(1, self._metric_attributes())
        if span is None:
            return
        span.set_attribute("error.type", type(error).__name__)
        span.set_attribute("instructor_az.validation_errors", text[:8192])
        span.add_event(
            "instructor_az.validation_error",
            {
                "instructor_az.error_count": len(errors),
                "instructor_az.error_paths": [str(e.get("path") or e.get("loc") or "") for e in errors][:50],
            },
        )
        self._end_attempt(error, status=False)

    def failed(self, error: BaseException) -> None:
        """A request failed, or an answer Azure stopped (content filter, cut off): the call ends."""
        span = self.attempt
        if span is not None:
            span.set_attribute("error.type", getattr(error, "code", None) or type(error).__name__)
            categories = getattr(error, "categories", None)
            if isinstance(categories, Mapping) and categories:
                flagged = [name for name, result in categories.items() if getattr(result, "filtered", False)]
                span.set_attribute("instructor_az.content_filter.categories", flagged or list(categories))
                span.set_attribute("instructor_az.content_filter.source", str(getattr(error, "source", "")))
        self._end_attempt(error)

    def succeeded(self) -> None:
        self._end_attempt(None)

    def first_output(self) -> None:
        if not self._first_output:
            self._first_output = True
            seconds = time.monotonic() - self.started
            self.span.set_attribute("instructor_az.first_output_s", seconds)
            if self.attempt is not None:
                self.attempt.add_event("instructor_az.first_output")

    def _end_attempt(self, error: BaseException | None, *, status: bool = True) -> None:
        self.sent()
        span, self.attempt = self.attempt, None
        if span is None:
            return
        if error is not None and status:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.record_exception(error)
        if self.instruments is not None and not self.inner_spans:
            attributes = self._metric_attributes()
            if error is not None:
                attributes["error.type"] = type(error).__name__
            self.instruments.duration.record(time.monotonic() - self.attempt_t0, attributes)
        span.end()

    def _tokens(self, usage: Any, model: str | None) -> None:
        if self.instruments is None or self.inner_spans:
            return
        attributes = self._metric_attributes()
        if model:
            attributes["gen_ai.response.model"] = model
        self.instruments.tokens.record(usage.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
        self.instruments.tokens.record(usage.completion_tokens, {**attributes, "gen_ai.token.type": "output"})

    def _metric_attributes(self) -> dict[str, Any]:
        keep = (
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "server.address",
            "server.port",
            "instructor_az.mode",
        )
        return {k: self.base[k] for k in keep if k in self.base}

    # --- the call -----------------------------------------------------------------------------------

    def ended(self, error: BaseException | None, usage: Any, attempts: int) -> None:
        self._end_attempt(error) if self.attempt is not None else None
        span = self.span
        span.set_attribute("instructor_az.attempts", attempts)
        span.set_attribute("instructor_az.reasks", self.reasks)
        span.set_attribute("instructor_az.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("instructor_az.usage.output_tokens", usage.completion_tokens)
        if self.instruments is not None and self.reasks:
            self.instruments.reasks.add(self.reasks, self._metric_attributes())
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()


def _answer_text(completion: Any) -> str:
    choices = getattr(completion, "choices", None)
    if choices:
        message = choices[0].message
        calls = getattr(message, "tool_calls", None) or []
        return message.content or "".join(c.function.arguments for c in calls if getattr(c, "function", None))
    from .._answer_checks import response_text

    return response_text(completion)
