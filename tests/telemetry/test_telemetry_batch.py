"""A batch job's results are a span with its counts; writing request lines makes no call spans."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from telemetry_kit import Otel

import instructor_az
from instructor_az.batch import submit_batch
from instructor_az.emulator import Emulator, ManualClock


class Doc(BaseModel):
    n: int


def test_batch_results_are_one_span_and_lines_are_not_calls(otel: Otel, tmp_path: Path) -> None:
    clock = ManualClock(start=1_000.0)
    emulator = Emulator(backend="scripted", clock=clock)
    emulator.scripted.on(lambda request: True, {"n": 1})
    emulator.batches.processing_seconds = 60
    try:
        client = instructor_az.from_openai(emulator.client())
        inputs = [(f"d{i}", f"doc {i}") for i in range(8)]
        job = submit_batch(client, inputs, tmp_path / "job", response_model=Doc, model="gpt-4o-batch")
        job.wait(client, poll_interval=60, sleep=clock.advance)
        outcomes = list(job.results(client, inputs, response_model=Doc))
    finally:
        emulator.close()
    assert all(o.ok for o in outcomes)
    (span,) = otel.named("instructor_az.batch.results")
    assert span.attributes["instructor_az.rows.ok"] == 8
    assert span.attributes["instructor_az.rows.failed"] == 0
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-batch"
    assert otel.named("create ") == []  # a line in a file is not a call: no span was opened for it
