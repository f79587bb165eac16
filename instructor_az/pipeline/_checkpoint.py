"""The output files: one JSON line per finished row, flushed as it is written; the single source of
truth for `resume=True`.

Successes go to `output`, failures to `errors` (the same file unless told). Rows stopped by an
interruption are not written: a resumed run does them again, so each id is in the files once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from ._rows import Outcome, id_key, invalid_key


def _key(record: Any) -> str | None:
    if not isinstance(record, dict) or "id" not in record:
        return None
    error = record.get("error")
    if record["id"] is None and isinstance(error, dict) and ("line" in error or "index" in error):
        return invalid_key(error.get("line"), error.get("index"))
    return id_key(record["id"])


def finished_ids(path: str | os.PathLike[str]) -> dict[str, bool]:
    """The rows (as `Row.key`s) a previous run finished, from one output file, each with whether it
    succeeded. A line that is not a JSON record (a last line cut short by a kill) is ignored: that row
    runs again."""
    done: dict[str, bool] = {}
    file = Path(path)
    if not file.exists():
        return done
    with file.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            key = _key(record)
            if key is not None:
                done[key] = record.get("ok") is not False
    return done


def _drop_cut_line(path: Path) -> None:
    """A file whose last line was cut short (killed mid-write) loses that partial line, so what it
    holds stays one JSON record per line; the row runs again."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as raw:
        data = raw.read()
        if data.endswith(b"\n"):
            return
        raw.truncate(data.rfind(b"\n") + 1)


class Checkpoint:
    """Appends outcomes to `output` (successes) and `errors` (failures; default: `output`), created if
    missing; with `resume=False` they start empty, with `resume=True` `done` holds what they hold."""

    def __init__(
        self,
        output: str | os.PathLike[str],
        *,
        resume: bool,
        errors: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(output)
        self.errors_path = Path(errors) if errors is not None else self.path
        paths = {self.path.resolve(): self.path, self.errors_path.resolve(): self.errors_path}
        self.done: dict[str, bool] = {}
        for path in paths.values():
            if resume:
                _drop_cut_line(path)
                self.done.update(finished_ids(path))
        mode = "a" if resume else "w"
        self._file: IO[str] = self.path.open(mode, encoding="utf-8")
        self._errors: IO[str] = (
            self._file
            if self.errors_path.resolve() == self.path.resolve()
            else self.errors_path.open(mode, encoding="utf-8")
        )

    def write(self, outcome: Outcome) -> bool:
        """Append the outcome's line (flushed); an interrupted row is not written. True if written."""
        if outcome.interrupted:
            return False
        file = self._file if outcome.ok else self._errors
        file.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
        file.flush()
        return True

    def close(self) -> None:
        self._file.close()
        if self._errors is not self._file:
            self._errors.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
