"""A router over emulated regions: outages, weights, cooldowns, fallback to OpenAI, content filters."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest
from openai import InternalServerError, NotFoundError, RateLimitError
from router_kit import MESSAGES, Clock, User, chat_requests

import instructor_az
from instructor_az import ContentFilterError, PromptFilterError
from instructor_az.emulator import DEFAULT_API_KEY, Fault, Quota
from instructor_az.router import AsyncRouter, NoTargetAvailable, Router, Target


def _router(regions, **options):  # type: ignore[no-untyped-def]
    east, west, _ = regions
    return Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        **options,
    )


def test_a_region_that_goes_down_mid_run_loses_no_call(regions) -> None:
    """503s, then dropped connections, then recovery, while 8 threads call: every call succeeds."""
    east, west, _ = regions
    router = _router(regions, cooldown=0.05, max_cooldown=0.1, failures_to_cool=2, seed=7)
    client = instructor_az.from_openai(router)
    served: list[str] = []
    failovers: list[str] = []
    lock = threading.Lock()

    def on_served(event) -> None:  # type: ignore[no-untyped-def]
        with lock:
            served.append(event.target)
            n = len(served)
        if n == 150:
            east.inject(Fault.server_error(503), times=None)
        elif n == 300:
            east.clear_faults()
            east.inject(Fault.drop_connection(), times=None)
        elif n == 450:
            east.clear_faults()

    client.on("route:served", on_served)
    client.on("route:failover", lambda event: failovers.append(event.reason))

    def call(_: int) -> User:
        return client.create(response_model=User, messages=MESSAGES)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        users = list(pool.map(call, range(600)))

    assert len(users) == 600
    assert all(isinstance(u, User) for u in users)
    statuses = [r.status for r in east.requests]
    assert statuses.count(503) > 0  # the outage happened, and was answered elsewhere
    assert "server_error" in failovers
    assert "connection" in failovers
    assert served[:150].count("eastus") > 30  # east served before its outage...
    assert served[480:].count("eastus") > 20  # ...and again once it was back
    assert chat_requests(west) == served.count("westus")


async def test_async_region_down_mid_run_loses_no_call(regions) -> None:
    east, west, _ = regions
    router = AsyncRouter(
        [
            Target(east.async_client(), name="eastus", model="gpt-4o"),
            Target(west.async_client(), name="westus", model="gpt-4o"),
        ],
        cooldown=0.05,
        failures_to_cool=2,
        seed=3,
    )
    client = instructor_az.from_openai(router)
    done = 0
    gate = asyncio.Semaphore(16)

    async def call() -> User:
        nonlocal done
        async with gate:
            user = await client.create(response_model=User, messages=MESSAGES)
        done += 1
        if done == 100:
            east.inject(Fault.server_error(503), times=None)
        elif done == 200:
            east.clear_faults()
            east.inject(Fault.drop_connection(), times=None)
        return user

    users = await asyncio.gather(*(call() for _ in range(300)))
    assert all(isinstance(u, User) for u in users)
    assert [r.status for r in east.requests].count(503) > 0
    await router.close()


async def test_weights_are_honoured_within_a_few_percent_over_10000_calls(regions) -> None:
    east, west, _ = regions
    for region in (east, west):  # quotas that 10,000 calls in a few seconds do not use up
        region.quotas.set(Quota(rpm=10_000_000, tpm=10_000_000_000))
    router = AsyncRouter(
        [
            Target(east.async_client(), name="eastus", model="gpt-4o", weight=3),
            Target(west.async_client(), name="westus", model="gpt-4o", weight=1),
        ]
    )
    gate = asyncio.Semaphore(32)

    async def call() -> None:
        async with gate:
            await router.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    await asyncio.gather(*(call() for _ in range(10_000)))
    share = chat_requests(east) / 10_000  # counted where the requests landed
    assert chat_requests(east) + chat_requests(west) == 10_000
    assert share == pytest.approx(0.75, abs=0.02)
    assert {h.name: h.served for h in router.health()} == {
        "eastus": chat_requests(east),
        "westus": chat_requests(west),
    }
    await router.close()


def test_a_429_cools_exactly_that_target_for_its_retry_after_ms(regions) -> None:
    east, west, _ = regions
    clock = Clock()
    router = _router(regions, strategy="ordered", clock=clock)
    east.inject(Fault.rate_limit(retry_after_ms=1500), times=1)
    failovers = []
    router.on("route:failover", failovers.append)

    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # east 429s, west answers
    health = {h.name: h for h in router.health()}
    assert health["eastus"].cooling_for == pytest.approx(1.5, abs=1e-9)
    assert health["westus"].cooling_for == 0
    assert health["westus"].available
    assert failovers[0].target == "eastus"
    assert failovers[0].reason == "rate_limit"
    assert failovers[0].cooldown == pytest.approx(1.5)
    assert (chat_requests(east), chat_requests(west)) == (1, 1)

    clock.now = 1.499
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (chat_requests(east), chat_requests(west)) == (1, 2)  # east not even tried
    clock.now = 1.5
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (chat_requests(east), chat_requests(west)) == (2, 2)  # back exactly then


def test_a_target_whose_window_is_used_up_is_skipped_before_it_429s(regions) -> None:
    east, west, _ = regions
    east.quotas.set(Quota(rpm=30, rpm_period=10))  # 5 requests a 10 s window
    clock = Clock()
    router = _router(regions, strategy="ordered", clock=clock)
    for _ in range(6):
        router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert [r.status for r in east.requests] == [200] * 5  # its 5th answer said 0 remain: no 6th sent
    assert chat_requests(west) == 1
    east_health = router.health()[0]
    assert east_health.remaining_requests == 0
    assert east_health.cooling_for == pytest.approx(1.0)
    assert "x-ratelimit-remaining-requests: 0" in (east_health.reason or "")

    clock.now = 1.0  # tried again: Azure's 429 now says exactly how long the window has left
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert [r.status for r in east.requests][-1] == 429
    assert chat_requests(west) == 2
    assert 0 < router.health()[0].cooling_for <= 10


def test_a_target_returns_after_its_cooldown_on_probation(regions) -> None:
    east, _west, _ = regions
    clock = Clock()
    router = _router(regions, strategy="ordered", clock=clock, cooldown=5, failures_to_cool=2)
    east.inject(Fault.server_error(503), times=3)
    for _ in range(2):
        router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    east_health = router.health()[0]
    assert east_health.cooling_for == pytest.approx(5)
    assert east_health.probation
    assert "2 consecutive failures" in (east_health.reason or "")

    clock.now = 4.99
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert chat_requests(east) == 2
    clock.now = 5.0  # back, on probation: its probe fails, and the next cooldown is twice as long
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert chat_requests(east) == 3
    assert router.health()[0].cooling_for == pytest.approx(10)
    clock.now = 15.0  # the probe succeeds: healthy again, cooldowns back to 5 s
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    health = router.health()[0]
    assert chat_requests(east) == 4
    assert health.available
    assert not health.probation
    assert health.consecutive_failures == 0


def test_fallback_to_a_plain_openai_client_with_the_model_override(regions) -> None:
    east, west, openai_side = regions
    router = Router(
        [
            Target(east.client(), name="eastus", model="gpt-4o"),
            Target(west.client(), name="westus", model="gpt-4o"),
        ],
        fallbacks=[Target(openai_side.openai_client(), name="openai", model="gpt-4o-mini")],
    )
    client = instructor_az.from_openai(router)
    served = []
    client.on("route:served", served.append)
    user = client.create(response_model=User, messages=MESSAGES, model="gpt-4o")
    assert isinstance(user, User)
    assert served[-1].target in ("eastus", "westus")
    assert chat_requests(openai_side) == 0  # a fallback is only for when the targets fail

    east.inject(Fault.server_error(503), times=None)
    west.inject(Fault.drop_connection(), times=None)
    user = client.create(response_model=User, messages=MESSAGES, model="gpt-4o")
    assert isinstance(user, User)
    assert served[-1].target == "openai"
    assert set(served[-1].failovers) == {"eastus", "westus"}
    request = openai_side.last_request
    assert request.path == "/openai/v1/chat/completions"
    assert request.body["model"] == "gpt-4o-mini"


def test_content_filter_results_do_not_fall_back_unless_asked(regions) -> None:
    east, west, _ = regions
    client = instructor_az.from_openai(_router(regions, strategy="ordered"))
    east.inject(Fault.prompt_filter(violence="high"), times=1)
    with pytest.raises(PromptFilterError):
        client.create(response_model=User, messages=MESSAGES)
    east.inject(Fault.completion_filter(after_chars=5), times=1)
    with pytest.raises(ContentFilterError):
        client.create(response_model=User, messages=MESSAGES, max_retries=0)
    assert chat_requests(west) == 0

    asked = instructor_az.from_openai(_router(regions, strategy="ordered", fallback_on_content_filter=True))
    reasons = []
    asked.on("route:failover", lambda event: reasons.append(event.reason))
    east.inject(Fault.prompt_filter(violence="high"), times=1)
    assert isinstance(asked.create(response_model=User, messages=MESSAGES), User)
    east.inject(Fault.completion_filter(after_chars=5), times=1)
    assert isinstance(asked.create(response_model=User, messages=MESSAGES), User)
    assert reasons == ["content_filter", "content_filter"]
    assert chat_requests(west) == 2


def test_a_bad_request_is_the_calls_error_not_a_reason_to_fall_back(regions) -> None:
    east, west, _ = regions
    router = Router(
        [Target(east.client(), name="eastus"), Target(west.client(), name="westus")], strategy="ordered"
    )
    with pytest.raises(NotFoundError):  # no such deployment: the call's mistake, raised as the SDK raises it
        router.chat.completions.create(model="no-such-deployment", messages=MESSAGES)
    assert chat_requests(west) == 0
    assert router.health()[0].in_flight == 0
    assert router.health()[0].failed == 0

    moving = Router(
        [
            Target(east.client(), name="eastus", model="no-such-deployment"),
            Target(west.client(), name="westus"),
        ],
        strategy="ordered",
        fallback_on={404},
    )
    completion = moving.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message is not None
    assert chat_requests(west) == 1


def test_every_target_cooling_is_a_429_that_says_when_to_come_back(regions) -> None:
    east, west, _ = regions
    router = _router(regions, max_wait=0.5)
    east.inject(Fault.rate_limit(retry_after_ms=3000), times=1)
    west.inject(Fault.rate_limit(retry_after_ms=2000), times=1)
    with pytest.raises(NoTargetAvailable) as caught:
        router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    error = caught.value
    assert isinstance(error, RateLimitError)
    assert error.status_code == 429
    assert 1900 <= int(error.response.headers["retry-after-ms"]) <= 2000
    assert {name for name, _ in error.failures} == {"eastus", "westus"}
    assert "eastus" in str(error)
    assert "westus" in str(error)
    assert DEFAULT_API_KEY not in str(error)
    assert DEFAULT_API_KEY not in repr(error.failures)
    for _, failure in error.failures:  # the SDK errors it keeps hold their requests: keys redacted
        assert failure.request.headers["api-key"] == "<redacted>"  # type: ignore[union-attr]


def test_the_router_waits_for_the_first_target_back_when_that_is_soon(regions) -> None:
    east, west, _ = regions
    router = _router(regions)
    east.inject(Fault.rate_limit(retry_after_ms=100), times=1)
    west.inject(Fault.rate_limit(retry_after_ms=150), times=1)
    completion = router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices
    assert chat_requests(east) + chat_requests(west) == 3


def test_targets_that_fail_without_cooling_end_with_the_sdks_own_error(regions) -> None:
    east, west, _ = regions
    router = _router(regions, failures_to_cool=10, max_retries=1)
    east.inject(Fault.server_error(500), times=None)
    west.inject(Fault.server_error(500), times=None)
    with pytest.raises(InternalServerError):
        router.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert chat_requests(east) == 2
    assert chat_requests(west) == 2


def test_the_pipeline_runs_over_a_router_while_a_region_goes_down(regions) -> None:
    east, _, _ = regions
    router = _router(regions, cooldown=0.05, max_cooldown=0.1, failures_to_cool=2, seed=11)
    client = instructor_az.from_openai(router)
    served = []
    lock = threading.Lock()

    def on_served(event) -> None:  # type: ignore[no-untyped-def]
        with lock:
            served.append(event.target)
            n = len(served)
        if n == 30:  # mid-run, from inside the pipeline: its next requests meet the outage
            east.inject(Fault.server_error(503), times=None)
        elif n == 70:
            east.clear_faults()
            east.inject(Fault.drop_connection(), times=None)

    client.on("route:served", on_served)
    texts = [f"Person {i} is {20 + i % 50} years old" for i in range(120)]
    results = instructor_az.extract_many(client, texts, response_model=User)
    outcomes = list(results)
    assert len(outcomes) == 120
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
    assert results.summary.failed == 0
    assert [r.status for r in east.requests].count(503) > 0
    assert served[40:].count("westus") > served[40:].count("eastus")


def test_a_request_sent_before_a_cooldown_does_not_lengthen_it(regions) -> None:
    """Requests in flight when a target is taken out fail too: they say nothing new about it."""
    east, west, _ = regions
    clock = Clock()
    router = _router(regions, strategy="ordered", clock=clock, cooldown=5, failures_to_cool=1)
    east.inject(Fault.latency(0.2), times=1)  # the first request is slow, and fails late
    east.inject(Fault.server_error(503), times=2)
    results = []

    def slow() -> None:
        results.append(router.chat.completions.create(model="gpt-4o", messages=MESSAGES))

    first = threading.Thread(target=slow)
    first.start()
    while router.health()[0].in_flight == 0:  # the slow one is on its way to east
        pass
    router.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # takes east out for 5 s
    first.join()
    east_health = router.health()[0]
    assert east_health.cooling_for == pytest.approx(5)  # not doubled by the late failure
    assert east_health.failed == 2
    assert len(results) == 1
    assert chat_requests(west) == 2
