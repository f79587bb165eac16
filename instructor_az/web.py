"""Serve a partial stream to a browser as Server-Sent Events (Starlette / FastAPI).

```python
from instructor_az.web import partial_events, sse_response

@app.post("/extract")
async def extract(request):
    text = (await request.json())["text"]
    events = partial_events(client, response_model=Contact, model="gpt-4o",
                            messages=[{"role": "user", "content": text}])
    return sse_response(events)
```

`partial_events` runs one `create_partial` call on an async client and yields `ServerSentEvent`s:

| event     | data                                                                              |
|-----------|-----------------------------------------------------------------------------------|
| `partial` | `{"attempt": n, "data": {...snapshot...}, "complete": ["name", "items.0.sku"]}`   |
| `reask`   | `{"attempt": n + 1, "previous_attempt": n, "errors": [{"loc", "msg"}], "message"}`|
| `final`   | `{"attempt": n, "data": {...validated...}, "complete": [every field path]}`       |
| `error`   | `{"type": "ContentFilterError", "message": ..., "attempt": n, ...}` (see below)   |

The stream ends after `final` or `error`. Events are produced only as the response is consumed (each
is made when the previous one was sent), and `EventStreamResponse` closes the generator when the
client goes away, which closes the call's HTTP response to Azure: no more tokens are paid for.
Re-asks are seen through hooks added to a copy of the client made for this call
(`client.with_options()`): the client's own hooks run as before, and nothing global is changed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

try:
    import anyio
    from starlette.responses import StreamingResponse
    from starlette.types import Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("instructor_az.web needs the 'web' extra: pip install \"instructor-az[web]\"") from exc

from openai import APIError, APIStatusError
from pydantic import BaseModel

from ._client import AsyncInstructor
from ._errors import (
    ContentFilterError,
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
)
from .streaming._partial_class import PartialModel

__all__ = [
    "SSE_HEADERS",
    "EventStreamResponse",
    "ServerSentEvent",
    "complete_paths",
    "error_data",
    "partial_events",
    "sse_response",
]

log = logging.getLogger("instructor_az.web")

#: Headers of an event stream: never cached, never buffered by a proxy (nginx honours `X-Accel-Buffering`).
SSE_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


@dataclass(frozen=True)
class ServerSentEvent:
    """One event: its name (`partial`, `reask`, `final`, `error`), its JSON data and its number."""

    event: str
    data: dict[str, Any]
    id: int

    def encode(self) -> bytes:
        """The event on the wire: `id:`, `event:` and one `data:` line of compact JSON, then a blank line."""
        payload = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.id}\nevent: {self.event}\ndata: {payload}\n\n".encode()

    def to_json(self) -> dict[str, Any]:
        """`{"event": ..., "id": ..., "data": ...}`: the same event for a websocket or a test."""
        return {"event": self.event, "id": self.id, "data": self.data}


def complete_paths(obj: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the complete fields of a partial object, nested ones too, in field order.

    A complete field is listed by its own name (`"address"`, not its subfields); inside a field still
    being written, the complete fields of its nested objects are listed (`"address.city"`,
    `"items.0.name"`).
    """
    if not isinstance(obj, PartialModel):
        return []
    paths: list[str] = []
    done = obj.completed_fields
    for name in type(obj).model_fields:
        path = f"{prefix}{name}"
        if name in done:
            paths.append(path)
            continue
        value = getattr(obj, name, None)
        if isinstance(value, PartialModel):
            paths.extend(complete_paths(value, f"{path}."))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                paths.extend(complete_paths(item, f"{path}.{index}."))
    return paths


def _dump(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    return obj


def _all_complete(obj: Any) -> bool:
    return isinstance(obj, PartialModel) and obj.completed_fields >= set(type(obj).model_fields)


def _validation_errors(exc: BaseException) -> list[dict[str, str]]:
    """`[{"loc": "email", "msg": "..."}]` from a pydantic `ValidationError` or a `ResponseParseError`."""
    raw: Any = None
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            raw = errors(include_url=False, include_input=False)
        except TypeError:
            raw = errors()
    elif isinstance(errors, list):
        raw = errors
    found: list[dict[str, str]] = []
    for error in raw or ():
        if isinstance(error, Mapping):
            loc = ".".join(str(part) for part in error.get("loc", ()))
            found.append({"loc": loc, "msg": str(error.get("msg", ""))})
    if not found:
        found.append({"loc": "", "msg": str(exc)})
    return found


def error_data(exc: BaseException) -> dict[str, Any]:
    """An `error` event's data for `exc`: its type and message, and what the page can show about it.

    `ContentFilterError`: `source` ("prompt" / "completion") and `categories` (`{name: {"filtered",
    "severity", "detected"}}`); `InstructorRetryException`: `attempts` and the last attempt's `errors`;
    the SDK's status errors: `status_code`. Messages are the library's own, which hold no credentials;
    any other exception is named but its message is not sent (it is logged instead).
    """
    data: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, ContentFilterError):
        data["message"] = str(exc)
        data["source"] = exc.source
        data["categories"] = {
            name: {"filtered": result.filtered, "severity": result.severity, "detected": result.detected}
            for name, result in exc.categories.items()
        }
        data["filtered_categories"] = exc.filtered_categories
    elif isinstance(exc, InstructorRetryException):
        data["message"] = str(exc)
        data["attempts"] = exc.n_attempts
        last = exc.last_exception
        data["errors"] = _validation_errors(last) if last is not None else []
    elif isinstance(exc, (IncompleteOutputException, InstructorError)):
        data["message"] = str(exc)
    elif isinstance(exc, APIError):
        data["message"] = exc.message
        if isinstance(exc, APIStatusError):
            data["status_code"] = exc.status_code
    else:
        data["message"] = "The extraction failed on the server."
    return data


class _Attempts:
    """Numbers the call's attempts from its `completion:kwargs` hook; a `parse:error` followed by a new
    request is a re-ask, queued as an event for the generator to send before the new attempt's partials."""

    def __init__(self) -> None:
        self.number = 0
        self.rejected: BaseException | None = None
        self.reasks: list[dict[str, Any]] = []

    def request(self, **_: Any) -> None:
        if self.rejected is not None:
            self.reasks.append(
                {
                    "attempt": self.number + 1,
                    "previous_attempt": self.number,
                    "errors": _validation_errors(self.rejected),
                    "message": str(self.rejected),
                }
            )
            self.rejected = None
        self.number += 1

    def parse_error(self, exc: BaseException, *_: Any, **__: Any) -> None:
        self.rejected = exc


async def partial_events(
    client: AsyncInstructor, *, response_model: type[BaseModel], **create_kwargs: Any
) -> AsyncIterator[ServerSentEvent]:
    """Run `client.create_partial(response_model=..., **create_kwargs)` and yield its events.

    `client` is an async client (`from_openai(AsyncAzureOpenAI(...))`); `create_kwargs` are
    `create_partial`'s (`model`, `messages`, `max_retries`, `context`, ...). Each partial is sent as a
    JSON snapshot with the paths of its complete fields; the validated object as `final`; a failed call
    as one `error` event (the exception is logged on `instructor_az.web`, not raised, so the response
    ends cleanly). Closing the generator (`aclose()`) closes the call's stream to Azure.
    """
    if not isinstance(client, AsyncInstructor):
        raise TypeError(
            "partial_events needs an async client: instructor_az.from_openai(AsyncAzureOpenAI(...)), "
            f"got {type(client).__name__}"
        )
    attempts = _Attempts()
    scoped = client.with_options()  # a copy with its own Hooks: these handlers are this call's only
    scoped.on("completion:kwargs", attempts.request)
    scoped.on("parse:error", attempts.parse_error)
    ids = iter(range(1, 1 << 62))

    def event(name: str, data: dict[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(name, data, next(ids))

    def partial(data: Any, complete: list[str]) -> ServerSentEvent:
        return event("partial", {"attempt": attempts.number, "data": data, "complete": complete})

    stream: Any = None
    # An object with every field complete may be the validated answer (the stream then ends) or an
    # attempt's partial that a re-ask follows: it is held until the next item tells which.
    held: tuple[Any, list[str]] | None = None
    try:
        stream = scoped.create_partial(response_model=response_model, **create_kwargs)
        async for item in stream:
            if held is not None:
                yield partial(*held)
                held = None
            while attempts.reasks:
                yield event("reask", attempts.reasks.pop(0))
            if _all_complete(item):
                held = (_dump(item), complete_paths(item))
            else:
                yield partial(_dump(item), complete_paths(item))
        if held is not None:
            data, complete = held
            yield event("final", {"attempt": attempts.number, "data": data, "complete": complete})
    except Exception as exc:
        if held is not None:
            yield partial(*held)
        log.warning("partial stream failed: %s: %s", type(exc).__name__, exc)
        yield event("error", {**error_data(exc), "attempt": attempts.number})
    finally:
        if stream is not None:
            await stream.aclose()  # an async generator: closes the call's HTTP response


class EventStreamResponse(StreamingResponse):
    """A `text/event-stream` response of `ServerSentEvent`s (or bytes) that closes its generator when the
    client disconnects, whatever the server's ASGI version: a closed tab stops the call to Azure.

    Each event is encoded and sent as it comes, so nothing is produced faster than the client reads
    (the server's flow control holds `send` back).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[ServerSentEvent | bytes],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.events = events
        super().__init__(self._encoded(), status_code=status_code, headers={**SSE_HEADERS, **(headers or {})})

    async def _encoded(self) -> AsyncIterator[bytes]:
        async for event in self.events:
            yield event.encode() if isinstance(event, ServerSentEvent) else event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()  # the client went away: stop streaming

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # ASGI 2.4 servers raise it on send to a closed client
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                group.start_soon(stream)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
                aclose = getattr(self.events, "aclose", None)
                if aclose is not None:
                    await aclose()
        if self.background is not None:
            await self.background()


def sse_response(
    events: AsyncIterator[ServerSentEvent | bytes],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> EventStreamResponse:
    """A Starlette (and FastAPI) response streaming `events` as `text/event-stream`, not cached."""
    return EventStreamResponse(events, status_code=status_code, headers=headers)
