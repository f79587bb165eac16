"""Batch request files: the same plan as an online call, written as lines.

`write_requests` turns inputs into Azure Batch request lines (`custom_id`, `method`, `url`, `body`),
the body being exactly what `create` would send for that row (the plan's tools + tool_choice, or its
strict json_schema), streamed to disk and split where Azure's limits say (requests and bytes per file).
Reading the results back is `_results`.
"""

from __future__ import annotations

import itertools
import json
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._errors import ConfigurationError
from ..pipeline._engine import _wrap
from ..pipeline._rows import Outcome, Row, rows

#: Azure's limits on one batch input file.
MAX_LINES = 100_000
MAX_BYTES = 200 * 1024 * 1024
CHAT_URL = "/chat/completions"
V1_CHAT_URL = "/v1/chat/completions"
#: Azure's batch lines for the Responses API (its batch docs name only the `/v1` form).
RESPONSES_URL = "/v1/responses"
URLS = (CHAT_URL, V1_CHAT_URL, RESPONSES_URL)


def is_responses(client: Any) -> bool:
    """A client whose requests go to the Responses API (`client.responses`, or a Responses mode)."""
    wrapped = _wrap(client)
    return wrapped._api == "responses" or wrapped.mode.is_responses


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


def line_kwargs(wrapped: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A batch row's request keywords. On the Responses API not stored (unless `store=` says so): the
    answers are read from the output file, and a re-ask (a follow-up round's, or online) then carries
    its conversation in full rather than naming a batch response by id."""
    if is_responses(wrapped):
        return {"store": False, **kwargs}
    return dict(kwargs)


def request_rows(
    client: Any, inputs: Iterable[Any], response_model: Any, prompt: str | None, kwargs: Mapping[str, Any]
) -> Iterator[tuple[Row, Any]]:
    """Each input's row and the protocol state of its request (None for an input that cannot be sent).
    Ids are not checked for repeats here: `write_requests` does it in 8 bytes a row."""
    wrapped = _wrap(client)
    kwargs = line_kwargs(wrapped, kwargs)
    for row in rows(inputs, prompt, unique=False):
        if row.error is not None:
            yield row, None
            continue
        yield (
            row,
            wrapped._attempts(
                response_model, {**kwargs, "messages": row.messages}, None, None, observe=False
            ),
        )


def check_max_lines(max_lines: int) -> None:
    if not 1 <= max_lines <= MAX_LINES:
        raise ConfigurationError(f"max_lines must be from 1 to {MAX_LINES} (Azure's limit), got {max_lines}")


class LineWriter:
    """Request lines streamed into `directory/{stem}-0001.jsonl`, ...: a new file whenever the next
    line would pass `max_lines` or `max_bytes` (Azure's limits per file)."""

    def __init__(self, directory: Path, *, stem: str, max_lines: int, max_bytes: int, url: str) -> None:
        check_max_lines(max_lines)
        if url not in URLS:
            raise ConfigurationError(f"url must be one of {', '.join(map(repr, URLS))}, got {url!r}")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.stem, self.url = directory, stem, url
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.out = RequestFiles()
        self._file: IO[bytes] | None = None
        self._size = 0
        # hash() of each custom_id, in 256 buckets: repeats are found after writing, in 8 bytes a row
        self._ids = [array("q") for _ in range(256)]

    def write(self, row: Row, body: Mapping[str, Any]) -> None:
        key = custom_id(row.id)
        digest = hash(key)
        self._ids[digest & 0xFF].append(digest)
        line = (
            json.dumps(
                {"custom_id": key, "method": "POST", "url": self.url, "body": body},
                ensure_ascii=False,
            ).encode("utf-8")
            + b"\n"
        )
        if len(line) > self.max_bytes:
            raise ConfigurationError(f"input {row.index}: its request is larger than {self.max_bytes} bytes")
        out = self.out
        if self._file is None or out.lines[-1] >= self.max_lines or self._size + len(line) > self.max_bytes:
            self.close()
            path = self.directory / f"{self.stem}-{len(out.paths) + 1:04d}.jsonl"
            self._file, self._size = path.open("wb"), 0
            out.paths.append(path)
            out.lines.append(0)
        assert self._file is not None
        self._file.write(line)
        self._size += len(line)
        out.lines[-1] += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def check_unique(self) -> None:
        """A `ConfigurationError` naming an id given twice (each input must end once), found from the
        sorted hashes and confirmed in the files written (a hash collision is not a repeat)."""
        suspects: set[int] = set()
        for bucket in self._ids:  # sorted a bucket at a time: a 256th of the rows in memory at once
            ordered = sorted(bucket)
            suspects.update(a for a, b in itertools.pairwise(ordered) if a == b)
        if not suspects:
            return
        seen: set[str] = set()
        for path in self.out.paths:
            with path.open("rb") as lines:
                for number, line in enumerate(lines, 1):
                    key = json.loads(line)["custom_id"]
                    if hash(key) not in suspects:
                        continue
                    if key in seen:
                        raise ConfigurationError(
                            f"the id {key!r} was given twice ({path.name} line {number}): each input needs "
                            "its own id"
                        )
                    seen.add(key)


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
    url: str | None = None,
    **kwargs: Any,
) -> RequestFiles:
    """Write the batch request lines of `inputs` into `directory` (`requests-0001.jsonl`, ...), a new
    file whenever the next line would pass `max_lines` or `max_bytes`. `model` is the batch deployment
    (one per file, as Azure requires); other keywords are `create`'s (`max_tokens=`, `temperature=`).
    `url`: the lines' (default: `/v1/responses` for `client.responses` or a Responses mode, else chat
    completions in the client's form)."""
    from ._protocol import line_url

    check_max_lines(max_lines)
    url = url or line_url(client)
    if (url == RESPONSES_URL) != is_responses(client):
        raise ConfigurationError(
            f"url={url!r} does not fit this client: lines for client.responses (or a Responses mode) "
            f"are {RESPONSES_URL!r}, chat completions lines {CHAT_URL!r} or {V1_CHAT_URL!r}"
        )
    writer = LineWriter(Path(directory), stem="requests", max_lines=max_lines, max_bytes=max_bytes, url=url)
    try:
        for row, state in request_rows(client, inputs, response_model, prompt, {**kwargs, "model": model}):
            if state is None:
                writer.out.invalid.append(Outcome(row.id, row.index, error=row.error))
            else:
                writer.write(row, state.next_request())
    finally:
        writer.close()
    writer.check_unique()
    return writer.out
