"""Batch request files and result files: the same plan as an online call, written and read as lines.

`write_requests` turns inputs into Azure Batch request lines (`custom_id`, `method`, `url`, `body`),
the body being exactly what `create` would send for that row (the plan's tools + tool_choice, or its
strict json_schema), streamed to disk and split where Azure's limits say (requests and bytes per file).
`read_results` reads the output and error files back and gives one `Outcome` per input, each answer
validated by the same protocol state (`Attempts.receive`) as an online call; rows Azure never answered
end as `BatchRowMissing`, so every input ends exactly once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from openai.types.chat import ChatCompletion

from .._errors import ConfigurationError, InstructorError, Usage
from .._run import REASKABLE
from ..pipeline._engine import _wrap
from ..pipeline._rows import Outcome, Row, rows

#: Azure's limits on one batch input file.
MAX_LINES = 100_000
MAX_BYTES = 200 * 1024 * 1024
CHAT_URL = "/chat/completions"
V1_CHAT_URL = "/v1/chat/completions"


class BatchLineError(InstructorError):
    """Azure answered this row's batch line with an error (`status_code`, `code`, `message`): a 4xx
    such as a filtered prompt, or an error the job reported for the line."""

    def __init__(self, message: str, *, status_code: int | None, code: str | None) -> None:
        super().__init__(message)
        self.status_code, self.code = status_code, code


class BatchRowMissing(InstructorError):
    """The job's output and error files hold no line for this row (a cancelled or expired job)."""


def custom_id(row_id: Any) -> str:
    """A row id as a batch `custom_id`: a text id as it is, anything else as its JSON text prefixed
    with `#` (so `7` and `"7"` stay different)."""
    if isinstance(row_id, str) and not row_id.startswith("#"):
        return row_id
    return "#" + json.dumps(row_id, sort_keys=True)


@dataclass
class RequestFiles:
    """What `write_requests` wrote: the files (each within Azure's limits) and the rows per file."""

    paths: list[Path] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    invalid: list[Outcome] = field(default_factory=list)  # inputs that could not be sent


def _request_rows(
    client: Any, inputs: Iterable[Any], response_model: Any, prompt: str | None, kwargs: Mapping[str, Any]
) -> Iterator[tuple[Row, Any]]:
    wrapped = _wrap(client)
    for row in rows(inputs, prompt):
        if row.error is not None:
            yield row, None
            continue
        yield row, wrapped._attempts(response_model, {**kwargs, "messages": row.messages}, None, None)


def write_requests(
    client: Any,
    inputs: Iterable[Any],
    directory: str | os.PathLike[str],
    *,
    response_model: Any,
    model: str,
    prompt: str | None = None,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
    url: str = CHAT_URL,
    **kwargs: Any,
) -> RequestFiles:
    """Write the batch request lines of `inputs` into `directory` (`requests-0001.jsonl`, ...), a new
    file whenever the next line would pass `max_lines` or `max_bytes`. `model` is the batch deployment
    (one per file, as Azure requires); other keywords are `create`'s (`max_tokens=`, `temperature=`)."""
    if not 1 <= max_lines <= MAX_LINES:
        raise ConfigurationError(f"max_lines must be from 1 to {MAX_LINES} (Azure's limit), got {max_lines}")
    if url not in (CHAT_URL, V1_CHAT_URL):
        raise ConfigurationError(f"url must be {CHAT_URL!r} or {V1_CHAT_URL!r}, got {url!r}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    out = RequestFiles()
    file: IO[bytes] | None = None
    size = 0
    try:
        for row, state in _request_rows(client, inputs, response_model, prompt, {**kwargs, "model": model}):
            if state is None:
                out.invalid.append(Outcome(row.id, row.index, error=row.error))
                continue
            line = (
                json.dumps(
                    {
                        "custom_id": custom_id(row.id),
                        "method": "POST",
                        "url": url,
                        "body": state.next_request(),
                    },
                    ensure_ascii=False,
                ).encode("utf-8")
                + b"\n"
            )
            if len(line) > max_bytes:
                raise ConfigurationError(f"input {row.index}: its request is larger than {max_bytes} bytes")
            if file is None or out.lines[-1] >= max_lines or size + len(line) > max_bytes:
                if file is not None:
                    file.close()
                path = folder / f"requests-{len(out.paths) + 1:04d}.jsonl"
                file, size = path.open("wb"), 0
                out.paths.append(path)
                out.lines.append(0)
            file.write(line)
            size += len(line)
            out.lines[-1] += 1
    finally:
        if file is not None:
            file.close()
    return out


_Paths = str | os.PathLike[str] | list[Any] | None


def _listed(paths: _Paths) -> list[Any]:
    return list(paths) if isinstance(paths, list) else [paths]


def _index(paths: Iterable[str | os.PathLike[str] | None]) -> dict[str, tuple[Path, int]]:
    """custom_id -> (file, offset of its line), so results are matched without holding them."""
    index: dict[str, tuple[Path, int]] = {}
    for name in paths:
        if name is None or not Path(name).exists():
            continue
        path = Path(name)
        with path.open("rb") as lines:
            offset = 0
            for line in lines:
                try:
                    key = json.loads(line).get("custom_id")
                except (json.JSONDecodeError, AttributeError):
                    key = None
                if isinstance(key, str):
                    index.setdefault(key, (path, offset))
                offset += len(line)
    return index


def _line(handles: dict[Path, IO[bytes]], where: tuple[Path, int]) -> Any:
    file = handles.get(where[0])
    if file is None:
        file = handles[where[0]] = where[0].open("rb")
    file.seek(where[1])
    return json.loads(file.readline())


def _outcome(row: Row, state: Any, record: Mapping[str, Any]) -> Outcome:
    outcome = Outcome(row.id, row.index, requests=1)
    response = record.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    error = record.get("error")
    if status == 200 and isinstance(body, dict):
        try:
            outcome.value = state.receive(ChatCompletion.model_validate(body))
        except REASKABLE as exc:  # no re-ask in a batch: the row failed validation, as once exhausted online
            outcome.error = state.exhausted(exc)
        except Exception as exc:
            outcome.error = exc
        outcome.attempts, outcome.usage = len(state.attempts) or 1, state.usage
        return outcome
    detail = (body or {}).get("error") if isinstance(body, dict) else None
    detail = detail or error or {}
    code = detail.get("code") if isinstance(detail, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    outcome.error = BatchLineError(
        f"the batch line for row {row.id!r} failed: HTTP {status}, {code}: {message}",
        status_code=status if isinstance(status, int) else None,
        code=code if isinstance(code, str) else None,
    )
    outcome.attempts, outcome.usage = 1, Usage()
    return outcome


def read_results(
    client: Any,
    inputs: Iterable[Any],
    *,
    response_model: Any,
    model: str,
    output: _Paths,
    errors: _Paths = None,
    prompt: str | None = None,
    **kwargs: Any,
) -> Iterator[Outcome]:
    """One `Outcome` per input (in input order), from a job's downloaded output and error files (a
    path each, or lists of them: every part of a job at once).
    Pass the inputs, model and keywords given to `write_requests`: each row's answer is validated by
    the same plan its request came from."""
    index = _index([*_listed(output), *_listed(errors)])
    handles: dict[Path, IO[bytes]] = {}  # each result file opened once, read by offset
    try:
        for row, state in _request_rows(client, inputs, response_model, prompt, {**kwargs, "model": model}):
            if state is None:
                yield Outcome(row.id, row.index, error=row.error)
                continue
            where = index.get(custom_id(row.id))
            if where is None:
                yield Outcome(row.id, row.index, error=BatchRowMissing(f"no batch result for row {row.id!r}"))
                continue
            yield _outcome(row, state, _line(handles, where))
    finally:
        for file in handles.values():
            file.close()
