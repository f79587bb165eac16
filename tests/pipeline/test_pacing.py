"""The pacer on its own: the token budget and the pause."""

from __future__ import annotations

import time

import pytest

import instructor_az
from instructor_az.pipeline._pacing import PROBE_SECONDS, Pacer, estimate_tokens, retry_after


async def test_tokens_per_minute_holds_a_request_until_the_budget_refills():
    pacer = Pacer(100, tokens_per_minute=600)  # 10 tokens a second
    started = time.monotonic()
    await pacer.acquire(600)  # the full bucket
    pacer.release(600, used=600, headers=None)
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
    await pacer.acquire(10)
    pacer.release(10, used=10, headers={"x-ratelimit-remaining-requests": "1"})
    await pacer.acquire(10)  # the one request left in the window
    started = time.monotonic()
    await pacer.acquire(10)  # none left: a probe, after PROBE_SECONDS
    assert time.monotonic() - started >= PROBE_SECONDS * 0.9
    pacer.release(10, used=10, headers={"x-ratelimit-remaining-requests": "5"})  # the window reset
    started = time.monotonic()
    await pacer.acquire(10)
    assert time.monotonic() - started < PROBE_SECONDS / 2
