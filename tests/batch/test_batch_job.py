"""A batch job through the emulator's Files and Batches APIs on its manual clock: submitted in parts,
resumed from its manifest by a new process's view of it without resubmitting, cancelled, failed
validation surfaced as a typed error."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=["test-key"], clock=clock)
    emulator.scripted.on(lambda request: True, _answer)
    emulator.batches.processing_seconds = 600
    yield emulator
    emulator.close()


INPUTS = [(f"d{i}", f"doc {i}") for i in range(45)]


def test_a_job_split_in_parts_resumes_from_its_manifest_without_resubmitting(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    job = submit_batch(
        client,
        INPUTS,
        tmp_path / "job",
        response_model=Doc,
        model="gpt-4o-batch",
        max_lines=20,
        max_tokens=30,
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
        submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch")


def test_cancel_keeps_what_finished_and_the_rest_is_missing(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    job = submit_batch(
        client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch", max_lines=20
    )
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
    job = submit_batch(
        client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch", max_lines=20
    )
    job.wait(client, poll_interval=60, sleep=clock.advance)
    with pytest.raises(BatchJobFailed, match="too_many_tasks") as caught:
        list(job.results(client, INPUTS, response_model=Doc))
    assert {e["code"] for e in caught.value.errors} == {"too_many_tasks"}


def test_async_clients_run_the_same_job_and_read_the_same_outcomes(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    import asyncio

    from instructor_az.batch import asubmit_batch

    sync = instructor_az.from_openai(emulator.client(api_key="test-key"))

    async def run() -> tuple[BatchJob, list[Any]]:
        client = instructor_az.from_openai(emulator.async_client(api_key="test-key"))
        with pytest.raises(instructor_az.ConfigurationError, match="async form"):
            submit_batch(client, INPUTS, tmp_path / "x", response_model=Doc, model="gpt-4o-batch")
        job = await asubmit_batch(
            client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch", max_lines=20
        )
        polls: list[int] = []
        await job.await_done(
            client, poll_interval=300, sleep=clock.advance, on_progress=lambda j: polls.append(1)
        )
        assert len(polls) >= 2
        assert await job.areask_batch(client, INPUTS, response_model=Doc) == 0
        return job, [o async for o in job.aresults(client, INPUTS, response_model=Doc)]

    _job, outcomes = asyncio.run(run())
    assert not (tmp_path / "x").exists()  # the wrong client was refused before anything was written
    assert [o.id for o in outcomes] == [i for i, _ in INPUTS]
    assert all(o.ok and o.value == Doc(n=int(o.id[1:])) for o in outcomes)
    # The same manifest, read by the sync form, gives the same outcomes.
    again = list(BatchJob.load(tmp_path / "job").results(sync, INPUTS, response_model=Doc))
    assert [(o.id, o.value) for o in again] == [(o.id, o.value) for o in outcomes]

    async def cancel_one() -> set[str | None]:
        client = instructor_az.from_openai(emulator.async_client(api_key="test-key"))
        other = await asubmit_batch(client, INPUTS, tmp_path / "c", response_model=Doc, model="gpt-4o-batch")
        await other.acancel(client)
        await other.arefresh(client)
        return {p.status for p in other.parts}

    assert asyncio.run(cancel_one()) <= {"cancelling", "cancelled"}


def test_a_crash_between_upload_and_create_resumes_without_uploading_or_creating_twice(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    from openai import AzureOpenAI

    from instructor_az.emulator._transport import EmulatorTransport

    creates = {"n": 0}

    def die_on_second_create(request: Any) -> None:
        if request.method == "POST" and request.url.path.endswith("/batches"):
            creates["n"] += 1
            if creates["n"] == 2:
                raise KeyboardInterrupt  # the process is stopped right here, mid-submit

    http = emulator.http_client()
    http.event_hooks["request"] = [die_on_second_create]
    dying = instructor_az.from_openai(
        AzureOpenAI(
            azure_endpoint="https://emulator.openai.azure.com",
            api_key="test-key",
            api_version="2024-10-21",
            http_client=http,
            max_retries=0,
        )
    )
    assert isinstance(http._transport, EmulatorTransport)
    with pytest.raises(KeyboardInterrupt):
        submit_batch(
            dying, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch", max_lines=20,
            expires_after=14 * 24 * 3600,
        )  # fmt: skip
    saved = BatchJob.load(tmp_path / "job")
    assert [bool(p.file_id) for p in saved.parts] == [True, True, False]  # part 2 uploaded, not created
    assert [bool(p.batch_id) for p in saved.parts] == [True, False, False]

    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    saved.submit(client)
    saved.wait(client, poll_interval=600, sleep=clock.advance)
    raw = emulator.client(api_key="test-key")
    assert len(list(raw.batches.list())) == 3  # each part created once
    uploads = [f for f in raw.files.list() if f.purpose == "batch"]
    assert len(uploads) == 3  # each request file uploaded once
    assert all(f.expires_at == f.created_at + 14 * 24 * 3600 for f in uploads)
    outcomes = list(saved.results(client, INPUTS, response_model=Doc))
    assert [o.id for o in outcomes] == [i for i, _ in INPUTS]
    assert all(o.ok for o in outcomes)
    with pytest.raises(instructor_az.ConfigurationError, match="expires_after"):
        submit_batch(
            client, INPUTS, tmp_path / "y", response_model=Doc, model="gpt-4o-batch", expires_after=60
        )


def test_a_client_on_the_v1_api_writes_v1_lines_and_the_job_runs(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    import json

    client = instructor_az.from_openai(emulator.openai_client(api_key="test-key"))
    job = submit_batch(client, INPUTS[:5], tmp_path / "job", response_model=Doc, model="gpt-4o-batch")
    line = json.loads(Path(job.parts[0].requests).read_text().splitlines()[0])
    assert line["url"] == "/v1/chat/completions"
    assert job.endpoint == "/chat/completions"  # Azure's batches.create takes the form without /v1
    job.wait(client, poll_interval=600, sleep=clock.advance)
    outcomes = list(job.results(client, INPUTS[:5], response_model=Doc))
    assert [o.value for o in outcomes] == [Doc(n=i) for i in range(5)]
