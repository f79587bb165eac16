"""Rows whose batch answer failed validation, re-asked: as a follow-up batch (the validation errors in
the conversation, read back by replaying every round) or online through the normal re-ask loop on an
online deployment; lines that failed in transit retried the same ways. Through the real SDK against the
emulator's Files and Batches APIs on its manual clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_kit import Doc

import instructor_az
from instructor_az.batch import BatchJob, BatchLineError, submit_batch
from instructor_az.emulator import Emulator, Fault, ManualClock
from instructor_az.exceptions import InstructorRetryException

BATCH = "gpt-4o-batch"


def _told(request: Any) -> bool:
    """The conversation carries our re-ask (the validation error of the last answer)."""
    return any("n must be 0 or more" in str(m.get("content")) for m in request.messages)


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    n = int(re.search(r"doc (\d+)", text).group(1))  # type: ignore[union-attr]
    if "[always]" in text or ("[once]" in text and not _told(request)):
        return {"n": -1}
    return {"n": n}


def _inputs() -> list[tuple[str, str]]:
    rows = []
    for i in range(30):
        tag = " [once]" if i % 5 == 1 else " [always]" if i % 10 == 7 else " [flaky]" if i == 4 else ""
        rows.append((f"d{i}", f"doc {i}{tag}"))
    return rows


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000.0)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=["test-key"], clock=clock)
    flaky = {"left": 1}

    def answer(request: Any) -> Any:
        text = str(request.messages[-1].get("content"))
        if "[flaky]" in text and flaky["left"]:
            flaky["left"] -= 1
            return Fault.server_error()
        return _answer(request)

    emulator.scripted.on(lambda request: True, answer)
    emulator.batches.processing_seconds = 600
    yield emulator
    emulator.close()


def _by_id(outcomes: list[Any]) -> dict[str, Any]:
    return {o.id: o for o in outcomes}


def test_a_follow_up_batch_carries_the_validation_errors_and_every_round_is_read(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key", max_retries=0))
    inputs = _inputs()
    job = submit_batch(client, inputs, tmp_path / "job", response_model=Doc, model=BATCH, max_tokens=30)
    job.wait(client, poll_interval=300, sleep=clock.advance)

    sent = job.reask_batch(client, inputs, response_model=Doc, max_retries=1)
    once = [i for i, t in inputs if "[once]" in t]
    always = [i for i, t in inputs if "[always]" in t]
    assert sent == len(once) + len(always) + 1  # + the [flaky] row whose line failed with a 500
    round2 = [json.loads(line) for line in (tmp_path / "job" / "round02-0001.jsonl").read_text().splitlines()]
    first = next(line for line in round2 if line["custom_id"] == once[0])
    assert first["body"]["model"] == BATCH
    roles = [m["role"] for m in first["body"]["messages"]]
    assert roles[-2:] == ["assistant", "tool"] or roles[-1] == "user"  # the rejected answer, then the re-ask
    assert "n must be 0 or more" in json.dumps(first["body"]["messages"][-1])

    # A process that reloads the manifest sees the round and waits for it.
    job = BatchJob.load(tmp_path / "job")
    assert job.rounds == 2
    assert not job.done
    job.wait(client, poll_interval=300, sleep=clock.advance)
    assert job.reask_batch(client, inputs, response_model=Doc, max_retries=1) == 0  # nothing left to ask

    outcomes = list(job.results(client, inputs, response_model=Doc))
    assert [o.id for o in outcomes] == [i for i, _ in inputs]
    by_id = _by_id(outcomes)
    for row_id in once:
        assert by_id[row_id].ok
        assert by_id[row_id].attempts == 2
        assert by_id[row_id].requests == 2
        assert by_id[row_id].value == Doc(n=int(row_id[1:]))
    for row_id in always:
        error = by_id[row_id].error
        assert isinstance(error, InstructorRetryException)
        assert len(error.failed_attempts) == 2
    assert by_id["d4"].ok
    assert by_id["d4"].attempts == 1
    assert by_id["d4"].requests == 2
    ok = [o for o in outcomes if o.id not in once + always + ["d4"]]
    assert all(o.ok and o.attempts == 1 for o in ok)
    twice = by_id[once[0]].usage.prompt_tokens
    assert twice > _by_id(outcomes)[ok[0].id].usage.prompt_tokens  # both rounds' tokens are summed


def test_online_re_asks_go_on_from_the_batch_answer_on_an_online_deployment(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key", max_retries=0))
    inputs = _inputs()
    job = submit_batch(client, inputs, tmp_path / "job", response_model=Doc, model=BATCH, max_tokens=30)
    job.wait(client, poll_interval=300, sleep=clock.advance)
    before = len(emulator.requests)

    with pytest.raises(instructor_az.ConfigurationError, match="reask_model"):
        list(job.results(client, inputs, response_model=Doc, reask="online"))
    outcomes = list(
        job.results(client, inputs, response_model=Doc, reask="online", reask_model="gpt-4o", max_retries=2)
    )

    assert sorted(o.id for o in outcomes) == sorted(i for i, _ in inputs)  # every input once
    by_id = _by_id(outcomes)
    once = [i for i, t in inputs if "[once]" in t]
    always = [i for i, t in inputs if "[always]" in t]
    for row_id in once:
        assert by_id[row_id].ok
        assert by_id[row_id].attempts == 2
        assert by_id[row_id].requests == 2
    for row_id in always:
        error = by_id[row_id].error
        assert isinstance(error, InstructorRetryException)
        assert len(error.failed_attempts) == 3
        assert by_id[row_id].requests == 3  # one batch line, then two online re-asks
    assert by_id["d4"].ok
    assert by_id["d4"].requests == 2
    online = list(emulator.requests)[before:]
    assert len(online) == len(once) + 2 * len(always) + 1
    assert {r.deployment for r in online} == {"gpt-4o"}  # not the batch deployment
    reask = next(r for r in online if "doc 1 [once]" in json.dumps(r.body))
    assert "n must be 0 or more" in json.dumps(reask.body["messages"])


def test_results_are_refused_before_the_job_has_ended(emulator: Emulator, tmp_path: Path) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    job = submit_batch(client, _inputs()[:3], tmp_path / "job", response_model=Doc, model=BATCH)
    with pytest.raises(instructor_az.ConfigurationError, match="not ended"):
        list(job.results(client, _inputs()[:3], response_model=Doc))
    with pytest.raises(instructor_az.ConfigurationError, match="not ended"):
        job.reask_batch(client, _inputs()[:3], response_model=Doc)
    with pytest.raises(instructor_az.ConfigurationError, match="max_retries"):
        submit_batch(client, [], tmp_path / "other", response_model=Doc, model=BATCH, max_retries=2)


def test_a_line_error_that_is_not_transient_is_not_retried(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    inputs = [("a", "doc 1"), ("b", "doc 2")]
    job = submit_batch(client, inputs, tmp_path / "job", response_model=Doc, model=BATCH)
    emulator.inject(Fault.prompt_filter(violence="high"), times=1)
    job.wait(client, poll_interval=300, sleep=clock.advance)
    assert job.reask_batch(client, inputs, response_model=Doc) == 0
    outcomes = list(job.results(client, inputs, response_model=Doc))
    assert isinstance(outcomes[0].error, instructor_az.ContentFilterError)
    assert not isinstance(outcomes[0].error, BatchLineError)
    assert outcomes[1].ok
