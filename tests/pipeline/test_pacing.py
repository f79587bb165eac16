"""The pacer on its own: the token budget and the pause."""

from __future__ import annotations

import asyncio
import time

import pytest

import instructor_az
from instructor_az.pipeline._pacing import PROBE_SECONDS, Pacer, estimate_tokens, retry_after


async def test_tokens_per_minute_holds_a_request_until_the_budget_refills():
    pacer = Pacer(100, tokens_per_minute=600)  # 10 tokens a second
    started = time.monotonic()
    ticket = await pacer.acquire(600)  # the full bucket
    pacer.release(ticket, used=600, headers=None)
    await pacer.acquire(5)  # waits for 5 tokens: about half a second
    assert 0.4 <= time.monotonic() - started < 2


async def test_a_rate_limit_pauses_admission():
    pacer = Pacer(4)
    pacer.rate_limited_for(0.2)
    started = time.monotonic()
    await pacer.acquire(1)
    assert time.monotonic() - started >= 0.19
    assert (pacer.rate_limited, pacer.pauses, pacer.limit) == (1, 1, 4)  # a fixed limit is not cut


def test_headers_and_estimates():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "2"}) == 2
    assert retry_after({}) is None
    assert estimate_tokens({"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 10}) > 100


@pytest.mark.parametrize("bad", [0, -1, "fast", True])
def test_bad_concurrency_is_refused(bad):
    with pytest.raises(instructor_az.ConfigurationError, match="concurrency"):
        Pacer(bad)


async def test_auto_waits_once_the_window_azure_reports_is_used_up() -> None:
    pacer = Pacer("auto")
    ticket = await pacer.acquire(10)
    pacer.release(ticket, used=10, headers={"x-ratelimit-remaining-requests": "1"})
    await pacer.acquire(10)  # the one request left in the window
    started = time.monotonic()
    probe = await pacer.acquire(10)  # none left: a probe, after PROBE_SECONDS
    assert time.monotonic() - started >= PROBE_SECONDS * 0.9
    assert probe.probe
    pacer.release(probe, used=10, headers={"x-ratelimit-remaining-requests": "5"})  # the window reset
    started = time.monotonic()
    await pacer.acquire(10)
    assert time.monotonic() - started < PROBE_SECONDS / 2


async def test_an_answer_counts_only_what_was_sent_before_it() -> None:
    pacer = Pacer("auto", max_concurrency=64)
    pacer.limit = 64
    first = await pacer.acquire(10)
    for _ in range(9):  # sent after `first` arrived: Azure's answer to `first` does not count them
        await pacer.acquire(10)
    pacer.release(first, used=10, headers={"x-ratelimit-remaining-requests": "10"})
    for _ in range(1):  # 10 - 9 sent since: one left
        await pacer.acquire(10)
    started = time.monotonic()
    probe = await pacer.acquire(10)
    assert probe.probe
    assert time.monotonic() - started >= PROBE_SECONDS * 0.9


async def test_auto_keeps_reservations_inside_the_tokens_azure_reports() -> None:
    pacer = Pacer("auto")
    first = await pacer.acquire(300, 300)
    pacer.release(first, used=300, headers={"x-ratelimit-remaining-tokens": "1000"})
    for _ in range(3):
        assert not (await pacer.acquire(300, 300)).probe  # 900 of the 1000
    started = time.monotonic()
    probe = await pacer.acquire(300, 300)  # 100 left cannot hold 300: a probe, later
    assert probe.probe
    assert time.monotonic() - started >= PROBE_SECONDS * 0.9


async def test_a_probe_s_429_pauses_without_cutting_the_limit() -> None:
    pacer = Pacer("auto")
    ticket = await pacer.acquire(10)
    pacer.release(ticket, used=10, headers={"x-ratelimit-remaining-requests": "0"})
    probe = await pacer.acquire(10)
    assert probe.probe
    limit = pacer.limit
    pacer.release(probe, used=0, headers=None)
    assert pacer.rate_limited_for(0.05, probe) == 0.05
    assert pacer.limit == limit  # a 429 to a probe says the window is full, not that we are too many
    ticket = await pacer.acquire(10)
    pacer.release(ticket, used=0, headers=None)
    pacer.rate_limited_for(0.05, ticket)
    assert pacer.limit == max(1, limit // 2)


async def test_a_token_header_that_never_binds_stops_steering() -> None:
    # A deployment (or a proxy) whose x-ratelimit-remaining-tokens stays at 0 while it keeps admitting:
    # two probes through in a row, and the header is no longer obeyed (until a token 429).
    pacer = Pacer("auto")
    first = await pacer.acquire(300, 300)
    pacer.release(first, used=300, headers={"x-ratelimit-remaining-tokens": "0"})
    for _ in range(2):
        probe = await pacer.acquire(300, 300)
        assert probe.probe
        pacer.release(probe, used=300, headers={"x-ratelimit-remaining-tokens": "0"})
    started = time.monotonic()
    free = await pacer.acquire(300, 300)
    assert not free.probe
    assert time.monotonic() - started < PROBE_SECONDS / 2
    pacer.release(free, used=300, headers=None)
    pacer.rate_limited_for(0.01, free, limit="token")  # a real token 429: the header steers again
    await asyncio.sleep(0.02)
    again = await pacer.acquire(300, 300)
    pacer.release(again, used=300, headers={"x-ratelimit-remaining-tokens": "0"})
    assert (await pacer.acquire(300, 300)).probe


async def test_a_burst_of_429s_pauses_and_halves_once() -> None:
    pacer = Pacer("auto", max_concurrency=64)
    pacer.limit = 32
    tickets = [await pacer.acquire(10) for _ in range(5)]
    for ticket in tickets:
        pacer.release(ticket, used=0, headers=None)
        pacer.rate_limited_for(0.3, ticket, limit="call")
    assert pacer.limit == 16
    assert pacer.pauses == 1
    assert pacer.rate_limited == 5


async def test_the_windows_length_is_learned_from_429s_and_waited_out() -> None:
    pacer = Pacer("auto")
    start = time.monotonic()
    for end in (0.2, 0.4, 0.6):  # three 429s whose windows end 0.2 s apart
        ticket = await pacer.acquire(10)
        pacer.release(ticket, used=0, headers=None)
        pacer.rate_limited_for(
            max(start + end - time.monotonic(), 0.001), ticket, limit="call", sent_at=time.monotonic()
        )
        await asyncio.sleep(max(start + end - time.monotonic(), 0) + 0.005)
    ticket = await pacer.acquire(10)
    pacer.release(ticket, used=0, headers={"x-ratelimit-remaining-requests": "0"})  # used up again
    waited_from = time.monotonic()
    nxt = await pacer.acquire(10)
    assert nxt.predicted  # sent at the next window's start, not as a probe every PROBE_SECONDS
    assert not nxt.probe or nxt.predicted
    assert time.monotonic() - waited_from <= 0.2 + 0.05


async def test_a_minus_one_window_is_not_known_not_used_up() -> None:
    """Azure's Responses API reports x-ratelimit-remaining-tokens (and sometimes -requests) as -1."""
    pacer = Pacer("auto")
    first = await pacer.acquire(300, 300)
    pacer.release(
        first,
        used=300,
        headers={"x-ratelimit-remaining-tokens": "-1", "x-ratelimit-remaining-requests": "-1"},
    )
    for _ in range(4):  # no phantom empty window: no probe, no wait
        assert not (await pacer.acquire(300, 300)).probe
