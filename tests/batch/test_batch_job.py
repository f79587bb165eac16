"""A batch job through the emulator's Files and Batches APIs on its manual clock: submitted in parts,
resumed from its manifest by a new process's view of it without resubmitting, cancelled, failed
validation surfaced as a typed error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az.batch import BatchJob, BatchJobFailed, BatchRowMissing, submit_batch
from instructor_az.emulator import Emulator, ManualClock


class Doc(BaseModel):
    n: int


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    return {"n": int(re.search(r"doc (\d+)", text).group(1))}  # type: ignore[union-attr]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000.0)


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    emulator = Emulator(backend="scripted", api_keys=["test-key"], clock=clock)
    emulator.scripted.on(lambda request: True, _answer)
    emulator.batches.processing_seconds = 600
    return emulator


INPUTS = [(f"d{i}", f"doc {i}") for i in range(45)]


def test_a_job_split_in_parts_resumes_from_its_manifest_without_resubmitting(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    job = submit_batch(
        client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o", max_lines=20, max_tokens=30
    )
    assert [part.lines for part in job.parts] == [20, 20, 5]
    assert all(part.batch_id for part in job.parts)
    created = len(list(emulator.client(api_key="test-key").batches.list()))

    # The process dies here; another one loads the manifest and waits.
    resumed = BatchJob.load(tmp_path / "job")
    polls: list[dict[str, int]] = []
    resumed.wait(
        client, poll_interval=300, on_progress=lambda j: polls.append(j.counts()), sleep=clock.advance
    )
    resumed.submit(client)  # nothing to submit: every part has its batch

    assert len(list(emulator.client(api_key="test-key").batches.list())) == created == 3
    assert resumed.done
    assert polls[-1] == {"total": 45, "completed": 45, "failed": 0}
    assert len(polls) >= 2  # in progress, then completed after the clock moved
    outcomes = list(resumed.results(client, INPUTS, response_model=Doc))
    assert [o.id for o in outcomes] == [i for i, _ in INPUTS]
    assert all(o.ok and o.value == Doc(n=int(o.id[1:])) for o in outcomes)
    assert BatchJob.load(tmp_path / "job").parts[0].output  # the downloads are in the manifest

    with pytest.raises(instructor_az.ConfigurationError, match="already holds a batch job"):
        submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o")


def test_cancel_keeps_what_finished_and_the_rest_is_missing(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    job = submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o", max_lines=20)
    job.cancel(client)
    job.wait(client, poll_interval=60, sleep=clock.advance)
    assert {part.status for part in job.parts} == {"cancelled"}
    outcomes = list(job.results(client, INPUTS, response_model=Doc))
    assert len(outcomes) == len(INPUTS)  # every input ends once, as a value or a typed failure
    assert all(o.ok or isinstance(o.error, BatchRowMissing) for o in outcomes)


def test_a_part_that_fails_validation_is_a_typed_error(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    emulator.batches.max_tasks = 10  # Azure's too_many_tasks, at a lower limit
    job = submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o", max_lines=20)
    job.wait(client, poll_interval=60, sleep=clock.advance)
    with pytest.raises(BatchJobFailed, match="too_many_tasks") as caught:
        list(job.results(client, INPUTS, response_model=Doc))
    assert {e["code"] for e in caught.value.errors} == {"too_many_tasks"}
