"""The enqueued-token quota of a batch deployment: parts that Azure fails with `token_limit_exceeded`
(at validation, or at create in fail-fast regions) are queued and created again as earlier parts end,
until every part has run; a part that can never fit ends as a typed, actionable error."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az.batch import BatchJob, BatchJobFailed, submit_batch
from instructor_az.emulator import Emulator, ManualClock
from instructor_az.emulator._batch_validation import lines_tokens

BATCH = "gpt-4o-batch"
INPUTS = [(f"d{i}", f"doc {i}") for i in range(45)]


class Doc(BaseModel):
    n: int


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    return {"n": int(re.search(r"doc (\d+)", text).group(1))}  # type: ignore[union-attr]


def _emulator(clock: ManualClock) -> Emulator:
    emulator = Emulator(backend="scripted", api_keys=["k"], clock=clock)
    emulator.scripted.on(lambda request: True, _answer)
    emulator.batches.processing_seconds = 1_200
    return emulator


def _part_tokens(emulator: Emulator, path: str) -> int:
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    return lines_tokens(lines, emulator.deployment(BATCH))


@pytest.mark.parametrize("fail_fast", [False, True])
def test_parts_over_the_enqueued_token_quota_go_again_as_earlier_ones_end(
    tmp_path: Path, fail_fast: bool
) -> None:
    clock = ManualClock(start=1_000.0)
    emulator = _emulator(clock)
    emulator.batches.fail_fast = fail_fast
    client = instructor_az.from_openai(emulator.client(api_key="k"))
    # The quota: room for one part of the job at a time (each part about the same size).
    probe = instructor_az.batch.write_requests(
        client, INPUTS[:15], tmp_path / "probe", response_model=Doc, model=BATCH, max_tokens=20
    )
    emulator.deployment(BATCH).enqueued_tokens = int(_part_tokens(emulator, str(probe.paths[0])) * 1.5)

    job = submit_batch(
        client, INPUTS, tmp_path / "job", response_model=Doc, model=BATCH, max_lines=15, max_tokens=20
    )
    polls: list[list[str | None]] = []
    BatchJob.load(tmp_path / "job").wait(  # the queue survives a restart: it is in the manifest
        client,
        poll_interval=300,
        sleep=clock.advance,
        on_progress=lambda j: polls.append([p.status for p in j.parts]),
    )
    job = BatchJob.load(tmp_path / "job")

    assert [p.status for p in job.parts] == ["completed"] * 3
    assert job.parts[0].quota_retries == 0
    assert job.parts[1].quota_retries >= 1
    assert job.parts[2].quota_retries >= job.parts[1].quota_retries
    assert any("queued" in statuses for statuses in polls)
    created = list(emulator.client(api_key="k").batches.list(limit=100))
    failed = [b for b in created if b.status == "failed"]
    assert len(created) == 3 + (0 if fail_fast else len(failed))  # a fail-fast refusal creates nothing
    assert all(e.code == "token_limit_exceeded" for b in failed for e in (b.errors.data or []))
    outcomes = list(job.results(client, INPUTS, response_model=Doc))
    assert [o.value for o in outcomes] == [Doc(n=i) for i in range(45)]


def test_a_part_that_never_fits_ends_as_an_actionable_error(tmp_path: Path) -> None:
    clock = ManualClock(start=1_000.0)
    emulator = _emulator(clock)
    emulator.deployment(BATCH).enqueued_tokens = 50  # less than any part
    client = instructor_az.from_openai(emulator.client(api_key="k"))
    job = submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model=BATCH, max_lines=15)
    job.max_quota_retries = 3
    job.wait(client, poll_interval=60, sleep=clock.advance)

    assert job.done
    assert [p.quota_retries for p in job.parts] == [3, 3, 3]
    with pytest.raises(BatchJobFailed, match="token_limit_exceeded") as caught:
        list(job.results(client, INPUTS, response_model=Doc))
    assert "--batch-max-lines" in str(caught.value)
    assert {e["code"] for e in caught.value.errors} == {"token_limit_exceeded"}
