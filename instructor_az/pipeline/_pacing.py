"""When each row's next request may go: one controller for the whole pipeline.

The pacer admits a request when (1) no pause is in force (a 429 pauses every row for its
`retry-after-ms`), (2) fewer than `limit` requests are in flight, and (3) the token budget
(`tokens_per_minute`, a bucket refilled continuously) covers the request's estimate. With
`concurrency="auto"` the limit starts low, grows by a quarter with each answer that finds every
request slot taken while the `x-ratelimit-remaining-requests` / `-tokens` windows still have room, and is
halved on a 429 (but for a probe's); and
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
AUTO_MAX = 128
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


def prompt_estimate(request: Mapping[str, Any]) -> int:
    """A request's prompt tokens before it is sent: about 4 characters a token of its messages and
    its schema (the tools or the response format)."""
    conversation = request.get("messages", request.get("input"))  # chat, or the Responses API's input
    schema = request.get("tools") or request.get("response_format") or request.get("text")
    return (len(repr(conversation)) + len(repr(schema))) // 4


def _answer_budget(request: Mapping[str, Any]) -> int | None:
    answer = request.get("max_completion_tokens") or request.get("max_tokens") or request.get("max_output_tokens")
    return int(answer) if isinstance(answer, (int, float)) and not isinstance(answer, bool) else None


def estimate_tokens(request: Mapping[str, Any]) -> int:
    """A request's tokens before it is sent: about 4 characters a token of its body, plus the answer
    budget (`max_tokens` / `max_completion_tokens` / `max_output_tokens`, else 256)."""
    budget = _answer_budget(request)
    return prompt_estimate(request) + (budget if budget is not None else 256)


def reserved_tokens(request: Mapping[str, Any]) -> int:
    """What Azure's token window is checked against when the request arrives: its prompt plus
    `max_tokens` (only the prompt when it has none)."""
    return prompt_estimate(request) + (_answer_budget(request) or 0)


class _Rhythm:
    """Where one of Azure's windows (call or token) ends and how long it lasts, from its 429s: each
    429's `retry-after` marks a window's end; the length is believed once two gaps between such ends
    agree (one a whole multiple of the other, within `RESET_MARGIN` or 4%). A 429 to a request sent
    at a predicted window start unlearns it (the rhythm was wrong)."""

    def __init__(self) -> None:
        self.reset_at: float | None = None
        self.period: float | None = None
        self.candidate: float | None = None  # a gap between window ends not yet confirmed

    def learn(self, end: float, *, predicted: bool) -> None:
        if predicted:
            self.period = self.candidate = None
        if self.reset_at is not None and end <= self.reset_at + 2 * RESET_MARGIN:
            return  # the same window
        if self.reset_at is not None:
            gap = end - self.reset_at
            if self.candidate is not None:
                short, long = sorted((gap, self.candidate))
                multiple = round(long / short)
                tolerance = max(RESET_MARGIN, 0.04 * short) * multiple
                if multiple >= 1 and abs(long - multiple * short) <= tolerance:
                    self.period = short
            self.candidate = gap
        self.reset_at = end

    def next_reset(self, after: float) -> float | None:
        """When the first window after `after` opens (a little past it); None while unknown."""
        if self.period is None or self.reset_at is None:
            return None
        periods = math.ceil((after - self.reset_at) / self.period + 1e-9)
        return self.reset_at + max(periods, 0) * self.period + RESET_MARGIN


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted request: its estimate and reservation, whether it went as a probe, and the pacer's
    running totals (requests sent, tokens reserved) once it was counted, so an answer's
    `x-ratelimit-remaining-*` can be brought up to date with what was sent after it."""

    estimate: int
    reserve: int
    prompt: int
    probe: bool
    sent: int
    reserved: float
    predicted: bool = False  # sent at a window start predicted from the windows' learned length
    probed: tuple[bool, bool] = (False, False)  # the (requests, tokens) windows it probed
    epoch: int = 0  # the pacer's window epoch when it went (a pause or a predicted reset starts one)


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
        self._epoch = 0  # a new window began (a pause ended at its reset, or a predicted one)
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
        # Where the call and token windows end and how long they last (learned from 429s).
        self._rhythms = {"call": _Rhythm(), "token": _Rhythm()}
        self.prompt_scale = 1.0  # Azure's prompt tokens over our estimates, as answers report them
        self._token_capacity: float | None = None  # the most tokens a window was seen to hold
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
        """None when a request may go now (`_probing` / `_predicting` say whether as a probe or at a
        predicted window start), else how long (at most) to wait before looking again."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= self.limit:
            return 1.0  # woken earlier by a request ending
        requests_out = self._window is not None and self._window <= 0
        tokens_out = self._token_window is not None and self._token_window < reserve
        if requests_out or tokens_out:
            # Windows whose rhythm is known are waited out to their next start (no probe).
            resets = [
                self._rhythms[kind].next_reset(out_at)
                for kind, out, out_at in (
                    ("call", requests_out, self._window_out_at),
                    ("token", tokens_out, self._token_out_at),
                )
                if out
            ]
            if all(reset is not None for reset in resets):
                opens = max(reset for reset in resets if reset is not None)
                if now < opens:
                    return opens - now
                if requests_out:
                    self._window = self._capacity  # a fresh window; answers will say how much is left
                if tokens_out:
                    self._token_window = self._token_capacity
                self._epoch += 1
                self._probing = self._predicting = True  # a 429 now: the rhythm was wrong
                requests_out = tokens_out = False
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

    async def acquire(self, estimate: int, reserve: int | None = None, *, prompt: int = 0) -> Ticket:
        """Wait until a request of about `estimate` tokens (`reserve` of them counted against Azure's
        token window at arrival; default `estimate`) may go; `StopPipeline` once the pipeline is
        stopping (no new requests). `prompt` is the prompt's share of both, as estimated: it is
        scaled by what Azure's reported prompt tokens have shown of the estimates so far. Give the
        ticket back to `release` when the request ends."""
        base_estimate, base_reserve = estimate, estimate if reserve is None else reserve
        while True:
            if self.stopping:
                raise StopPipeline
            self._probing = self._predicting = False
            self._probed = (False, False)
            extra = round(prompt * (self.prompt_scale - 1.0)) if prompt else 0  # as known now
            estimate, reserve = base_estimate + extra, base_reserve + extra
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
            estimate,
            reserve,
            prompt,
            probe,
            self.requests,
            self._reserved_total,
            self._predicting,
            self._probed,
            self._epoch,
        )

    def _wake(self) -> None:
        self._changed.set()

    def release(
        self,
        ticket: Ticket,
        *,
        used: int | None,
        headers: Mapping[str, str] | None,
        prompt_used: int | None = None,
    ) -> None:
        """A request ended (answered or failed); `used` is its real token count when known,
        `prompt_used` its real prompt tokens (which correct later prompt estimates)."""
        self.in_flight -= 1
        if prompt_used and ticket.prompt:
            ratio = prompt_used / ticket.prompt  # rises at once, falls slowly: estimates err high
            self.prompt_scale = ratio if ratio > self.prompt_scale else 0.9 * self.prompt_scale + 0.1 * ratio
        if self.tokens_per_minute is not None and used is not None:
            self._tokens += ticket.estimate - used  # correct the estimate taken at admission
        if self.auto and headers is not None:
            self._grow(ticket, headers)
        self._wake()

    def _grow(self, ticket: Ticket, headers: Mapping[str, str]) -> None:
        requests = _header_number(headers, "x-ratelimit-remaining-requests")
        tokens = _header_number(headers, "x-ratelimit-remaining-tokens")
        # Azure's Responses API reports -1 for a window it does not count in the headers: not known.
        requests = None if requests is not None and requests < 0 else requests
        tokens = None if tokens is not None and tokens < 0 else tokens
        if ticket.epoch != self._epoch:
            return  # sent before the current window began: what it says is about the last one
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
        if tokens is not None:
            self._token_capacity = max(self._token_capacity or 0.0, tokens + ticket.reserve)
        if requests is None and tokens is None:
            return
        # Grow while the requests in flight are what holds the run back and the windows have room: by
        # a quarter per such answer (the windows, not the limit, keep the run inside the quota).
        room = (self._window is None or self._window > 0) and (
            self._token_window is None or self._token_window > 0
        )
        if room and self.in_flight + 1 >= self.limit and self.limit < self.max_concurrency:
            self.limit = min(self.max_concurrency, self.limit + max(1, self.limit // 4))

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
        if limit in self._rhythms and seconds is not None:
            end = (sent_at if sent_at is not None else now) + seconds
            self._rhythms[limit].learn(end, predicted=ticket is not None and ticket.predicted)
        log.debug(
            "429 (%s limit) pause %.3fs; %s; limit %d; windows %s / %s; token window %s of %s; epoch %d",
            limit,
            pause,
            ticket,
            self.limit,
            self._rhythms["call"].period,
            self._rhythms["token"].period,
            self._token_window,
            self._token_capacity,
            self._epoch,
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
        # A probe's 429 says only that the window is still used up; any other says more went than
        # the windows could take (their reports lag behind requests on the way): fewer at once.
        if self.auto and not (ticket is not None and ticket.probe):
            self.limit = max(1, self.limit // 2)
        # The pause lasts until the window resets: then a whole window is there (as big as the most
        # any answer reported).
        self._window = self._capacity if self._binding[0] else None
        self._token_window = self._token_capacity if self._binding[1] else None
        self._epoch += 1  # answers to requests sent before now speak of the window that ran out
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
