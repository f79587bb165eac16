"""The output file: one JSON line per finished row, flushed as it is written; the single source of
truth for `resume=True`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from ._rows import Outcome, id_key


def finished_ids(path: str | os.PathLike[str]) -> set[str]:
    """The ids (as `id_key`s) a previous run finished: every line but `"interrupted"` ones. A last line
    cut short by a crash is ignored (that row runs again)."""
    done: set[str] = set()
    file = Path(path)
    if not file.exists():
        return done
    with file.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record and record.get("status") != "interrupted":
                done.add(id_key(record["id"]))
    return done


class Checkpoint:
    """Appends outcomes to `path` (created if missing; with `resume=False` it starts empty)."""

    def __init__(self, path: str | os.PathLike[str], *, resume: bool) -> None:
        self.path = Path(path)
        self.done = finished_ids(self.path) if resume else set()
        if resume:
            self._repair()
        self._file: IO[str] = self.path.open("a" if resume else "w", encoding="utf-8")

    def _repair(self) -> None:
        """A file whose last line was cut short gets its newline, so the next line starts clean."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as raw:
            raw.seek(-1, os.SEEK_END)
            if raw.read(1) != b"\n":
                raw.write(b"\n")

    def write(self, outcome: Outcome) -> None:
        self._file.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
