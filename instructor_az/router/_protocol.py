"""One routed request, written once: a sans-IO generator and its sync and async drivers.

`route` asks for operations (`Send` a request to a target, read a stream's `First` chunk, `Close` a
stream that failed before it began, `Sleep` until a target is back) and decides from their results:
a failure that moves on (see `_errors.classify`) marks the target's health and tries the next target
in the order the strategy gave; when every target has failed or sits out a cooldown, it waits for the
first to come back (up to `max_retries` more rounds and `max_wait` seconds a wait), then gives up with
the last error, or `NoTargetAvailable` when every target is cooling. `drive_sync` / `drive_async` are
the only IO. Re-asks are not the router's business: they live above it, in `_run`, and each attempt
the re-ask loop sends comes through here as a request of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from .._redact import scrub
from ._errors import Failover, NoTargetAvailable, Served, classify, status_of
from ._health import Pool
from ._target import Target

#: Between rounds in which targets answered with errors but none is cooling: 0.5 s, 1 s, 2 s ... (jittered).
ROUND_BACKOFF = 0.5
MAX_ROUND_BACKOFF = 8.0
_END = object()


@dataclass(frozen=True, slots=True)
class Send:
    target: Target
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class First:
    stream: Any


@dataclass(frozen=True, slots=True)
class Close:
    stream: Any


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Op = Send | First | Close | Sleep


@dataclass(frozen=True)
class Options:
    max_retries: int
    max_wait: float
    fallback_on: frozenset[int]
    fallback_on_content_filter: bool


@dataclass
class Routed:
    """What a routed request got: the target, the SDK's raw response, its parsed body (a completion,
    or a stream) and, for a stream, its first chunk (`_END` when it had none) and when it was sent."""

    target: Target
    raw: Any
    parsed: Any
    first: Any
    started: float


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / scale)
        except ValueError:
            continue
    return None


def _filtered(parsed: Any) -> bool:
    choices = getattr(parsed, "choices", None) or ()
    return any(getattr(c, "finish_reason", None) == "content_filter" for c in choices)


def route(
    pool: Pool,
    request: Mapping[str, Any],
    options: Options,
    notify: Callable[[str, Any], None],
    *,
    stream: bool,
) -> Generator[Op, Any, Routed]:
    failures: list[tuple[str, BaseException | None]] = []
    tried: list[str] = []
    filtered: Routed | None = None  # an answer a content filter stopped, kept in case no target does better
    rounds = 0
    while True:
        sent = 0
        for target in pool.order():
            started = pool.begin(target)
            if started is None:
                continue
            sent += 1
            parsed: Any = None
            try:
                raw = yield Send(target, target.request(request))
                parsed = raw.parse()
                first = (yield First(parsed)) if stream else None
            except GeneratorExit:
                pool.end(target)  # the caller went away (a cancelled task): the request is over
                raise
            except Exception as exc:
                reason = classify(exc, options.fallback_on, options.fallback_on_content_filter)
                if stream and parsed is not None:
                    yield Close(parsed)
                if reason is None:
                    pool.end(target)
                    raise
                scrub(exc)
                cooldown = pool.failed(
                    target,
                    rate_limited=reason == "rate_limit",
                    retry_after=_retry_after(exc) if reason in ("rate_limit", "server_error") else None,
                    what=_what(exc, reason),
                    counts=reason != "content_filter",
                    started=started,
                )
                failures.append((target.label, exc))
                tried.append(target.label)
                notify("route:failover", Failover(target.label, reason, exc, status_of(exc), cooldown))
                continue
            routed = Routed(target, raw, parsed, first, started)
            if not stream and options.fallback_on_content_filter and _filtered(parsed):
                pool.failed(target, rate_limited=False, retry_after=None, what="content_filter", counts=False)
                filtered = filtered or routed
                failures.append((target.label, None))
                tried.append(target.label)
                notify("route:failover", Failover(target.label, "content_filter", None, None, None))
                continue
            elapsed = pool.succeeded(target, started, raw.headers, done=not stream)
            headers = raw.headers
            notify(
                "route:served",
                Served(
                    target=target.label,
                    model=target.request(request).get("model"),
                    region=headers.get("x-ms-region"),
                    latency=elapsed,
                    stream=stream,
                    failovers=tuple(tried),
                    spillover_from=headers.get("x-ms-spillover-from-deployment"),
                ),
            )
            return routed
        if filtered is not None:
            return filtered  # every other target failed: the filter's verdict is the answer
        wait = pool.soonest()
        cooling = pool.cooling()
        if wait == 0 and sent:  # targets are up but answered with errors: back off before going again
            wait = min(ROUND_BACKOFF * 2**rounds, MAX_ROUND_BACKOFF) * (0.5 + random.random() / 2)
        if rounds >= options.max_retries or wait > options.max_wait:
            last = failures[-1][1] if failures else None
            if last is not None and not _all_cooling(pool, cooling):
                raise last
            raise NoTargetAvailable(failures, cooling, pool.soonest())
        rounds += 1
        yield Sleep(wait)


def _all_cooling(pool: Pool, cooling: Mapping[str, Any]) -> bool:
    return all(t.label in cooling for t in pool.root.leaves())


def _what(exc: BaseException, reason: str) -> str:
    status = status_of(exc)
    if status is not None:
        return str(status)
    return "connection error" if reason == "connection" else type(exc).__name__


def _resolve(client: Any, path: tuple[str, ...]) -> Callable[..., Any]:
    resource = client
    for name in path:
        resource = getattr(resource, name)
    create: Callable[..., Any] = resource.with_raw_response.create
    return create


def drive_sync(
    protocol: Generator[Op, Any, Routed], clients: Mapping[str, Any], path: tuple[str, ...]
) -> Routed:
    result: Any = None
    error: BaseException | None = None
    with contextlib.closing(protocol):
        while True:
            try:
                op = protocol.throw(error) if error is not None else protocol.send(result)
            except StopIteration as stop:
                routed: Routed = stop.value
                return routed
            result, error = None, None
            try:
                if isinstance(op, Send):
                    result = _resolve(clients[op.target.label], path)(**op.request)
                elif isinstance(op, First):
                    result = next(op.stream, _END)
                elif isinstance(op, Close):
                    op.stream.close()
                else:
                    time.sleep(op.seconds)
            except Exception as exc:
                error = exc


async def drive_async(
    protocol: Generator[Op, Any, Routed], clients: Mapping[str, Any], path: tuple[str, ...]
) -> Routed:
    result: Any = None
    error: BaseException | None = None
    with contextlib.closing(protocol):
        while True:
            try:
                op = protocol.throw(error) if error is not None else protocol.send(result)
            except StopIteration as stop:
                routed: Routed = stop.value
                return routed
            result, error = None, None
            try:
                if isinstance(op, Send):
                    result = await _resolve(clients[op.target.label], path)(**op.request)
                elif isinstance(op, First):
                    result = await anext(op.stream, _END)
                elif isinstance(op, Close):
                    await op.stream.close()
                else:
                    await asyncio.sleep(op.seconds)
            except Exception as exc:
                error = exc
