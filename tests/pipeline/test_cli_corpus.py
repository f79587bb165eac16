"""2,000 inputs through `instructor-az extract` against an emulated deployment with a tight quota and
every way a row can go wrong (429, 500, 503, dropped connections, completion and prompt filters,
answers that fail validation once or always, input lines that are not rows), the command stopped with
SIGINT and then killed with SIGKILL mid-run, and finished with `--resume`: every input ends exactly
once in the files, with the outcome its faults call for."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from instructor_az.emulator import Emulator, Fault, Quota

pytestmark = pytest.mark.loopback

MODELS = """
from pydantic import BaseModel, field_validator

class Doc(BaseModel):
    doc: str
    n: int

    @field_validator("n")
    @classmethod
    def not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("n is the document's number: 0 or more")
        return value
"""

ROWS = 2000
BAD_LINES = 10  # not JSON
NO_TEXT = 10  # a record without its text
MARKERS = {1: "429", 2: "500", 3: "503", 4: "drop", 5: "filter", 6: "pfilter", 7: "invalid", 8: "fix"}
FAILS_AS = {
    "filter": "ContentFilterError",
    "pfilter": "PromptFilterError",
    "invalid": "InstructorRetryException",
}


def _marker(i: int) -> str | None:
    return MARKERS.get(i % 40)


class Model:
    """Answers each document from its text; the first request of a marked document (or every one)
    meets its fault."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
        found = re.search(r"document (doc-(\d+)) \[(\w*)\]", text)
        assert found is not None, text
        doc, n, marker = found.group(1), int(found.group(2)), found.group(3)
        with self.lock:
            self.seen[doc] += 1
            first = self.seen[doc] == 1
        value = {"doc": doc, "n": n}
        if marker == "filter":
            return Fault.completion_filter(hate="high")
        if marker == "pfilter":
            return Fault.prompt_filter(violence="medium")
        if marker == "invalid" or (marker == "fix" and first):
            return {"doc": doc, "n": -1}
        if first and marker == "429":
            return Fault.rate_limit(retry_after_ms=40)
        if first and marker == "500":
            return Fault.server_error(500)
        if first and marker == "503":
            return Fault.server_error(503, retry_after_ms=20)
        if first and marker == "drop":
            return Fault.drop_connection()
        return value


def _corpus(path: Path) -> set[str]:
    """The input file; returns every input's key: its id, or `line N` for a line without one."""
    keys: set[str] = set()
    lines: list[str] = []
    bad_every = ROWS // BAD_LINES
    for i in range(ROWS - BAD_LINES - NO_TEXT):
        marker = _marker(i) or ""
        body = " ".join(["lorem ipsum dolor sit amet"] * (1 + i % 5))
        lines.append(json.dumps({"id": f"doc-{i:04d}", "text": f"document doc-{i:04d} [{marker}]: {body}"}))
        if i % bad_every == 7 and len(lines) < ROWS:
            lines.append('{"id": "broken", "text": "cut')
        keys.add(f"doc-{i:04d}")
    for j in range(NO_TEXT):
        lines.insert(100 * j + 50, json.dumps({"id": f"empty-{j}", "title": "no text field"}))
        keys.add(f"empty-{j}")
    assert len(lines) == ROWS
    for number, line in enumerate(lines, 1):
        if line.startswith('{"id": "broken"'):
            keys.add(f"line {number}")
    path.write_text("\n".join(lines) + "\n")
    return keys


def _records(*paths: Path) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        for line in path.read_text().splitlines():
            out.append(json.loads(line))  # every line whole: a cut line is never left behind
    return out


def _key(record: dict[str, Any]) -> str:
    if record["id"] is None:
        return f"line {record['error']['line']}"
    return str(record["id"])


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert process.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


def test_two_thousand_inputs_stopped_killed_and_resumed_end_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "doc_models.py").write_text(MODELS)
    keys = _corpus(tmp_path / "corpus.jsonl")
    model = Model()
    # A tight quota: 24 requests per 0.25 s (96 a second), 30 ms per 100 completion tokens.
    quota = Quota(rpm=5760, rpm_period=0.25, seconds_per_100_tokens=0.03)
    emulator = Emulator(backend="scripted", api_keys=["test-key"], quotas={"gpt-4o": quota})
    emulator.scripted.on(lambda request: True, model)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    command = [
        sys.executable, "-m", "instructor_az", "extract", "--model", "doc_models:Doc",
        "--input", "corpus.jsonl", "--output", str(out), "--errors", str(errors), "--no-progress",
    ]  # fmt: skip

    with emulator.serve() as endpoint:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
        env.update(
            AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY="test-key", AZURE_OPENAI_DEPLOYMENT="gpt-4o"
        )

        def start(*extra: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [*command, *extra],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

        # 1. Ctrl-C (SIGINT) after 300 rows: it stops gracefully, says so, exits 130.
        first = start()
        _wait_for_lines(out, 300, first)
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=60)
        assert first.returncode == 130, stderr
        assert "--resume" in stderr
        assert "interrupted" in stdout
        after_sigint = _records(out, errors)
        assert len({_key(r) for r in after_sigint}) == len(after_sigint) < ROWS

        # 2. Resumed, then SIGKILL after 600 more rows: no chance to clean up.
        second = start("--resume")
        _wait_for_lines(out, len([r for r in after_sigint if r["ok"]]) + 600, second)
        second.send_signal(signal.SIGKILL)
        second.communicate(timeout=60)
        assert second.returncode == -signal.SIGKILL

        # 3. Resumed to the end.
        last = start("--resume")
        stdout, stderr = last.communicate(timeout=300)

    assert last.returncode == 1, stderr  # some rows failed, every one accounted for
    records = _records(out, errors)  # (a line cut by the kill was dropped on resume)
    found = Counter(_key(r) for r in records)
    assert set(found) == keys  # nothing missing
    assert max(found.values()) == 1  # nothing twice
    assert all(r["ok"] for r in _records(out))
    assert not any(r["ok"] for r in _records(errors))

    by_key = {_key(r): r for r in records}
    for i in range(ROWS - BAD_LINES - NO_TEXT):
        record, marker = by_key[f"doc-{i:04d}"], _marker(i)
        if marker in FAILS_AS:
            assert record["error"]["type"] == FAILS_AS[marker], record
        else:
            assert record["value"] == {"doc": f"doc-{i:04d}", "n": i}, record
            # A "fix" document's bad first answer may have come in a run stopped before it was re-asked.
            assert record["attempts"] in ((1, 2) if marker == "fix" else (1,))
    fixed = [
        by_key[f"doc-{i:04d}"]["attempts"] for i in range(ROWS - BAD_LINES - NO_TEXT) if _marker(i) == "fix"
    ]
    assert fixed.count(2) >= len(fixed) - 10  # re-asked once, then valid
    assert by_key["doc-0007"]["attempts"] == 3  # "invalid": re-asked twice (the default), then failed
    for j in range(NO_TEXT):
        assert by_key[f"empty-{j}"]["error"]["type"] == "InvalidInputError"
    broken = [r for r in records if r["id"] is None]
    assert len(broken) == BAD_LINES
    assert all("not valid JSON" in r["error"]["message"] for r in broken)

    statuses = Counter(r.status for r in emulator.requests)
    assert statuses[500] >= 1
    assert statuses[503] >= 1
    assert statuses[400] >= 1  # the prompt filter
    assert statuses[429] >= 1
    # The pacing keeps the quota's own 429s rare: beside the 50 injected ones (one per "429" document
    # that reached the model), at most a tenth of the rows.
    injected = sum(1 for i in range(ROWS) if _marker(i) == "429" and f"doc-{i:04d}" in model.seen)
    assert statuses[429] - injected <= ROWS // 10
    assert "succeeded" in stdout
