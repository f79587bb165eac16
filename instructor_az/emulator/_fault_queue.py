"""The faults armed on an emulator, and which of them a request gets.

Injected faults (`Emulator.inject`, `instructor-az emulator --fault`, `POST /_emulator/faults`) wait
in one first-in first-out queue. For each request that gets as far as the faults (past routing,
authentication and the body's checks):

- the oldest eligible *non-latency* fault fires: at most one per request, because a 429, a 500, a
  filter or a dropped connection each end the request on their own. It is consumed (one of its
  `times`) only when it fires, so `inject(rate_limit, times=5)` then `inject(server_error, times=3)`
  gives five 429s, then three 500s, then normal answers;
- the oldest eligible *latency* fault also fires: a delay combines with whatever else happens, so it
  keeps its own place in the queue and is consumed by every request it delays;
- eligible means: injected for all deployments or for this request's deployment, and a kind that can
  apply to this operation (`completion_filter` and `length` shape chat and completions answers only;
  `drop_connection` applies to chat, completions and embeddings; `prompt_filter` to everything but
  embeddings). A fault that is not eligible keeps its place and waits for a request it applies to.

`times=None` fires on every eligible request until `clear()`: such a fault at the head of the queue
holds back the ones behind it (for its deployment) until it is cleared.

The `x-emulator-fault` header's faults all fire (the caller listed them on purpose) and are counted
per header text. When the header brings a non-latency fault, the queued non-latency faults wait for
the next request; queued latency still applies.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field

from ._faults import Fault, check_times, spec_times, split_specs


@dataclass
class _Injected:
    fault: Fault
    deployment: str | None
    remaining: int | None


@dataclass
class FaultBook:
    """The injected faults (a FIFO queue) and the header counters. Thread-safe."""

    _injected: list[_Injected] = field(default_factory=list)
    _header_counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault, *, deployment: str | None = None, times: int | None = 1) -> None:
        times = check_times(times)
        with self._lock:
            self._injected.append(_Injected(fault, deployment, times))

    def clear(self) -> None:
        with self._lock:
            self._injected.clear()
            self._header_counts.clear()

    def pending(self) -> list[tuple[Fault, str | None, int | None]]:
        """The queue, oldest first: (fault, deployment, remaining times)."""
        with self._lock:
            return [(e.fault, e.deployment, e.remaining) for e in self._injected]

    def take(
        self, deployment: str, header: str | None, *, applicable: Collection[str] | None = None
    ) -> list[Fault]:
        """The faults that fire for this request, consuming what fires.

        `applicable` lists the fault kinds this request's operation can show (None: all).
        Raises `FaultSpecError` for a bad header, before anything is counted or consumed.
        """
        specs = [(spec, Fault.parse(spec), spec_times(spec)) for spec in split_specs(header or "")]
        fired: list[Fault] = []
        with self._lock:
            for spec, fault, times in specs:
                seen = self._header_counts.get(spec, 0)
                self._header_counts[spec] = seen + 1
                if times is None or seen < times:
                    fired.append(fault)
            lanes = ["latency"]
            if not any(f.kind != "latency" for f in fired):
                lanes.append("other")
            for lane in lanes:
                entry = self._first(deployment, lane, applicable)
                if entry is None:
                    continue
                fired.append(entry.fault)
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._injected.remove(entry)
        return fired

    def _first(self, deployment: str, lane: str, applicable: Collection[str] | None) -> _Injected | None:
        for entry in self._injected:
            if entry.deployment not in (None, deployment):
                continue
            if (entry.fault.kind == "latency") != (lane == "latency"):
                continue
            if applicable is not None and entry.fault.kind not in applicable:
                continue
            return entry
        return None


@dataclass(frozen=True)
class Injection:
    """A fault to inject, as the CLI's `--fault` and the control API give it."""

    fault: Fault
    times: int | None = 1
    deployment: str | None = None


def parse_injections(text: str, *, times: int | None = 1, deployment: str | None = None) -> list[Injection]:
    """Faults in header syntax, each optionally with `times=N` and `deployment=NAME` of its own
    (which win over the `times` and `deployment` given here)."""
    out: list[Injection] = []
    for spec in split_specs(text):
        parts = [p.strip() for p in spec.split(";")]
        kept = [parts[0]]
        own_deployment = deployment
        for part in parts[1:]:
            name, _, value = part.partition("=")
            if name.strip() == "deployment":
                own_deployment = value.strip() or None
            else:
                kept.append(part)
        own_times = spec_times(spec)
        out.append(
            Injection(
                Fault.parse("; ".join(kept)),
                own_times if own_times is not None else check_times(times),
                own_deployment,
            )
        )
    return out
