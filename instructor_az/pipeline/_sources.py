"""Input files for `instructor-az extract`: a JSONL file, a CSV file, or a directory of `.txt` files.

`open_source(path, id_field=, text_field=)` checks the input once before anything is sent (it can be
read, its columns exist, no id is given twice) and counts its rows; iterating the source then reads it
again, lazily, yielding `{"id": ..., "text": ...}` records for the pipeline, and an
`InvalidInputError` (with its line number) for a row that cannot be sent: a line that is not JSON or
not an object, a record without its id or its text. Such rows end as failures; they never stop a run.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ._rows import InvalidInputError, id_key

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)


def _check_id(value: Any) -> str | None:
    """Why `value` cannot be an id, or None when it can (a text or a whole number)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"its id must be a text or a whole number, got {json.dumps(value)[:40]}"
    if isinstance(value, str) and not value.strip():
        return "its id is empty"
    return None


@dataclass
class InputSource:
    """One input path, checked: `kind` ("jsonl", "csv" or "txt"), `rows` (lines that are rows:
    blank JSONL lines are not), `invalid` (rows that will fail), `ignored` (directory entries that are
    not `.txt` files). Iterate it for the records."""

    path: Path
    kind: str
    id_field: str = "id"
    text_field: str = "text"
    rows: int = 0
    invalid: int = 0
    ignored: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        return (item for _, item in self.placed())

    def placed(self) -> Iterator[tuple[str, Any]]:
        """`(where, item)`: each record or `InvalidInputError` with its place ("line 7", a file name)."""
        if self.kind == "jsonl":
            return self._jsonl()
        if self.kind == "csv":
            return self._csv()
        return self._texts()

    # --- readers: each yields (place, record or InvalidInputError) ----------------------------------

    def _record(self, data: Any, line: int) -> Any:
        where = f"{self.path.name} line {line}"
        if not isinstance(data, dict):
            return InvalidInputError(f"{where}: expected a JSON object, got {type(data).__name__}", line=line)
        if data.get(self.id_field) is None:
            return InvalidInputError(f"{where}: no {self.id_field!r} field", line=line)
        row_id = data[self.id_field]
        problem = _check_id(row_id)
        if problem is not None:
            return InvalidInputError(f"{where}: {problem}", line=line)
        text = data.get(self.text_field)
        if text is None and isinstance(data.get("messages"), list):
            return {"id": row_id, "messages": data["messages"]}
        if not isinstance(text, str) or not text.strip():
            got = "is empty" if isinstance(text, str) else ("is missing" if text is None else "is not a text")
            return InvalidInputError(f"{where}: the {self.text_field!r} field {got}", id=row_id, line=line)
        return {"id": row_id, "text": text}

    def _jsonl(self) -> Iterator[Any]:
        with self.path.open(encoding="utf-8-sig", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield (
                        f"line {number}",
                        InvalidInputError(
                            f"{self.path.name} line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
                            line=number,
                        ),
                    )
                    continue
                yield f"line {number}", self._record(data, number)

    def _csv(self) -> Iterator[Any]:
        with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
            reader = csv.DictReader(file)
            start = reader.line_num + 1
            for record in reader:
                line, start = start, reader.line_num + 1
                if record.get(self.id_field) in (None, ""):
                    yield (
                        f"line {line}",
                        InvalidInputError(
                            f"{self.path.name} line {line}: no {self.id_field!r} value", line=line
                        ),
                    )
                    continue
                yield f"line {line}", self._record(record, line)

    def _texts(self) -> Iterator[Any]:
        for file in _text_files(self.path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield (
                    file.name,
                    InvalidInputError(f"{file.name}: cannot be read as UTF-8 text ({exc})", id=file.name),
                )
                continue
            if not text.strip():
                yield file.name, InvalidInputError(f"{file.name}: the file is empty", id=file.name)
                continue
            yield file.name, {"id": file.name, "text": text}


def _text_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".txt")


def open_source(
    path: str | os.PathLike[str], *, id_field: str = "id", text_field: str = "text"
) -> InputSource:
    """The checked input at `path` (see the module docstring); a `ConfigurationError` saying what to fix
    when it cannot be used: missing or unreadable, an unknown file type, a CSV without the columns, an
    id given twice, nothing to do."""
    file = Path(path)
    if not file.exists():
        raise ConfigurationError(f"--input {path}: no such file or directory")
    if file.is_dir():
        kind = "txt"
    elif file.suffix.lower() in JSONL_SUFFIXES:
        kind = "jsonl"
    elif file.suffix.lower() in CSV_SUFFIXES:
        kind = "csv"
    else:
        raise ConfigurationError(
            f"--input {path}: expected a .jsonl (one JSON object per line), a .csv, or a directory of "
            ".txt files"
        )
    source = InputSource(file, kind, id_field, text_field)
    try:
        if kind == "txt":
            source.ignored = sorted(
                p.name for p in file.iterdir() if not (p.is_file() and p.suffix.lower() == ".txt")
            )
        elif kind == "csv":
            _check_columns(source)
        _scan(source)
    except OSError as exc:
        raise ConfigurationError(f"--input {path}: cannot be read ({exc.strerror or exc})") from None
    if source.rows == 0:
        raise ConfigurationError(f"--input {path}: no rows to extract from")
    return source


def _check_columns(source: InputSource) -> None:
    with source.path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        header = next(csv.reader(file), None)
    if header is None:
        raise ConfigurationError(f"--input {source.path}: the CSV is empty (expected a header row)")
    missing = [name for name in (source.id_field, source.text_field) if name not in header]
    if missing:
        flags = {source.id_field: "--id-field", source.text_field: "--text-field"}
        raise ConfigurationError(
            f"--input {source.path}: the CSV header has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns: {', '.join(header)}); name them with {' / '.join(flags[m] for m in missing)}"
        )


def _scan(source: InputSource) -> None:
    """Count the rows; refuse an id given twice (each id ends exactly once in the output)."""
    first: dict[str, str] = {}
    for where, item in source.placed():
        source.rows += 1
        if isinstance(item, InvalidInputError):
            source.invalid += 1
            if item.id is None:
                continue
            row_id = item.id
        else:
            row_id = item["id"]
        key = id_key(row_id)
        if key in first:
            raise ConfigurationError(
                f"--input {source.path}: the id {row_id!r} is given twice ({first[key]} and {where}); "
                "ids must be unique, so that each row ends once in the output"
            )
        first[key] = where
