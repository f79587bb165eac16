"""`max_retries`: an int (re-asks after the first attempt, as in instructor) or a tenacity `Retrying` / `AsyncRetrying` whose stop,
wait and callbacks drive the re-asks, in sync and async calls alike."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_fixed,
)
from validation_kit import collect, resolve

import instructor_az
from instructor_az import ConfigurationError, InstructorRetryException
from instructor_az.emulator import Emulator

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Calls:
    """Records tenacity callbacks as (callback, attempt number, time)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, float]] = []

    def sync(self, name: str) -> Any:
        def callback(state: RetryCallState) -> None:
            self.seen.append((name, state.attempt_number, time.perf_counter()))

        return callback

    def asynchronous(self, name: str) -> Any:
        async def callback(state: RetryCallState) -> None:
            self.seen.append((name, state.attempt_number, time.perf_counter()))

        return callback

    def of(self, name: str) -> list[int]:
        return [n for kind, n, _ in self.seen if kind == name]


def create(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, **kwargs)


@pytest.mark.parametrize("attempts", [1, 2, 4])
async def test_int_is_the_number_of_reasks_after_the_first_attempt(
    make: Any, azure_emulator: Emulator, attempts: int
) -> None:
    # As in instructor: max_retries=N allows N + 1 attempts (0: the first one only).
    azure_emulator.scripted.push(*[BAD] * 5)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make(), max_retries=attempts - 1))
    assert caught.value.n_attempts == attempts
    assert len(azure_emulator.requests) == attempts
    assert azure_emulator.scripted.pending == 5 - attempts


async def test_default_is_three_attempts(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(*[BAD] * 4)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make()))
    assert caught.value.n_attempts == 3
    assert len(azure_emulator.requests) == 3


@pytest.mark.parametrize("bad", [-1, True, "3", 2.5, None])
async def test_invalid_max_retries_is_a_configuration_error_before_any_request(
    make: Any, azure_emulator: Emulator, bad: Any
) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        await resolve(create(make(), max_retries=bad))
    assert len(azure_emulator.requests) == 0


@pytest.mark.parametrize("policy_class", [Retrying, AsyncRetrying])
async def test_tenacity_stop_wait_and_callbacks_are_honoured(
    make: Any, azure_emulator: Emulator, policy_class: type[Retrying] | type[AsyncRetrying]
) -> None:
    """Either policy class, on either client (a sync one given to an async client and the reverse)."""
    azure_emulator.scripted.push(BAD, BAD, BAD, GOOD)
    calls = Calls()
    policy = policy_class(
        stop=stop_after_attempt(3),
        wait=wait_fixed(0.04),
        before=calls.sync("before"),
        after=calls.sync("after"),
        before_sleep=calls.sync("before_sleep"),
    )
    started = time.perf_counter()
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make(), max_retries=policy))
    elapsed = time.perf_counter() - started
    assert caught.value.n_attempts == 3
    assert len(azure_emulator.requests) == 3
    assert (
        azure_emulator.scripted.pending == 1
    )  # stop_after_attempt(3): the fourth answer was never asked for
    assert calls.of("before") == [1, 2, 3]
    assert calls.of("after") == [1, 2, 3]  # tenacity calls `after` for every failed attempt
    assert calls.of("before_sleep") == [1, 2]  # and sleeps only between attempts
    assert elapsed >= 2 * 0.04
    # each wait happened between `before_sleep` and the next `before`
    times = {(kind, n): t for kind, n, t in calls.seen}
    assert times[("before", 2)] - times[("before_sleep", 1)] >= 0.04
    assert times[("before", 3)] - times[("before_sleep", 2)] >= 0.04


async def test_async_callbacks_are_awaited(make: Any, azure_emulator: Emulator) -> None:
    """An `AsyncRetrying` with coroutine callbacks: awaited in async calls, run to completion in sync ones."""
    azure_emulator.scripted.push(BAD, GOOD)
    calls = Calls()
    policy = AsyncRetrying(
        stop=stop_after_attempt(3),
        wait=wait_fixed(0.01),
        before=calls.asynchronous("before"),
        after=calls.asynchronous("after"),
        before_sleep=calls.asynchronous("before_sleep"),
    )
    user = await resolve(create(make(), max_retries=policy))
    assert user == User(**GOOD)
    assert calls.of("before") == [1, 2]
    assert calls.of("after") == [1]
    assert calls.of("before_sleep") == [1]


def test_async_callbacks_in_a_sync_call_made_inside_a_running_loop(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    """Sync code called from async code (a running loop in this thread) still runs the coroutines."""
    import asyncio

    azure_emulator.scripted.push(BAD, GOOD)
    calls = Calls()
    client = instructor_az.from_openai(azure_openai_client)

    async def main() -> Any:
        policy = AsyncRetrying(stop=stop_after_attempt(2), before=calls.asynchronous("before"))
        return create(client, max_retries=policy)

    assert asyncio.run(main()) == User(**GOOD)
    assert calls.of("before") == [1, 2]


async def test_wait_is_measured_between_attempts(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    started = time.perf_counter()
    user = await resolve(
        create(make(), max_retries=Retrying(stop=stop_after_attempt(2), wait=wait_fixed(0.08)))
    )
    assert user == User(**GOOD)
    assert time.perf_counter() - started >= 0.08


async def test_stop_before_delay_sees_the_upcoming_wait(make: Any, azure_emulator: Emulator) -> None:
    """tenacity computes the wait before asking `stop`: a wait that would overrun the budget stops at once."""
    azure_emulator.scripted.push(BAD, GOOD)
    started = time.perf_counter()
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make(), max_retries=Retrying(stop=stop_before_delay(0.5), wait=wait_fixed(1.0))))
    assert caught.value.n_attempts == 1
    assert len(azure_emulator.requests) == 1
    assert time.perf_counter() - started < 1.0  # it did not sleep first


async def test_before_sleep_log_reports_the_wait(
    make: Any, azure_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    logger = logging.getLogger("tests.validation.policy")
    policy = Retrying(
        stop=stop_after_attempt(2), wait=wait_fixed(0.01), before_sleep=before_sleep_log(logger, logging.INFO)
    )
    with caplog.at_level(logging.INFO, logger=logger.name):
        user = await resolve(create(make(), max_retries=policy))
    assert user == User(**GOOD)
    (record,) = [r for r in caplog.records if r.name == logger.name]
    assert "in 0.01 seconds" in record.getMessage()
    assert "less than or equal to 130" in record.getMessage()


async def test_retry_error_callback_supplies_the_value(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, BAD)
    fallback = User(name="unknown", age=0)
    policy = Retrying(stop=stop_after_attempt(2), retry_error_callback=lambda state: fallback)
    assert await resolve(create(make(), max_retries=policy)) is fallback
    assert len(azure_emulator.requests) == 2


async def test_retry_predicate_that_declines_ends_after_one_attempt(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    policy = Retrying(stop=stop_after_attempt(5), retry=retry_if_exception_type(KeyError))
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make(), max_retries=policy))
    assert caught.value.n_attempts == 1
    assert len(azure_emulator.requests) == 1


async def test_success_at_first_calls_before_only(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(GOOD)
    calls = Calls()
    policy = Retrying(stop=stop_after_attempt(3), before=calls.sync("before"), after=calls.sync("after"))
    assert await resolve(create(make(), max_retries=policy)) == User(**GOOD)
    assert calls.of("before") == [1]
    assert calls.of("after") == []


async def test_a_policy_object_is_reusable_across_calls(make: Any, azure_emulator: Emulator) -> None:
    """Each call keeps its own attempt count: a shared policy does not carry one call's state to the next."""
    azure_emulator.scripted.push(BAD, GOOD, BAD, GOOD)
    calls = Calls()
    policy = Retrying(stop=stop_after_attempt(2), before=calls.sync("before"))
    client = make()
    assert await resolve(create(client, max_retries=policy)) == User(**GOOD)
    assert await resolve(create(client, max_retries=policy)) == User(**GOOD)
    assert calls.of("before") == [1, 2, 1, 2]


async def test_streamed_calls_follow_the_policy_too(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, BAD, GOOD)
    calls = Calls()
    policy = Retrying(stop=stop_after_attempt(2), wait=wait_fixed(0.02), before=calls.sync("before"))
    client = make()
    started = time.perf_counter()
    with pytest.raises(InstructorRetryException) as caught:
        await collect(
            client.chat.completions.create_partial(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=policy
            )
        )
    assert caught.value.n_attempts == 2
    assert calls.of("before") == [1, 2]
    assert time.perf_counter() - started >= 0.02
    assert len(azure_emulator.requests) == 2
