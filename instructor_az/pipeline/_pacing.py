"""When each row's next request may go: one controller for the whole pipeline.

The pacer admits a request when (1) no pause is in force (a 429 pauses every row for its
`retry-after-ms`), (2) fewer than `limit` requests are in flight, and (3) the token budget
(`tokens_per_minute`, a bucket refilled continuously) covers the request's estimate. With
`concurrency="auto"` the limit starts low, grows by one with each answer that finds every request
slot taken while the `x-ratelimit-remaining-requests` / `-tokens` windows still have room, and is
halved on a 429; and
(4) in auto mode, Azure's windows are not overdrawn: the requests its last answer said remain
(`x-ratelimit-remaining-requests`, less the requests sent since) are not used up, and a request's
reservation (its prompt estimate plus `max_tokens`, what Azure counts at admission) fits in the
tokens it said remain (`x-ratelimit-remaining-tokens`, less the reservations sent since). When a
window is used up, requests wait for an answer that says more, or send one probe every
`PROBE_SECONDS` (a window that reset is only seen in an answer); a probe's 429 pauses the pipeline
until the window resets (its `retry-after-ms`) without cutting the limit, so a window costs at most
one 429 instead of a burst. Two 429s of Azure's call limit show where its request windows end and
how long they last; from then on a used-up window is waited out to the next one, without a probe.
It runs on one event loop: no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError

log = logging.getLogger("instructor_az.pipeline")

AUTO_START = 4
AUTO_MAX = 64
#: Transport retries wait `backoff * 2**n` seconds (jittered, at most `MAX_BACKOFF`) unless the
#: server said how long (`retry-after-ms` / `retry-after`).
MAX_BACKOFF = 30.0
#: With the window's requests used up (auto mode), one probe request goes this often (until the
#: windows' length is known: then the next window is waited for).
PROBE_SECONDS = 0.25
#: Sent this long after a window is expected to open (clocks and rounding).
RESET_MARGIN = 0.02


def _header_number(headers: Mapping[str, str] | None, name: str) -> float | None:
    if headers is None:
        return None
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked to wait (`retry-after-ms`, else `retry-after` in seconds), if it did."""
    ms = _header_number(headers, "retry-after-ms")
    if ms is not None:
        return max(ms, 0.0) / 1000
    seconds = _header_number(headers, "retry-after")
    return max(seconds, 0.0) if seconds is not None else None


def _prompt_estimate(request: Mapping[str, Any]) -> int:
    size = len(repr(request.get("messages"))) + len(
        repr(request.get("tools") or request.get("response_format"))
    )
    return size // 4


def _answer_budget(request: Mapping[str, Any]) -> int | None:
    answer = request.get("max_completion_tokens") or request.get("max_tokens")
    return int(answer) if isinstance(answer, (int, float)) and not isinstance(answer, bool) else None


def estimate_tokens(request: Mapping[str, Any]) -> int:
    """A request's tokens before it is sent: about 4 characters a token of its body, plus the answer
    budget (`max_tokens` / `max_completion_tokens`, else 256)."""
    budget = _answer_budget(request)
    return _prompt_estimate(request) + (budget if budget is not None else 256)


def reserved_tokens(request: Mapping[str, Any]) -> int:
    """What Azure's token window is checked against when the request arrives: its prompt plus
    `max_tokens` (only the prompt when it has none)."""
    return _prompt_estimate(request) + (_answer_budget(request) or 0)


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted request: its estimate and reservation, whether it went as a probe, and the pacer's
    running totals (requests sent, tokens reserved) once it was counted, so an answer's
    `x-ratelimit-remaining-*` can be brought up to date with what was sent after it."""

    estimate: int
    reserve: int
    probe: bool
    sent: int
    reserved: float
    predicted: bool = False  # sent at a window start predicted from the windows' learned length
    probed: tuple[bool, bool] = (False, False)  # the (requests, tokens) windows it probed


class Pacer:
    """Admission for the pipeline's requests (see the module's docstring)."""

    def __init__(
        self,
        concurrency: int | str = "auto",
        *,
        tokens_per_minute: int | None = None,
        max_concurrency: int = AUTO_MAX,
        backoff: float = 0.5,
    ) -> None:
        if concurrency == "auto":
            self.auto = True
            self.limit = min(AUTO_START, max_concurrency)
        elif isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1:
            self.auto = False
            self.limit = concurrency
            max_concurrency = concurrency
        else:
            raise ConfigurationError(
                f'concurrency must be a whole number >= 1 or "auto", got {concurrency!r}'
            )
        if tokens_per_minute is not None and tokens_per_minute < 1:
            raise ConfigurationError(f"tokens_per_minute must be >= 1, got {tokens_per_minute}")
        self.max_concurrency = max_concurrency
        self.tokens_per_minute = tokens_per_minute
        self.backoff = backoff
        self.in_flight = 0
        self.peak_in_flight = 0
        self.paused_until = 0.0
        self.stopping = False
        self.requests = 0
        self.rate_limited = 0
        self.pauses = 0
        self._tokens = float(tokens_per_minute or 0)
        self._refilled = time.monotonic()
        self._capacity: int | None = None  # the largest requests window seen (remaining + 1)
        self._probed = (False, False)
        self._paused_sent = 0  # requests sent when the pause in force began
        # Whether the (requests, tokens) headers steer admission, and the probes they let through in
        # a row while reporting no room.
        self._binding = [True, True]
        self._free_probes = [0, 0]
        # Requests (and tokens) left in Azure's windows by its last answer, less those sent since (auto
        # mode; None while unknown), and when the last probe for a used-up window went.
        self._window: float | None = None
        self._window_out_at = 0.0
        self._token_window: float | None = None
        self._token_out_at = 0.0
        self._reserved_total = 0.0
        # When a call window was last seen to end (a 429's retry-after) and how long windows last.
        self._reset_at: float | None = None
        self._period: float | None = None
        self._candidate: float | None = None  # a gap between window ends not yet confirmed
        self._predicting = False
        self._probing = False
        self._changed = asyncio.Event()

    # --- admission --------------------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        if self.tokens_per_minute is not None:
            rate = self.tokens_per_minute / 60
            self._tokens = min(float(self.tokens_per_minute), self._tokens + (now - self._refilled) * rate)
        self._refilled = now

    def _wait_time(self, estimate: int, reserve: int, now: float) -> float | None:
        """None when a request may go now (True: as a probe of a used-up window), else how long (at
        most) to wait before looking again."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= self.limit:
            return 1.0  # woken earlier by a request ending
        requests_out = self._window is not None and self._window <= 0
        tokens_out = self._token_window is not None and self._token_window < reserve
        if requests_out and not tokens_out:
            reset = self._next_reset(self._window_out_at)
            if reset is not None:  # the window's rhythm is known: wait for the next one, no probe
                if now < reset:
                    return reset - now
                self._window = self._capacity  # a fresh window; the answers will say how much is left
                self._probing = self._predicting = True  # a 429 now: the rhythm was wrong
                requests_out = False
        if requests_out or tokens_out:
            last = max(
                self._window_out_at if requests_out else 0.0, self._token_out_at if tokens_out else 0.0
            )
            waited = now - last
            if waited < PROBE_SECONDS:
                return PROBE_SECONDS - waited  # or sooner, when an answer says the window has room
            self._probing = True
            self._probed = (requests_out, tokens_out)
            if requests_out:
                self._window, self._window_out_at = 1, now
            if tokens_out:
                self._token_window, self._token_out_at = float(reserve), now
        if self.tokens_per_minute is not None:
            self._refill(now)
            need = min(
                float(estimate), float(self.tokens_per_minute)
            )  # a huge request waits for a full bucket
            if self._tokens < need:
                return (need - self._tokens) / (self.tokens_per_minute / 60)
        return None

    async def acquire(self, estimate: int, reserve: int | None = None) -> Ticket:
        """Wait until a request of about `estimate` tokens (`reserve` of them counted against Azure's
        token window at arrival; default `estimate`) may go; `StopPipeline` once the pipeline is
        stopping (no new requests). Give the ticket back to `release` when the request ends."""
        reserve = estimate if reserve is None else reserve
        while True:
            if self.stopping:
                raise StopPipeline
            self._probing = self._predicting = False
            self._probed = (False, False)
            wait = self._wait_time(estimate, reserve, time.monotonic())
            if wait is None:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
        probe = self._probing
        now = time.monotonic()
        self.in_flight += 1
        if self._window is not None:
            self._window -= 1
            if self._window <= 0:
                self._window_out_at = now
        if self._token_window is not None:
            self._token_window -= reserve
            self._token_out_at = now  # a probe for tokens waits PROBE_SECONDS from the last change
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.requests += 1
        self._reserved_total += reserve
        if self.tokens_per_minute is not None:
            self._tokens -= estimate
        return Ticket(
            estimate, reserve, probe, self.requests, self._reserved_total, self._predicting, self._probed
        )

    def _wake(self) -> None:
        self._changed.set()

    def release(self, ticket: Ticket, *, used: int | None, headers: Mapping[str, str] | None) -> None:
        """A request ended (answered or failed); `used` is its real token count when known."""
        self.in_flight -= 1
        if self.tokens_per_minute is not None and used is not None:
            self._tokens += ticket.estimate - used  # correct the estimate taken at admission
        if self.auto and headers is not None:
            self._grow(ticket, headers)
        self._wake()

    def _grow(self, ticket: Ticket, headers: Mapping[str, str]) -> None:
        requests = _header_number(headers, "x-ratelimit-remaining-requests")
        tokens = _header_number(headers, "x-ratelimit-remaining-tokens")
        # What remained when this request arrived, less what was sent after it (counted since by Azure,
        # or about to be).
        # A window that admits probe after probe while it reports no room is not enforced (a limit
        # the deployment does not apply, or a proxy's header): it stops steering until a 429 of its kind.
        probed_requests, probed_tokens = ticket.probed
        if requests is not None and probed_requests:
            self._free_probes[0] = self._free_probes[0] + 1 if requests <= 0 else 0
            self._binding[0] = self._binding[0] and self._free_probes[0] < 2
        if tokens is not None and probed_tokens:
            self._free_probes[1] = self._free_probes[1] + 1 if tokens < ticket.reserve else 0
            self._binding[1] = self._binding[1] and self._free_probes[1] < 2
        if requests is not None and not self._binding[0]:
            requests = None
        if tokens is not None and not self._binding[1]:
            tokens = None
        if requests is not None:
            self._window = requests - (self.requests - ticket.sent)
            if self._window <= 0:
                self._window_out_at = time.monotonic()
        else:
            self._window = None
        if tokens is not None:
            self._token_window = tokens - (self._reserved_total - ticket.reserved)
            self._token_out_at = time.monotonic()
        else:
            self._token_window = None
        if requests is not None:
            self._capacity = max(self._capacity or 0, int(requests) + 1)
        if requests is None and tokens is None:
            return
        # Grow while the requests in flight are what holds the run back and the windows have room:
        # by one per such answer (the windows, not the limit, keep the run inside the quota).
        room = (self._window is None or self._window > 0) and (
            self._token_window is None or self._token_window > 0
        )
        if room and self.in_flight + 1 >= self.limit and self.limit < self.max_concurrency:
            self.limit += 1

    def _next_reset(self, after: float) -> float | None:
        """When the first requests window after `after` opens (a little past it), once two 429s of the
        call limit have shown the windows' length; None while it is unknown."""
        if self._period is None or self._reset_at is None:
            return None
        periods = math.ceil((after - self._reset_at) / self._period + 1e-9)
        return self._reset_at + max(periods, 0) * self._period + RESET_MARGIN

    def _learn_window(self, end: float, *, predicted: bool) -> None:
        """A call-limit 429 says its window ends at `end`. The windows' length is believed once two
        gaps between such ends agree (one a whole multiple of the other, within `RESET_MARGIN` or 4%); a 429
        to a request sent at a predicted window start unlearns it (the rhythm was wrong)."""
        if predicted:
            self._period = self._candidate = None
        if self._reset_at is not None and end <= self._reset_at + 2 * RESET_MARGIN:
            return  # the same window
        if self._reset_at is not None:
            gap = end - self._reset_at
            if self._candidate is not None:
                short, long = sorted((gap, self._candidate))
                multiple = round(long / short)
                tolerance = max(RESET_MARGIN, 0.04 * short) * multiple
                if multiple >= 1 and abs(long - multiple * short) <= tolerance:
                    self._period = short
            self._candidate = gap
        self._reset_at = end

    def rate_limited_for(
        self,
        seconds: float | None,
        ticket: Ticket | None = None,
        *,
        limit: str | None = None,
        sent_at: float | None = None,
    ) -> float:
        """A 429 came: pause every row (for `retry-after-ms`, else a backoff) and, in auto mode, halve
        the limit, unless it answered a probe of a window known to be used up (the pause is all it
        says). `limit` is which of Azure's limits refused it ("call" or "token", from its message): the
        ends of call windows teach the windows' length. Returns the pause."""
        self.rate_limited += 1
        pause = seconds if seconds is not None else self.backoff
        now = time.monotonic()
        until = now + pause
        if limit == "call" and seconds is not None:
            end = (sent_at if sent_at is not None else now) + seconds
            self._learn_window(end, predicted=ticket is not None and ticket.predicted)
        log.debug(
            "429 (%s limit) pause %.3fs; probe=%s predicted=%s; limit %d; window period %s",
            limit,
            pause,
            ticket is not None and ticket.probe,
            ticket is not None and ticket.predicted,
            self.limit,
            self._period,
        )
        if limit == "call":
            self._binding[0], self._free_probes[0] = True, 0
        elif limit == "token":
            self._binding[1], self._free_probes[1] = True, 0
        if ticket is not None and ticket.sent <= self._paused_sent and now < self.paused_until:
            # Sent before the pause in force began: one more 429 of the burst that pause answers.
            self.paused_until = max(self.paused_until, until)
            return pause
        if until <= self.paused_until:
            return pause
        self.paused_until = until
        self._paused_sent = self.requests
        self.pauses += 1
        if self.auto and not (ticket is not None and ticket.probe):
            self.limit = max(1, self.limit // 2)
        # The pause lasts until the window resets: then a whole window is there (as big as the most
        # any answer reported), and the tokens are unknown until an answer says.
        self._window, self._token_window = (self._capacity if self._binding[0] else None), None
        self._wake()
        return pause

    def backoff_for(self, retry: int, hinted: float | None) -> float:
        """The wait before transport retry number `retry` (1-based) of one row."""
        if hinted is not None:
            return hinted
        base = min(MAX_BACKOFF, self.backoff * 2.0 ** (retry - 1))
        return base * random.uniform(0.5, 1.0)

    def stop(self) -> None:
        """No new requests from now on (in-flight ones finish)."""
        self.stopping = True
        self._wake()


class StopPipeline(BaseException):  # past the protocol's `except Exception`: the row just stops
    """Raised in a row waiting for admission once the pipeline is stopping."""
