"""Fault injection: the ways Azure fails, on demand.

A fault comes from three places, checked in this order for each request:
the `x-emulator-fault` request header (black-box tests, any client), faults injected with
`Emulator.inject(...)` (per deployment or for all), and `Fault` objects queued as scripted answers.

Header syntax: `kind; name=value; name=value`, several faults separated by commas, for example
`x-emulator-fault: rate_limit; retry_after_ms=20; times=1`. `times=N` fires the fault for the first
N requests carrying that exact header text (so the SDK's own retry of the request then succeeds);
without `times` it fires on every request that carries the header.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
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


class FaultSpecError(ValueError):
    """A fault given in the header or to `Fault.parse` that the emulator cannot understand."""


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong. Build them with the class methods.

    - `rate_limit`: HTTP 429 with `retry-after-ms`, `retry-after` and `x-ratelimit-remaining-*` headers.
    - `server_error`: HTTP 500, 502 or 503 (optionally with `retry-after-ms`).
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

    @classmethod
    def rate_limit(cls, retry_after_ms: int = 50) -> Fault:
        return cls("rate_limit", status=429, retry_after_ms=retry_after_ms)

    @classmethod
    def server_error(cls, status: int = 500, retry_after_ms: int | None = None) -> Fault:
        if status < 500 or status > 599:
            raise FaultSpecError(f"server_error status must be 5xx, got {status}")
        return cls("server_error", status=status, retry_after_ms=retry_after_ms)

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
                return cls.server_error(**_ints(params, "status", "retry_after_ms"))
            if kind == "latency":
                return cls.latency(**_floats(params, "seconds", "chunk_seconds"))
            if kind == "drop_connection":
                return cls.drop_connection(**_ints(params, "after_chunks"))
            if kind == "prompt_filter":
                return cls.prompt_filter(**params)
            if kind == "completion_filter":
                after = params.pop("after_chars", None)
                return cls.completion_filter(after_chars=int(after) if after is not None else None, **params)
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


def _ints(params: dict[str, str], *names: str) -> dict[str, Any]:
    return {k: int(v) if k in names else v for k, v in params.items()}


def _floats(params: dict[str, str], *names: str) -> dict[str, Any]:
    return {k: float(v) if k in names else v for k, v in params.items()}


@dataclass
class _Injected:
    fault: Fault
    deployment: str | None
    remaining: int | None


@dataclass
class FaultBook:
    """The faults armed on an emulator: injected ones and the header counters. Thread-safe."""

    _injected: list[_Injected] = field(default_factory=list)
    _header_counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault, *, deployment: str | None = None, times: int | None = 1) -> None:
        with self._lock:
            self._injected.append(_Injected(fault, deployment, times))

    def clear(self) -> None:
        with self._lock:
            self._injected.clear()
            self._header_counts.clear()

    def take(self, deployment: str, header: str | None) -> list[Fault]:
        """The faults that fire for this request (consuming their counts)."""
        fired: list[Fault] = []
        if header:
            for spec in (s.strip() for s in header.split(",")):
                if not spec:
                    continue
                fault = Fault.parse(spec)
                times = _times(spec)
                with self._lock:
                    seen = self._header_counts.get(spec, 0)
                    self._header_counts[spec] = seen + 1
                if times is None or seen < times:
                    fired.append(fault)
        with self._lock:
            for entry in list(self._injected):
                if entry.deployment not in (None, deployment):
                    continue
                fired.append(entry.fault)
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._injected.remove(entry)
        return fired


def _times(spec: str) -> int | None:
    for part in spec.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip() == "times":
            try:
                return int(value)
            except ValueError:
                raise FaultSpecError(f"times must be an integer in fault {spec!r}") from None
    return None


def merge_latency(faults: list[Fault]) -> Fault | None:
    total = [f for f in faults if f.kind == "latency"]
    if not total:
        return None
    return replace(
        total[0], seconds=sum(f.seconds for f in total), chunk_seconds=max(f.chunk_seconds for f in total)
    )
