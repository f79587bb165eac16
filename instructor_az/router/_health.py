"""Each target's health, shared by every call through a router (and its `with_options` views).

A target is *available* unless it sits out a cooldown, or it is back from one on probation with its
probe still in flight:

- an answer whose `x-ratelimit-remaining-requests` / `-tokens` is 0 (the window is used up) sets the
  target aside for `quota_pause` seconds, so the next request goes elsewhere instead of earning a 429;
- a 429 cools exactly that target for as long as its `retry-after-ms` (else `retry-after`) says, then
  it is back at once: the quota window reset;
- `failures_to_cool` consecutive failures (5xx, 408, dropped or refused connections, timeouts) cool
  it for `cooldown` seconds, doubled at each further trip up to `max_cooldown`; a failure that says
  how long to wait (`retry-after-ms` on a 503) cools it that long at once. When such a cooldown ends
  the target is on probation: one request at a time goes to it until one succeeds.

The order a request tries the targets in comes from the tree (`_target.Group`) and each group's
strategy, read off the same state: `in_flight` (least-busy) and a moving average of the time to the
answer, or to a stream's first chunk (latency). Thread-safe: sync routers are shared by threads.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._target import Group, Target

#: Weight of the newest sample in a target's latency average.
LATENCY_ALPHA = 0.25
RATE_HEADERS = ("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens")


@dataclass(frozen=True)
class TargetHealth:
    """A snapshot of one target (`router.health()`)."""

    name: str
    available: bool
    cooling_for: float  #: seconds until its cooldown ends (0: none)
    reason: str | None  #: why it cools, or why it cooled last
    probation: bool
    in_flight: int
    consecutive_failures: int
    latency: float | None  #: moving average, seconds
    served: int
    failed: int
    rate_limited: int
    remaining_requests: int | None
    remaining_tokens: int | None


class _State:
    __slots__ = (
        "cooled_at",
        "cooling_until",
        "failed",
        "failures",
        "in_flight",
        "latency",
        "probation",
        "probe_out",
        "rate_limited",
        "reason",
        "remaining",
        "served",
        "trips",
    )

    def __init__(self) -> None:
        self.cooling_until = -math.inf
        self.cooled_at = -math.inf  # when the current (or last) cooldown began
        self.reason: str | None = None
        self.failures = 0
        self.trips = 0
        self.probation = False
        self.probe_out = False
        self.in_flight = 0
        self.latency: float | None = None
        self.served = self.failed = self.rate_limited = 0
        self.remaining: dict[str, int] = {}


class Pool:
    """The health of a router's targets and the order a request tries them in."""

    def __init__(
        self,
        root: Group,
        *,
        cooldown: float,
        failures_to_cool: int,
        max_cooldown: float,
        latency_buffer: float,
        quota_pause: float = 1.0,
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
    ) -> None:
        self.root = root
        self.cooldown, self.failures_to_cool, self.max_cooldown = cooldown, failures_to_cool, max_cooldown
        self.latency_buffer = latency_buffer
        self.quota_pause = quota_pause
        self.now: Callable[[], float] = clock if clock is not None else time.monotonic
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {t.label: _State() for t in root.leaves()}

    # --- the order of one request ------------------------------------------------------------------

    def order(self) -> list[Target]:
        """Every target, in the order this request tries them (unavailable ones are skipped later)."""
        with self._lock:
            return list(self._expand(self.root))

    def _expand(self, group: Group) -> list[Target]:
        members = list(group.members)
        if group.strategy == "weighted":
            members = self._shuffled(members)
        elif group.strategy == "least-busy":
            keys = {id(m): self._rng.random() ** (1.0 / m.weight) for m in members}
            members.sort(key=lambda m: (self._in_flight(m), -keys[id(m)]))
        elif group.strategy == "latency":
            members = self._by_latency(members)
        out: list[Target] = []
        for member in members:
            out.extend([member] if isinstance(member, Target) else self._expand(member))
        return out

    def _shuffled(self, members: list[Target | Group]) -> list[Target | Group]:
        # Weighted sampling without replacement (Efraimidis-Spirakis): the first is member i with
        # probability w_i / sum(w), and so on down the rest.
        keyed = [(self._rng.random() ** (1.0 / m.weight), i) for i, m in enumerate(members)]
        keyed.sort(reverse=True)
        return [members[i] for _, i in keyed]

    def _in_flight(self, member: Target | Group) -> int:
        if isinstance(member, Target):
            return self._states[member.label].in_flight
        return sum(self._states[t.label].in_flight for t in member.leaves())

    def _latency(self, member: Target | Group) -> float:
        leaves = [member] if isinstance(member, Target) else list(member.leaves())
        known = [self._states[t.label].latency for t in leaves]
        # Not measured yet: tried first, so it gets measured.
        return min((x if x is not None else 0.0) for x in known)

    def _by_latency(self, members: list[Target | Group]) -> list[Target | Group]:
        """The fastest first; members within `latency_buffer` of the fastest share its traffic by weight."""
        latency = {id(m): self._latency(m) for m in members}
        best = min(latency.values())
        near = [m for m in members if latency[id(m)] <= best * (1 + self.latency_buffer)]
        far = sorted(
            (m for m in members if latency[id(m)] > best * (1 + self.latency_buffer)),
            key=lambda m: latency[id(m)],
        )
        return self._shuffled(near) + far

    # --- one request's life ------------------------------------------------------------------------

    def begin(self, target: Target) -> float | None:
        """Start a request on `target` if it is available: its start time, else None."""
        with self._lock:
            state, now = self._states[target.label], self.now()
            if now < state.cooling_until:
                return None
            if state.probation:
                if state.probe_out:
                    return None
                state.probe_out = True
            state.in_flight += 1
            return now

    def end(self, target: Target) -> None:
        """The request is over (its stream closed, or it failed in a way that says nothing of health)."""
        with self._lock:
            state = self._states[target.label]
            state.in_flight = max(0, state.in_flight - 1)
            state.probe_out = False

    def succeeded(
        self, target: Target, started: float, headers: Mapping[str, str] | None, *, done: bool = True
    ) -> float:
        """An answer (or a stream's first chunk): the latency measured; health restored."""
        with self._lock:
            state = self._states[target.label]
            elapsed = max(0.0, self.now() - started)
            state.latency = (
                elapsed
                if state.latency is None
                else (LATENCY_ALPHA * elapsed + (1 - LATENCY_ALPHA) * state.latency)
            )
            state.failures = state.trips = 0
            state.probation = state.probe_out = False
            state.served += 1
            if headers is not None:
                for name in RATE_HEADERS:
                    value = _int(headers.get(name))
                    if value is None or value < 0:  # Azure's Responses API reports -1: not known
                        state.remaining.pop(name, None)
                        continue
                    state.remaining[name] = value
                    if value == 0 and self.quota_pause > 0 and target.spillover is None:
                        # Azure says its window is used up: the next request would earn a 429. Skip
                        # the target briefly instead (a 429 then says exactly how long). Not a PTU
                        # with a spillover deployment: Azure serves its overflow there.
                        state.reason = f"{name}: 0; skipped for {self.quota_pause:g} s"
                        self._cool(state, self.now(), self.quota_pause)
            if done:
                state.in_flight = max(0, state.in_flight - 1)
            return elapsed

    def failed(
        self,
        target: Target,
        *,
        rate_limited: bool,
        retry_after: float | None,
        what: str,
        counts: bool = True,
        in_flight: bool = True,
        started: float | None = None,
    ) -> float | None:
        """A failed request: the cooldown it starts (seconds), if any. `counts=False`: the failure says
        nothing of the target's health (a content filter's verdict)."""
        with self._lock:
            state, now = self._states[target.label], self.now()
            if in_flight:
                state.in_flight = max(0, state.in_flight - 1)
            state.probe_out = False
            if not counts:
                return None
            state.failed += 1
            if started is not None and started <= state.cooled_at and not rate_limited:
                # Sent before the target was taken out: the failure that took it out says the same,
                # so it neither escalates the cooldown nor counts as a failed probe.
                return None
            if rate_limited:
                state.rate_limited += 1
                seconds = retry_after if retry_after is not None else self.cooldown
                state.probation = False  # a quota window, not a sick target: back at its end
                state.reason = f"429 ({what}) for {seconds:g} s"
                return self._cool(state, now, seconds)
            state.failures += 1
            if retry_after is not None and retry_after > 0:
                state.reason = f"{what}, asked to wait {retry_after:g} s"
                state.probation = True
                return self._cool(state, now, retry_after)
            if state.probation or state.failures >= self.failures_to_cool:
                seconds = min(self.cooldown * 2**state.trips, self.max_cooldown)
                state.reason = (
                    f"{what} on probation"
                    if state.probation
                    else f"{state.failures} consecutive failures, the last {what}"
                ) + f"; out for {seconds:g} s"
                state.trips += 1
                state.failures = 0
                state.probation = True
                return self._cool(state, now, seconds)
            return None

    @staticmethod
    def _cool(state: _State, now: float, seconds: float) -> float:
        state.cooling_until = max(state.cooling_until, now + seconds)
        state.cooled_at = now
        return seconds

    # --- the router as a whole ---------------------------------------------------------------------

    def soonest(self) -> float:
        """Seconds until some target can take a request (0: one can now)."""
        with self._lock:
            now = self.now()
            waits = [
                max(0.0, s.cooling_until - now)
                for s in self._states.values()
                if not (s.probation and s.probe_out and s.cooling_until <= now)
            ]
            return min(waits) if waits else 0.0

    def cooling(self) -> dict[str, tuple[float, str]]:
        """The targets in cooldown: seconds left and why."""
        with self._lock:
            now = self.now()
            return {
                name: (s.cooling_until - now, s.reason or "")
                for name, s in self._states.items()
                if s.cooling_until > now
            }

    def remaining(self) -> dict[str, int]:
        """The requests / tokens Azure last said remain, summed over the targets available now."""
        with self._lock:
            now = self.now()
            total: dict[str, int] = {}
            for state in self._states.values():
                if state.cooling_until > now:
                    continue
                for name, value in state.remaining.items():
                    total[name] = total.get(name, 0) + value
            return total

    def snapshot(self) -> list[TargetHealth]:
        with self._lock:
            now = self.now()
            out = []
            for name, s in self._states.items():
                left = max(0.0, s.cooling_until - now)
                out.append(
                    TargetHealth(
                        name=name,
                        available=left == 0 and not (s.probation and s.probe_out),
                        cooling_for=left,
                        reason=s.reason,
                        probation=s.probation,
                        in_flight=s.in_flight,
                        consecutive_failures=s.failures,
                        latency=s.latency,
                        served=s.served,
                        failed=s.failed,
                        rate_limited=s.rate_limited,
                        remaining_requests=s.remaining.get(RATE_HEADERS[0]),
                        remaining_tokens=s.remaining.get(RATE_HEADERS[1]),
                    )
                )
            return out


def _int(raw: Any) -> int | None:
    try:
        return int(float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None
