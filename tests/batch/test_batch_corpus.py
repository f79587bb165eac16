"""10,000 rows through a batch job split into parts, with per-line faults (500s, prompt and completion
filters, cut-off answers) and invalid answers (valid once re-asked, or never): after a follow-up round
every input ends exactly once, each with the outcome its fault calls for. In-process, on the
emulator's manual clock; the same parts also go through the online CLI format."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from batch_kit import Doc

import instructor_az
from instructor_az.batch import (
    BatchJob,
    BatchLineError,
    BatchPromptFilterError,
    BatchRowMissing,
    submit_batch,
)
from instructor_az.emulator import Emulator, Fault, ManualClock
from instructor_az.exceptions import IncompleteOutputException, InstructorRetryException
from instructor_az.pipeline import InvalidInputError

ROWS = 10_000
BATCH = "gpt-4o-batch"


def _fault(i: int) -> str:
    """Each row's fault, by its number (about 1 row in 20 for each kind)."""
    for kind, every, at in (
        ("error500", 23, 1),
        ("prompt", 29, 2),
        ("completion", 31, 3),
        ("length", 37, 4),
        ("once", 17, 5),
        ("always", 41, 6),
        ("flaky", 43, 7),
    ):
        if i % every == at:
            return kind
    return "ok"


def _answer_for(flaky_left: set[int]) -> Any:
    def answer(request: Any) -> Any:
        text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
        n = int(re.search(r"doc (\d+)", text).group(1))  # type: ignore[union-attr]
        told = any("n must be 0 or more" in str(m.get("content")) for m in request.messages)
        kind = _fault(n)
        if kind == "error500":
            return Fault.server_error(500)
        if kind == "flaky" and n in flaky_left:  # a 500 the first time only
            flaky_left.discard(n)
            return Fault.server_error(503)
        if kind == "prompt":
            return Fault.prompt_filter(violence="high")
        if kind == "completion":
            return Fault.completion_filter(hate="high")
        if kind == "length":
            return Fault.length()
        if kind == "always" or (kind == "once" and not told):
            return {"n": -1}
        return {"n": n}

    return answer


def test_ten_thousand_rows_with_faults_each_end_exactly_once(tmp_path: Path) -> None:
    clock = ManualClock(start=1_000.0)
    emulator = Emulator(backend="scripted", api_keys=["k"], clock=clock)
    emulator.scripted.on(lambda request: True, _answer_for({i for i in range(ROWS) if _fault(i) == "flaky"}))
    emulator.batches.processing_seconds = 3 * 3600
    client = instructor_az.from_openai(emulator.client(api_key="k", max_retries=0))
    inputs: list[Any] = [{"id": f"r{i}", "text": f"doc {i}"} for i in range(ROWS)]
    inputs += [{"id": "empty", "text": ""}, {"text": "no id"}]

    job = submit_batch(client, inputs, tmp_path / "job", response_model=Doc, model=BATCH, max_lines=2_500)
    assert [p.lines for p in job.parts] == [2_500] * 4
    job = BatchJob.load(tmp_path / "job")  # as another process would
    job.wait(client, poll_interval=1800, sleep=clock.advance)
    assert job.counts()["total"] == ROWS
    resent = job.reask_batch(client, inputs, response_model=Doc, max_retries=1)
    kinds = Counter(_fault(i) for i in range(ROWS))
    # invalid answers are re-asked; lines that failed in transit (500 / 503) retried; filters are not
    assert resent == kinds["once"] + kinds["always"] + kinds["error500"] + kinds["flaky"]
    job.wait(client, poll_interval=1800, sleep=clock.advance)
    assert job.reask_batch(client, inputs, response_model=Doc, max_retries=1) == 0

    outcomes = list(job.results(client, inputs, response_model=Doc))

    assert len(outcomes) == len(inputs)
    assert [o.index for o in outcomes] == list(range(len(inputs)))  # in input order, each once
    seen: Counter[str] = Counter()
    for outcome in outcomes[:ROWS]:
        i = int(outcome.id[1:])
        kind = _fault(i)
        seen[kind] += 1
        error = outcome.error
        if kind in ("ok", "once", "flaky"):
            assert outcome.ok, (i, kind, error)
            assert outcome.value == Doc(n=i)
            assert outcome.attempts == (2 if kind == "once" else 1)
            assert outcome.requests == (1 if kind == "ok" else 2)
        elif kind == "always":
            assert isinstance(error, InstructorRetryException)
            assert len(error.failed_attempts) == 2
        elif kind == "error500":
            assert isinstance(error, BatchLineError)
            assert error.status_code == 500
            assert outcome.requests == 2  # retried once in the follow-up round, failed again
        elif kind == "prompt":
            assert isinstance(error, BatchPromptFilterError)
            assert error.source == "prompt"
        elif kind == "completion":
            assert isinstance(error, instructor_az.ContentFilterError)
            assert error.source == "completion"
        else:
            assert isinstance(error, IncompleteOutputException)
        assert not isinstance(error, BatchRowMissing)
    assert seen == kinds
    assert all(isinstance(o.error, InvalidInputError) for o in outcomes[ROWS:])

    # The same outcomes in the online output format: one line per input, ok or a typed error.
    lines = [json.dumps(o.to_json()) for o in outcomes]
    types = Counter(json.loads(line).get("error", {}).get("type", "ok") for line in lines)
    assert types["ok"] == kinds["ok"] + kinds["once"] + kinds["flaky"]
    assert types["InstructorRetryException"] == kinds["always"]
    assert types["InvalidInputError"] == 2
