"""`instructor-az batch submit | status | wait | results | cancel --manifest PATH` on loopback: one
step per process, the inputs found again from the manifest, the online command's output lines, and
the exit statuses (0 / 1 / 2 / 130)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from instructor_az.emulator import Emulator

pytestmark = pytest.mark.loopback

MODELS = """
from pydantic import BaseModel, field_validator

class Doc(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def not_negative(cls, value):
        if value < 0:
            raise ValueError("n must be 0 or more")
        return value
"""


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    told = any("n must be 0 or more" in str(m.get("content")) for m in request.messages)
    n = int(re.search(r"doc (\d+)", text).group(1))  # type: ignore[union-attr]
    return {"n": -1 if "[once]" in text and not told else n}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Emulator, dict[str, str]]]:
    (tmp_path / "doc_models.py").write_text(MODELS)
    rows = [
        json.dumps({"id": f"d{i}", "text": f"doc {i}" + (" [once]" if i % 3 == 0 else "")}) for i in range(9)
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    with emulator.serve() as endpoint:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
        env.update(AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY="test-key")
        yield emulator, env


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "instructor_az", "batch", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


SUBMIT = ["--model", "doc_models:Doc", "--input", "in.jsonl", "--deployment", "gpt-4o-batch"]


def test_each_step_in_its_own_process_ends_with_the_online_output(
    served: tuple[Emulator, dict[str, str]], tmp_path: Path
) -> None:
    emulator, env = served
    manifest = "job/manifest.json"
    submitted = _run(tmp_path, env, "submit", "--manifest", manifest, *SUBMIT, "--batch-max-lines", "4")
    assert submitted.returncode == 0, submitted.stderr
    assert "3 file(s), 9 requests" in submitted.stdout
    again = _run(tmp_path, env, "submit", "--manifest", manifest, *SUBMIT)
    assert again.returncode == 2
    assert "already holds a batch job" in again.stderr

    status = _run(tmp_path, env, "status", "--manifest", "job", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["rounds"] == 1
    assert len(state["parts"]) == 3
    assert {p["status"] for p in state["parts"]} <= {"validating", "in_progress", "finalizing", "completed"}

    waited = _run(tmp_path, env, "wait", "--manifest", manifest, "--poll-interval", "0.05")
    assert waited.returncode == 0, waited.stderr
    assert "follow-up round 2: 3 rows" in waited.stderr  # the [once] rows, re-asked in a batch

    results = _run(tmp_path, env, "results", "--manifest", manifest, "--output", "out.jsonl")
    assert results.returncode == 0, results.stderr
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert sorted(records) == [f"d{i}" for i in range(9)]
    assert all(r["ok"] and r["value"] == {"n": int(r["id"][1:])} for r in records.values())
    assert [records[f"d{i}"]["attempts"] for i in range(9)] == [2, 1, 1, 2, 1, 1, 2, 1, 1]
    assert list(records["d0"]) == ["id", "ok", "value", "attempts", "usage"]
    assert "succeeded 9, failed 0" in results.stdout

    refused = _run(tmp_path, env, "results", "--manifest", manifest, "--output", "out.jsonl")
    assert refused.returncode == 2
    assert "--resume" in refused.stderr
    resumed = _run(tmp_path, env, "results", "--manifest", manifest, "--output", "out.jsonl", "--resume")
    assert resumed.returncode == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 9

    (tmp_path / "in.jsonl").write_text((tmp_path / "in.jsonl").read_text() + '{"id": "x", "text": "doc 1"}\n')
    changed = _run(tmp_path, env, "results", "--manifest", manifest, "--output", "other.jsonl")
    assert changed.returncode == 2
    assert "changed since the job was submitted" in changed.stderr
    assert len(list(emulator.client(api_key="test-key").batches.list())) == 4  # 3 parts + 1 follow-up


def test_online_re_asks_cancel_and_usage_errors(
    served: tuple[Emulator, dict[str, str]], tmp_path: Path
) -> None:
    emulator, env = served
    emulator.batches.processing_seconds = 3600  # on the real clock: the job stays in progress
    bad = _run(tmp_path, env, "submit", "--manifest", "a", *SUBMIT, "--reask", "online")
    assert bad.returncode == 2
    assert "--reask-deployment" in bad.stderr
    assert not (tmp_path / "a").exists()

    submitted = _run(
        tmp_path,
        env,
        "submit",
        "--manifest",
        "a",
        *SUBMIT,
        "--reask",
        "online",
        "--reask-deployment",
        "gpt-4o",
    )
    assert submitted.returncode == 0, submitted.stderr
    early = _run(tmp_path, env, "results", "--manifest", "a", "--output", "out.jsonl")
    assert early.returncode == 2
    assert "batch wait" in early.stderr
    cancelled = _run(tmp_path, env, "cancel", "--manifest", "a")
    assert cancelled.returncode == 0, cancelled.stderr
    waited = _run(tmp_path, env, "wait", "--manifest", "a", "--poll-interval", "0.05", "--no-progress")
    assert waited.returncode == 0, waited.stderr
    results = _run(tmp_path, env, "results", "--manifest", "a", "--output", "out.jsonl")
    assert results.returncode == 1  # cancelled before any line ran: every row is missing
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(records) == 9
    assert {r["error"]["type"] for r in records} == {"BatchRowMissing"}

    emulator.batches.processing_seconds = 0
    online = _run(
        tmp_path,
        env,
        "submit",
        "--manifest",
        "b",
        *SUBMIT,
        "--reask",
        "online",
        "--reask-deployment",
        "gpt-4o",
    )
    assert online.returncode == 0, online.stderr
    assert _run(tmp_path, env, "wait", "--manifest", "b", "--poll-interval", "0.05").returncode == 0
    before = len(emulator.requests)
    done = _run(tmp_path, env, "results", "--manifest", "b", "--output", "b.jsonl")
    assert done.returncode == 0, done.stderr + done.stdout
    online_requests = list(emulator.requests)[before:]
    assert [r.deployment for r in online_requests] == ["gpt-4o"] * 3  # the [once] rows, re-asked online
    records = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"d{i}" for i in range(9)]
    assert all(r["ok"] for r in records)

    missing = _run(tmp_path, env, "status", "--manifest", "nowhere")
    assert missing.returncode == 2
    assert "no batch job here" in missing.stderr
    named = _run(tmp_path, env, "status", "--manifest", "job.json")
    assert named.returncode == 2
    assert "manifest.json" in named.stderr
