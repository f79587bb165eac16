"""Which failures move a request to the next target, and the router's own errors.

A request moves on after a 429, a 5xx or 408, a dropped, refused or timed-out connection, an error
event before a stream's first chunk, and any status the user adds (`fallback_on={401, 403}`). A
content filter's verdict (the prompt filter's 400, an answer ending in `content_filter`) is the
answer, not a fault: it moves on only with `fallback_on_content_filter=True`. Anything else (a bad
request) is the call's own error and is raised as the SDK raised it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from openai import APIConnectionError, APIError, APIStatusError, BadRequestError, RateLimitError

from .._errors import InstructorError
from .._redact import scrub


@dataclass(frozen=True)
class Failover:
    """`route:failover`'s payload: a target failed a request, which moves on to the next one."""

    target: str
    reason: str  #: "rate_limit", "server_error", "connection", "status", "content_filter"
    error: BaseException | None  #: the SDK's error (credentials redacted); None for a filtered answer
    status_code: int | None
    cooldown: float | None  #: seconds the target now sits out, if it does


@dataclass(frozen=True)
class Served:
    """`route:served`'s payload: the target that answered a request (each attempt, each re-ask)."""

    target: str
    model: str | None  #: the deployment asked there
    region: str | None  #: Azure's `x-ms-region`
    latency: float  #: seconds to the answer (to the first chunk of a stream)
    stream: bool
    failovers: tuple[str, ...]  #: the targets this request tried first, in order
    spillover_from: str | None  #: Azure's `x-ms-spillover-from-deployment`: a PTU deployment spilled over


def classify(exc: BaseException, fallback_on: frozenset[int], content_filter: bool) -> str | None:
    """Why `exc` moves the request on, or None when it ends the call."""
    if isinstance(exc, RateLimitError):
        return "rate_limit"
    if isinstance(exc, (APIConnectionError, httpx.TransportError)):
        return "connection"  # APITimeoutError too; httpx's own when a stream breaks while read
    if isinstance(exc, APIStatusError):
        if exc.status_code >= 500 or exc.status_code == 408:
            return "server_error"
        if exc.status_code in fallback_on:
            return "status"
        if content_filter and isinstance(exc, BadRequestError) and _is_prompt_filter(exc):
            return "content_filter"
        return None
    if isinstance(exc, APIError):  # an `error` event in a stream, before its first chunk
        return "server_error"
    return None


def _is_prompt_filter(exc: BadRequestError) -> bool:
    body = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error", body)
    return isinstance(error, Mapping) and error.get("code") == "content_filter"


def status_of(exc: BaseException | None) -> int | None:
    return exc.status_code if isinstance(exc, APIStatusError) else None


def described(exc: BaseException | None) -> str:
    if exc is None:
        return "a filtered answer"
    status = status_of(exc)
    return f"{status} {type(exc).__name__}" if status is not None else type(exc).__name__


class NoTargetAvailable(RateLimitError, InstructorError):
    """Every target of the router is failing or cooling down and the router will not wait longer.

    A `RateLimitError` (HTTP 429 with `retry-after-ms`: when the first target is back), so code that
    handles Azure's 429s (and the pipeline's pacer) handles it. `failures` lists `(target, error)` for
    this call; `cooling` maps each cooling target to (seconds left, why)."""

    def __init__(
        self,
        failures: Sequence[tuple[str, BaseException | None]],
        cooling: Mapping[str, tuple[float, str]],
        retry_after: float,
    ) -> None:
        self.failures = list(failures)
        self.cooling = dict(cooling)
        self.retry_after = retry_after
        parts = [f"{name}: {described(error)}" for name, error in self.failures]
        cools = [f"{name} back in {left:.2f} s ({why})" for name, (left, why) in sorted(self.cooling.items())]
        message = (
            "no router target could take the request"
            + (f"; tried {', '.join(parts)}" if parts else "")
            + (f"; cooling: {'; '.join(cools)}" if cools else "")
            + f". Retry after {retry_after:.2f} s, or add a target or a fallback (Router(fallbacks=[...]))."
        )
        request = httpx.Request("POST", "https://router.instructor-az.invalid/chat/completions")
        ms = max(0, math.ceil(retry_after * 1000))
        response = httpx.Response(
            429,
            headers={"retry-after-ms": str(ms), "retry-after": str(math.ceil(ms / 1000))},
            request=request,
        )
        body = {"error": {"code": "no_target_available", "message": message}}
        RateLimitError.__init__(self, message, response=response, body=body)


class StreamInterrupted(APIConnectionError, InstructorError):
    """A stream broke after it had begun: it is not restarted on another target (the caller has
    seen part of the answer); retry the call to start over. `target` served it, `chunks` arrived."""

    def __init__(self, target: str, chunks: int, cause: BaseException, request: Any) -> None:
        self.target, self.chunks = target, chunks
        scrub(cause)
        message = (
            f"the stream from router target {target!r} broke after {chunks} chunk(s) "
            f"({described(cause)}: {cause}); a stream that has begun is not restarted on another "
            "target: retry the call to start over"
        )
        if not isinstance(request, httpx.Request):
            request = httpx.Request("POST", "https://router.instructor-az.invalid/chat/completions")
        APIConnectionError.__init__(self, message=message, request=request)
