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
#: Azure's response headers (lower case, as bytes: read in one pass over the raw headers) -> attribute
_HEADERS = {
    b"x-ms-region": "instructor_az.azure.region",
    b"x-ms-deployment-name": "instructor_az.azure.deployment",
    b"x-ms-spillover-from-deployment": "instructor_az.azure.spillover_from",
    b"apim-request-id": "instructor_az.azure.request_id",
    b"x-instructor-az-target": "instructor_az.router.target",
}
_CONTENT_LIMIT = 65_536


def server_of(client: Any) -> tuple[str | None, int | None]:
    """`server.address` and `server.port` of an SDK client (its base URL). The SDK keeps it in
    `_base_url`; its `base_url` property (the fallback) imports a module on every read."""
    base = getattr(client, "_base_url", None)
    if base is None:
        base = getattr(client, "base_url", None)
    host = getattr(base, "host", None)
    port = getattr(base, "port", None)
    if host and port is None:
        port = 443 if getattr(base, "scheme", "https") == "https" else 80
    return host or None, port if host else None


def _finish_reasons(completion: Any) -> tuple[str, ...]:
    choices = getattr(completion, "choices", None)
    if choices:
        return tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None))
    status = getattr(completion, "status", None)  # the Responses API
    if status == "incomplete":
        details = getattr(completion, "incomplete_details", None)
        return (str(getattr(details, "reason", None) or "incomplete"),)
    return ("stop",) if status == "completed" else ((str(status),) if status else ())


class CallShape:
    """What every call of one shape (response model, mode, API, deployment, server, stream, beside
    openai-v2 or not) records alike: span names and kinds, the attributes spans start with, the
    metrics' attributes. Made once per shape (`observer_for` keeps them), never changed after."""

    __slots__ = (
        "attempt_attributes",
        "attempt_kind",
        "call_attributes",
        "call_name",
        "chat_name",
        "inner_spans",
        "metric_attributes",
        "model",
        "tokens_input",
        "tokens_output",
    )

    def __init__(
        self,
        *,
        response_model: str,
        mode: str,
        api: str,
        model: str | None,
        server: tuple[str | None, int | None],
        stream: str | None,
        inner_spans: bool,
    ) -> None:
        self.model = model
        #: another instrumentation (openai-v2) makes the inference spans and metrics: ours stay INTERNAL
        self.inner_spans = inner_spans
        deployment = {"gen_ai.request.model": model} if model else {}
        self.call_name = f"create {response_model}"
        # The call's span is not an inference span (its attempts are): no gen_ai operation, server or
        # usage of its own, so backends that sum GenAI spans do not count a call twice. What the call
        # asked for (response model, mode, API, deployment, streaming) is here, not on each attempt.
        self.call_attributes: dict[str, Any] = {
            "instructor_az.response_model": response_model,
            "instructor_az.mode": mode,
            "instructor_az.api": api,
            **deployment,
            "instructor_az.stream": stream or "none",
        }
        genai = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": PROVIDER, **deployment}
        # The inference span's: the conventions' required and conditionally required attributes,
        # the server (`server.port` goes with `server.address`).
        self.attempt_kind = SpanKind.INTERNAL if inner_spans else SpanKind.CLIENT
        self.attempt_attributes: dict[str, Any] = dict(genai)
        host, port = server
        if host:
            self.attempt_attributes["server.address"] = host
            if port is not None:
                self.attempt_attributes["server.port"] = port
        self.attempt_attributes["gen_ai.output.type"] = "json"
        # The metrics': the conventions' required set only (operation, provider, deployment; the
        # token type): each attribute of a point costs as much as a tenth of the point itself, and
        # the server and the response model are on the attempt's span.
        self.metric_attributes: dict[str, Any] = genai
        self.tokens_input = {**genai, "gen_ai.token.type": "input"}
        self.tokens_output = {**genai, "gen_ai.token.type": "output"}
        #: the attempt span's name (beside openai-v2: `attempt {n}`)
        self.chat_name = f"chat {model}" if model else "chat"


class CallObserver:
    """The telemetry of one `create` call. An attempt's attributes are gathered as its steps come
    (headers, answer, rejection or failure) and set on its span once, when it ends."""

    __slots__ = (
        "_context",
        "_first_output",
        "_pending",
        "_token",
        "_tokens",
        "attempt",
        "attempt_t0",
        "capture_content",
        "inner_spans",
        "instruments",
        "number",
        "reasks",
        "shape",
        "span",
        "started",
        "tracer",
    )

    def __init__(
        self,
        tracer: trace.Tracer,
        instruments: Instruments | None,
        shape: CallShape,
        *,
        capture_content: bool,
    ) -> None:
        self.tracer, self.instruments, self.shape = tracer, instruments, shape
        self.capture_content = capture_content
        self.inner_spans = shape.inner_spans
        self.started = time.monotonic()
        self.span = tracer.start_span(
            shape.call_name, kind=SpanKind.INTERNAL, attributes=shape.call_attributes
        )
        self._context = trace.set_span_in_context(self.span)
        self.attempt: trace.Span | None = None
        self.attempt_t0 = 0.0
        self.number = 0
        self.reasks = 0
        self._token: Any = None
        self._first_output = False
        #: the attempt's input and output tokens, not yet recorded
        self._tokens: tuple[int, int] | None = None
        #: the attempt's attributes not yet set on its span (None: it does not record them)
        self._pending: dict[str, Any] | None = None

    # --- an attempt ----------------------------------------------------------------------------------

    def attempt_started(self, request: Mapping[str, Any]) -> None:
        if self.attempt is not None:  # a request sent again under another plan (Mode.AUTO): afresh
            self._end_attempt(None)
        self.number += 1
        shape = self.shape
        attributes = dict(shape.attempt_attributes)
        attributes["instructor_az.attempt"] = self.number
        for key, value in request.items():  # a few keys: fewer lookups than the names sought
            name = _REQUEST_ATTRIBUTES.get(key)
            if name is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = value
        if self.capture_content:
            conversation = request.get("messages", request.get("input"))
            attributes["gen_ai.input.messages"] = json.dumps(conversation, default=str)[:_CONTENT_LIMIT]
        span = self.attempt = self.tracer.start_span(
            f"attempt {self.number}" if self.inner_spans else shape.chat_name,
            context=self._context,
            kind=shape.attempt_kind,
            attributes=attributes,
        )
        self._pending = {} if span.is_recording() else None
        self.attempt_t0 = time.monotonic()
        # Current while the SDK sends it, so an HTTP or openai-v2 span nests under the attempt.
        self._token = otel_context.attach(trace.set_span_in_context(span))

    def sent(self) -> None:
        """The request is out (its answer, or a stream's first bytes, came back): no longer current."""
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None

    def headers(self, headers: Mapping[str, str]) -> None:
        pending = self._pending
        if pending is None:
            return
        # httpx's Headers: one pass over its (raw key, lower-case key, value) list, rather than a
        # case-insensitive lookup (a pass of its own) per header; its public `raw` if that changes
        items = getattr(headers, "_list", None)
        if not isinstance(items, list) or (items and len(items[0]) != 3):
            raw = getattr(headers, "raw", None)
            items = [(k, k.lower(), v) for k, v in raw] if isinstance(raw, list) else None
        if items is not None:
            for _, key, value in items:
                name = _HEADERS.get(key)
                if name is not None and value:
                    text = value.decode("latin-1")
                    pending[name] = f"{pending[name]}, {text}" if name in pending else text
            return
        for header, name in _HEADERS.items():
            found = headers.get(header.decode())
            if found:
                pending[name] = found

    def answered(self, completion: Any, usage: Any) -> None:
        model = getattr(completion, "model", None)
        pending = self._pending
        if pending is not None:
            if model:
                pending["gen_ai.response.model"] = model
            response_id = getattr(completion, "id", None)
            if response_id:
                pending["gen_ai.response.id"] = response_id
            reasons = _finish_reasons(completion)
            if reasons:
                pending["gen_ai.response.finish_reasons"] = reasons
            pending["gen_ai.usage.input_tokens"] = usage.prompt_tokens
            pending["gen_ai.usage.output_tokens"] = usage.completion_tokens
            if usage.estimated_requests:
                pending["instructor_az.usage.estimated"] = True
            if self.capture_content:
                pending["gen_ai.output.messages"] = _answer_text(completion)[:_CONTENT_LIMIT]
        if self.instruments is not None and not self.inner_spans:
            if self._tokens is not None:  # (an attempt answered twice: never so far)
                self._record_tokens()
            self._tokens = (usage.prompt_tokens, usage.completion_tokens)
            if self.attempt is None:
                self._record_tokens()
            # else: recorded with the attempt's duration when it ends, the three points together

    def _record_tokens(self) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is not None and self.instruments is not None:
            self.instruments.tokens.record(tokens[0], self.shape.tokens_input)
            self.instruments.tokens.record(tokens[1], self.shape.tokens_output)

    def rejected(self, error: BaseException, errors: list[Mapping[str, Any]], text: str) -> None:
        """The answer failed validation: the errors that cause the re-ask."""
        self.reasks += 1
        if self.instruments is not None:
            self.instruments.validation_failures.add(1, self.shape.metric_attributes)
        span, pending = self.attempt, self._pending
        if span is None:
            return
        if pending is not None:
            pending["error.type"] = type(error).__name__
            pending["instructor_az.validation_errors"] = text[:8192]
            span.add_event(
                "instructor_az.validation_error",
                {
                    "instructor_az.error_count": len(errors),
                    "instructor_az.error_paths": [str(e.get("path") or e.get("loc") or "") for e in errors][
                        :50
                    ],
                },
            )
        self._end_attempt(error, status=False)

    def failed(self, error: BaseException) -> None:
        """A request failed, or an answer Azure stopped (content filter, cut off): the call ends."""
        pending = self._pending
        if pending is not None:
            pending["error.type"] = getattr(error, "code", None) or type(error).__name__
            categories = getattr(error, "categories", None)
            if isinstance(categories, Mapping) and categories:
                flagged = [name for name, result in categories.items() if getattr(result, "filtered", False)]
                pending["instructor_az.content_filter.categories"] = flagged or list(categories)
                pending["instructor_az.content_filter.source"] = str(getattr(error, "source", ""))
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
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        span, self.attempt = self.attempt, None
        if span is None:
            return
        pending, self._pending = self._pending, None
        if pending:
            span.set_attributes(pending)
        if error is not None and status:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.record_exception(error)
        if self.instruments is not None and not self.inner_spans:
            seconds = time.monotonic() - self.attempt_t0
            self._record_tokens()
            attributes = self.shape.metric_attributes
            if error is not None:
                attributes = {**attributes, "error.type": type(error).__name__}
            self.instruments.duration.record(seconds, attributes)
        span.end()

    # --- the call -----------------------------------------------------------------------------------

    def ended(self, error: BaseException | None, usage: Any, attempts: int) -> None:
        if self.attempt is not None:
            self._end_attempt(error)
        span = self.span
        attributes: dict[str, Any] = {
            "instructor_az.attempts": attempts,
            "instructor_az.reasks": self.reasks,
            "instructor_az.usage.input_tokens": usage.prompt_tokens,
            "instructor_az.usage.output_tokens": usage.completion_tokens,
        }
        if self.instruments is not None and self.reasks:
            self.instruments.reasks.add(self.reasks, self.shape.metric_attributes)
        if error is not None:
            attributes["error.type"] = type(error).__name__
            span.set_attributes(attributes)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        else:
            span.set_attributes(attributes)
        span.end()


def _answer_text(completion: Any) -> str:
    choices = getattr(completion, "choices", None)
    if choices:
        message = choices[0].message
        calls = getattr(message, "tool_calls", None) or []
        return message.content or "".join(c.function.arguments for c in calls if getattr(c, "function", None))
    from .._answer_checks import response_text

    return response_text(completion)
