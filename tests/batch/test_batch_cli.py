"""`instructor-az extract --batch`: the online run's output lines and exit statuses through Azure's
Batch API (the emulator's, on loopback), split by --batch-max-lines, resumed from the job's manifest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from instructor_az.emulator import Emulator, Fault

pytestmark = pytest.mark.loopback

MODELS = """
from pydantic import BaseModel

class Doc(BaseModel):
    n: int
"""


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    if "[filter]" in text:
        return Fault.completion_filter(hate="high")
    return {"n": int(re.search(r"doc (\d+)", text).group(1))}  # type: ignore[union-attr]


def test_extract_batch_writes_the_online_format_and_resumes_from_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "doc_models.py").write_text(MODELS)
    lines = [
        json.dumps({"id": f"d{i}", "text": f"doc {i}" + (" [filter]" if i == 4 else "")}) for i in range(8)
    ]
    lines.insert(3, "{broken")
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    command = [
        sys.executable, "-m", "instructor_az", "extract", "--model", "doc_models:Doc", "--input", "in.jsonl",
        "--output", "out.jsonl", "--batch", "--batch-max-lines", "3", "--poll-interval", "0.05",
    ]  # fmt: skip
    with emulator.serve() as endpoint:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
        env.update(
            AZURE_OPENAI_ENDPOINT=endpoint,
            AZURE_OPENAI_API_KEY="test-key",
            AZURE_OPENAI_DEPLOYMENT="gpt-4o-batch",
        )
        first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        batches = len(list(emulator.client(api_key="test-key").batches.list()))
        again = subprocess.run(
            [*command, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        after = len(list(emulator.client(api_key="test-key").batches.list()))

    assert first.returncode == 1, first.stderr  # the filtered row and the broken line failed
    assert batches == 3  # 8 requests, 3 per file
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    by_id = {str(r["id"]) + str(r.get("error", {}).get("line", "")): r for r in records}
    assert len(records) == 9
    assert by_id["d0"] == {
        "id": "d0",
        "ok": True,
        "value": {"n": 0},
        "attempts": 1,
        "usage": by_id["d0"]["usage"],
    }
    assert list(by_id["d0"]) == ["id", "ok", "value", "attempts", "usage"]
    assert by_id["d4"]["error"]["type"] == "ContentFilterError"
    assert by_id["None4"]["error"]["type"] == "InvalidInputError"
    assert "succeeded 7, failed 2" in first.stdout
    assert (tmp_path / "out.jsonl.batch" / "manifest.json").exists()

    assert again.returncode == 1, again.stderr
    assert after == batches  # resumed from the manifest: nothing submitted again
    assert sorted(
        json.loads(line)["id"] or "" for line in (tmp_path / "out.jsonl").read_text().splitlines()
    ) == sorted([f"d{i}" for i in range(8)] + [""])
