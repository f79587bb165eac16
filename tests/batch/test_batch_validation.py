"""Every validation error Azure reports for a batch surfaces as `BatchJobFailed`: Azure's code, message
and line, plus what to do; nothing of the part ran. The request files are ours, so most codes can
only come from a file changed after it was written: the tests change it, as a user's script might."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az.batch import BatchJobFailed
from instructor_az.batch._job import new_job
from instructor_az.emulator import Emulator, ManualClock

INPUTS = [(f"d{i}", f"doc {i}") for i in range(6)]


class Doc(BaseModel):
    n: int


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[Any]) -> None:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def _duplicate(path: Path) -> None:
    lines = _lines(path)
    lines[2]["custom_id"] = lines[1]["custom_id"]
    _write(path, lines)


def _broken_json(path: Path) -> None:
    lines: list[Any] = _lines(path)
    lines[3] = '{"custom_id": "d3", '
    _write(path, lines)


def _two_models(path: Path) -> None:
    lines = _lines(path)
    lines[4]["body"]["model"] = "gpt-4o-mini-batch"
    _write(path, lines)


def _wrong_url(path: Path) -> None:
    lines = _lines(path)
    lines[0]["url"] = "/embeddings"
    _write(path, lines)


def _bom(path: Path) -> None:
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _empty(path: Path) -> None:
    path.write_text("\n")


CASES: list[tuple[str, str, Callable[[Path], None] | None, str]] = [
    ("duplicate_custom_id", "gpt-4o-batch", _duplicate, "own id"),
    ("invalid_json_line", "gpt-4o-batch", _broken_json, "edited"),
    ("model_mismatch", "gpt-4o-batch", _two_models, "one deployment"),
    ("url_mismatch", "gpt-4o-batch", _wrong_url, "/chat/completions"),
    ("model_not_found", "gpt-4o-batch", _bom, "BOM"),
    ("empty_file", "gpt-4o-batch", _empty, "no request"),
    ("model_not_found", "no-such-deployment", None, "GlobalBatch deployment"),
    ("invalid_request", "gpt-4o", None, "GlobalBatch or DataZoneBatch"),
    ("too_many_tasks", "gpt-4o-batch", None, "max_lines"),
]


@pytest.mark.parametrize(
    ("code", "deployment", "change", "advice"), CASES, ids=[c[0] + "-" + c[1] for c in CASES]
)
def test_each_validation_error_is_typed_with_what_to_do(
    tmp_path: Path, code: str, deployment: str, change: Callable[[Path], None] | None, advice: str
) -> None:
    clock = ManualClock(start=1_000.0)
    emulator = Emulator(backend="scripted", api_keys=["k"], clock=clock)
    emulator.scripted.on(lambda request: True, {"n": 1})
    if code == "too_many_tasks":
        emulator.batches.max_tasks = 5
    client = instructor_az.from_openai(emulator.client(api_key="k"))
    job = new_job(
        client, INPUTS, tmp_path / "job", response_model=Doc, model=deployment, prompt=None,
        max_lines=100, max_bytes=10**6, url="/chat/completions", expires_after=None, options={},
    )  # fmt: skip
    if change is not None:
        change(Path(job.parts[0].requests))
    job.submit(client)
    job.wait(client, poll_interval=60, sleep=clock.advance)

    assert job.done
    assert job.parts[0].status == "failed"
    assert emulator.batches.jobs[job.parts[0].batch_id].counts["completed"] == 0  # nothing of it ran
    with pytest.raises(BatchJobFailed) as caught:
        list(job.results(client, INPUTS, response_model=Doc))
    assert code in {e["code"] for e in caught.value.errors}
    assert code in str(caught.value)
    assert advice in str(caught.value)
    if code in ("duplicate_custom_id", "invalid_json_line", "model_mismatch"):
        assert any(e.get("line") for e in caught.value.errors)  # Azure names the line


def test_a_refusal_at_create_is_typed_at_once(tmp_path: Path) -> None:
    emulator = Emulator(backend="scripted", api_keys=["k"])
    emulator.batches.fail_fast = True  # the regions where create checks the deployment itself
    client = instructor_az.from_openai(emulator.client(api_key="k"))
    with pytest.raises(BatchJobFailed, match="model_not_found") as caught:
        instructor_az.batch.submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model="nope")
    assert "GlobalBatch deployment" in str(caught.value)
    assert instructor_az.batch.BatchJob.load(tmp_path / "job").parts[0].status == "failed"


def test_an_api_version_without_the_batch_api_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    emulator = Emulator(backend="scripted", api_keys=["k"])
    client = instructor_az.from_openai(emulator.client(api_key="k", api_version="2024-06-01"))
    with pytest.raises(instructor_az.ConfigurationError, match="2024-06-01 has no Batch API"):
        instructor_az.batch.submit_batch(
            client, INPUTS, tmp_path / "job", response_model=Doc, model="gpt-4o-batch"
        )
    assert not (tmp_path / "job").exists()
    assert len(emulator.requests) == 0
