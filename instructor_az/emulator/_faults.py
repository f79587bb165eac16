"""Fault injection: the ways Azure fails, on demand.

A fault comes from three places, checked in this order for each request:
the `x-emulator-fault` request header (black-box tests, any client), faults injected with
`Emulator.inject(...)` (per deployment or for all; see `_fault_queue` for their order), and `Fault`
objects queued as scripted answers.

Header syntax: `kind; name=value; name=value`, several faults separated by commas, for example
`x-emulator-fault: rate_limit; retry_after_ms=20; times=1`. `times=N` fires the fault for the first
N requests carrying that exact header text (so the SDK's own retry of the request then succeeds);
without `times` it fires on every request that carries the header.

Every parameter is checked, from the header and from Python alike: numbers are finite and
non-negative, whole where a count is meant, and at most the `MAX_*` limits below (a latency of `inf`
would hold a connection forever). A bad one is a `FaultSpecError` (a `ValueError`); from the header,
Azure's 400 naming the header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "latency",
    "drop_connection",
    "prompt_filter",
    "completion_filter",
    "length",
]
FAULT_KINDS: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "latency",
    "drop_connection",
    "prompt_filter",
    "completion_filter",
    "length",
)

FAULT_HEADER = "x-emulator-fault"

#: The largest `retry_after_ms` (10 minutes; the openai SDK ignores a retry-after over 60 s anyway).
MAX_RETRY_AFTER_MS = 600_000
#: The longest `latency` delay, in seconds (a client timeout test needs far less).
MAX_LATENCY_SECONDS = 120.0
#: The longest stall between two stream chunks, in seconds.
MAX_CHUNK_SECONDS = 10.0
#: The largest `after_chunks` / `after_chars`, and the largest `times`.
MAX_COUNT = 1_000_000


class FaultSpecError(ValueError):
    """A fault given in the header or to `Fault.parse` that the emulator cannot understand."""


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong. Build them with the class methods.

    - `rate_limit`: HTTP 429 with `retry-after-ms`, `retry-after` and `x-ratelimit-remaining-*` headers.
    - `server_error`: HTTP 500, 502 or 503 (optionally with `retry-after-ms`); with `after_chunks`, a
      streamed Responses API request fails in-band after that many events instead.
    - `latency`: the response is delayed by `seconds` (and each stream chunk by `chunk_seconds`).
    - `drop_connection`: the connection closes after the status line and headers and `after_chunks`
      stream chunks (0: no body at all; a non-streamed body is cut halfway). The SDK raises
      `APIConnectionError` while reading, in-process and over loopback alike.
    - `prompt_filter`: Azure's HTTP 400 `content_filter` error for the flagged `categories`.
    - `completion_filter`: the answer is cut after `after_chars` characters with
      `finish_reason: "content_filter"` (mid-stream when streaming).
    - `length`: the answer is cut after `after_chars` characters with `finish_reason: "length"`.
    """

    kind: FaultKind
    status: int = 0
    retry_after_ms: int | None = None
    seconds: float = 0.0
    chunk_seconds: float = 0.0
    after_chunks: int = 0
    after_chars: int | None = None
    categories: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            )
        kind = self.kind
        if kind == "server_error":
            if (
                isinstance(self.status, bool)
                or not isinstance(self.status, int)
                or not 500 <= self.status <= 599
            ):
                raise FaultSpecError(f"server_error status must be 5xx, got {self.status!r}")
        else:
            _whole(kind, "status", self.status, 599)
        if self.retry_after_ms is not None:
            _whole(kind, "retry_after_ms", self.retry_after_ms, MAX_RETRY_AFTER_MS)
        _seconds(kind, "seconds", self.seconds, MAX_LATENCY_SECONDS)
        _seconds(kind, "chunk_seconds", self.chunk_seconds, MAX_CHUNK_SECONDS)
        _whole(kind, "after_chunks", self.after_chunks, MAX_COUNT)
        if self.after_chars is not None:
            _whole(kind, "after_chars", self.after_chars, MAX_COUNT)

    @classmethod
    def rate_limit(cls, retry_after_ms: int = 50) -> Fault:
        return cls("rate_limit", status=429, retry_after_ms=retry_after_ms)

    @classmethod
    def server_error(cls, status: int = 500, retry_after_ms: int | None = None, after_chunks: int = 0) -> Fault:
        """`after_chunks` > 0: a streamed Responses API request fails in-band after that many events
        (response.failed, then an `error` event), as Azure's Responses streams can; elsewhere the HTTP error."""
        return cls("server_error", status=status, retry_after_ms=retry_after_ms, after_chunks=after_chunks)

    @classmethod
    def latency(cls, seconds: float, chunk_seconds: float = 0.0) -> Fault:
        return cls("latency", seconds=seconds, chunk_seconds=chunk_seconds)

    @classmethod
    def drop_connection(cls, after_chunks: int = 0) -> Fault:
        return cls("drop_connection", after_chunks=after_chunks)

    @classmethod
    def prompt_filter(cls, **categories: str) -> Fault:
        """Flag the prompt, e.g. `Fault.prompt_filter(violence="high")` or `Fault.prompt_filter(jailbreak="detected")`."""
        return cls("prompt_filter", status=400, categories=_categories(categories or {"violence": "high"}))

    @classmethod
    def completion_filter(cls, after_chars: int | None = None, **categories: str) -> Fault:
        return cls(
            "completion_filter",
            after_chars=after_chars,
            categories=_categories(categories or {"violence": "high"}),
        )

    @classmethod
    def length(cls, after_chars: int | None = None) -> Fault:
        return cls("length", after_chars=after_chars)

    @property
    def flagged(self) -> dict[str, str]:
        return dict(self.categories)

    @property
    def is_http_error(self) -> bool:
        return self.kind in ("rate_limit", "server_error")

    @property
    def spec(self) -> str:
        """This fault in header syntax (`Fault.parse(fault.spec) == fault`)."""
        parts: list[str] = [self.kind]
        if self.kind == "server_error":
            parts.append(f"status={self.status}")
            if self.after_chunks:
                parts.append(f"after_chunks={self.after_chunks}")
        if self.retry_after_ms is not None:
            parts.append(f"retry_after_ms={self.retry_after_ms}")
        if self.kind == "latency":
            parts.append(f"seconds={self.seconds!r}")
            if self.chunk_seconds:
                parts.append(f"chunk_seconds={self.chunk_seconds!r}")
        if self.kind == "drop_connection":
            parts.append(f"after_chunks={self.after_chunks}")
        if self.after_chars is not None:
            parts.append(f"after_chars={self.after_chars}")
        parts.extend(f"{name}={level}" for name, level in self.categories)
        return "; ".join(parts)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse one fault in header syntax: `kind; name=value; ...` (without `times`)."""
        parts = [p.strip() for p in text.split(";") if p.strip()]
        if not parts:
            raise FaultSpecError("empty fault")
        kind, params = parts[0], _params(parts[1:], text)
        params.pop("times", None)
        params.pop("id", None)
        try:
            if kind == "rate_limit":
                return cls.rate_limit(**_ints(params, "retry_after_ms"))
            if kind == "server_error":
                return cls.server_error(**_ints(params, "status", "retry_after_ms", "after_chunks"))
            if kind == "latency":
                return cls.latency(**_floats(params, "seconds", "chunk_seconds"))
            if kind == "drop_connection":
                return cls.drop_connection(**_ints(params, "after_chunks"))
            if kind == "prompt_filter":
                return cls.prompt_filter(**params)
            if kind == "completion_filter":
                after = params.pop("after_chars", None)
                return cls.completion_filter(after_chars=_int(after) if after is not None else None, **params)
            if kind == "length":
                return cls.length(**_ints(params, "after_chars"))
        except TypeError as exc:
            raise FaultSpecError(f"bad parameters for fault {kind!r} in {text!r}: {exc}") from None
        except ValueError as exc:
            raise FaultSpecError(f"bad value in fault {text!r}: {exc}") from None
        raise FaultSpecError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")


_DETECTORS = {
    "jailbreak",
    "protected_material_code",
    "protected_material_text",
    "indirect_attack",
    "profanity",
}
_SEVERITIES = {"safe", "low", "medium", "high"}


def _categories(given: dict[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for name, level in given.items():
        if name in _DETECTORS:
            level = "high" if level in ("detected", "true", "high") else level
        if level not in _SEVERITIES:
            raise FaultSpecError(
                f"severity for {name!r} must be one of safe, low, medium, high (got {level!r})"
            )
        out.append((name, level))
    return tuple(out)


def _params(parts: list[str], text: str) -> dict[str, str]:
    params = {}
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            raise FaultSpecError(f"expected name=value in fault {text!r}, got {part!r}")
        params[name.strip()] = value.strip()
    return params


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _ints(params: dict[str, str], *names: str) -> dict[str, Any]:
    return {k: _int(v) if k in names else v for k, v in params.items()}


def _floats(params: dict[str, str], *names: str) -> dict[str, Any]:
    return {k: _float(v) if k in names else v for k, v in params.items()}


def _whole(kind: str, name: str, value: object, high: int) -> int:
    """A count or a duration in milliseconds: an int (not a bool) from 0 to `high`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultSpecError(f"{kind} {name} must be a whole number, got {value!r}")
    if not 0 <= value <= high:
        raise FaultSpecError(f"{kind} {name} must be from 0 to {high}, got {value}")
    return value


def _seconds(kind: str, name: str, value: object, high: float) -> float:
    """A duration in seconds: a finite number from 0 to `high`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultSpecError(f"{kind} {name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise FaultSpecError(f"{kind} {name} must be a finite number of seconds, got {value}")
    if not 0 <= value <= high:
        raise FaultSpecError(f"{kind} {name} must be from 0 to {high:g} seconds, got {value}")
    return float(value)


def check_times(times: object) -> int | None:
    """`times` for an injected or header fault: None (every request) or a whole number from 1."""
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int):
        raise FaultSpecError(f"times must be a whole number of requests (or None for all), got {times!r}")
    if not 1 <= times <= MAX_COUNT:
        raise FaultSpecError(f"times must be from 1 to {MAX_COUNT}, got {times}")
    return times


def split_specs(text: str) -> list[str]:
    """The faults of a header (or a CLI / control-API spec), separated by commas."""
    return [spec.strip() for spec in text.split(",") if spec.strip()]


def spec_param(spec: str, name: str) -> str | None:
    """The value of `name=` in one fault spec, or None."""
    for part in spec.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def spec_times(spec: str) -> int | None:
    """The `times=N` of one fault spec (None: not given)."""
    value = spec_param(spec, "times")
    if value is None:
        return None
    try:
        times = int(value)
    except ValueError:
        raise FaultSpecError(f"times must be an integer in fault {spec!r}") from None
    return check_times(times)


def merge_latency(faults: list[Fault]) -> Fault | None:
    """All the latency faults of a request as one: delays add up (to `MAX_LATENCY_SECONDS`), the
    longest chunk stall wins."""
    total = [f for f in faults if f.kind == "latency"]
    if not total:
        return None
    seconds = min(sum(f.seconds for f in total), MAX_LATENCY_SECONDS)
    return replace(total[0], seconds=seconds, chunk_seconds=max(f.chunk_seconds for f in total))
