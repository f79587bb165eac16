"""What goes in (rows) and what comes out (outcomes) of a pipeline, and its own errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from .._errors import ConfigurationError, InstructorError, Usage

JSON = dict[str, Any]


class TransportRetriesExhausted(InstructorError):
    """A row's request kept failing in transport (429, 5xx, dropped connection, timeout) after the
    pipeline's `transport_retries`; `last_error` is the last SDK error (also the `__cause__`)."""

    def __init__(self, last_error: BaseException, sends: int) -> None:
        super().__init__(
            f"the request failed {sends} times in transport; last: {type(last_error).__name__}: {last_error}"
        )
        self.last_error = last_error
        self.sends = sends


class PipelineInterrupted(InstructorError):
    """The pipeline was stopped (Ctrl-C, cancellation, the caller stopped reading) before this row
    finished. Not written to the output file: a resumed run does the row again."""


class InvalidInputError(InstructorError):
    """An input the pipeline cannot send (a bad JSON line, a record without its text, a value that is
    neither a text nor messages). The row fails with this error instead of stopping the run; `line` is
    its line in an input file (1-based) when it came from one, `index` its position in the inputs."""

    def __init__(
        self, message: str, *, id: Any = None, line: int | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.id, self.line, self.index = id, line, index


@dataclass(frozen=True, slots=True)
class Row:
    """One input: its id, its position in the inputs, and the messages sent for it (or, for an input
    that cannot be sent, the `InvalidInputError` it ends with)."""

    id: Any
    index: int
    messages: list[JSON]
    error: InvalidInputError | None = None

    @property
    def key(self) -> str:
        """How the row is found in a checkpoint file (`id_key`; an id-less invalid input by its place)."""
        if self.error is not None and self.id is None:
            return invalid_key(self.error.line, self.index)
        return id_key(self.id)


class _Unsendable(Exception):
    pass


def _messages(content: Any, prompt: str | None) -> list[JSON]:
    if isinstance(content, str) and content.strip():
        messages: list[JSON] = [{"role": "user", "content": content}]
    elif (
        isinstance(content, Sequence)
        and not isinstance(content, str)
        and content
        and all(isinstance(m, Mapping) for m in content)
    ):
        messages = [dict(m) for m in content]
    else:
        got = "an empty text" if isinstance(content, str) else type(content).__name__
        raise _Unsendable(
            "expected a text, a list of messages, or a record with an id "
            f"({{'id': ..., 'text': ...}} / {{'id': ..., 'messages': [...]}} / (id, text)); got {got}"
        )
    if prompt is not None:
        messages = [{"role": "system", "content": prompt}, *messages]
    return messages


def to_row(item: Any, index: int, prompt: str | None) -> Row:
    """An input as a `Row`: a text or a message list (id = its index), a mapping with `id` and `text` or
    `messages`, or an `(id, text)` / `(id, messages)` pair. An input that is none of these is a row
    that fails with `InvalidInputError` (as is an `InvalidInputError` given as the input itself, which
    is how the input-file readers report a bad line)."""
    if isinstance(item, InvalidInputError):
        return Row(item.id, index, [], InvalidInputError(str(item), id=item.id, line=item.line, index=index))
    row_id: Any = index
    try:
        if isinstance(item, Mapping):
            if "id" not in item:
                row_id = None
                raise _Unsendable("a record needs an 'id' (and 'text' or 'messages')")
            row_id = item["id"]
            return Row(row_id, index, _messages(item.get("messages", item.get("text")), prompt))
        if isinstance(item, tuple):
            if len(item) != 2:
                row_id = None
                raise _Unsendable("a tuple input is (id, text) or (id, messages)")
            row_id = item[0]
            return Row(row_id, index, _messages(item[1], prompt))
        return Row(index, index, _messages(item, prompt))
    except _Unsendable as exc:
        error = InvalidInputError(f"input {index}: {exc}", id=row_id, index=index)
        return Row(row_id, index, [], error)


def rows(inputs: Iterable[Any], prompt: str | None, *, unique: bool = True) -> Iterator[Row]:
    """The inputs as rows, lazily; with `unique`, an id seen twice is a `ConfigurationError` (each id
    ends once). Batch files check their ids with less memory (`batch._lines`) and pass `unique=False`."""
    seen: set[str] = set()
    for index, item in enumerate(inputs):
        row = to_row(item, index, prompt)
        if unique:
            key = row.key
            if key in seen:
                raise ConfigurationError(f"input {index}: the id {row.id!r} was already given")
            seen.add(key)
        yield row


def invalid_key(line: int | None, index: int | None) -> str:
    """The checkpoint key of an invalid input without an id: its line in the input file, else its index."""
    return f"\x00line {line}" if line is not None else f"\x00index {index}"


def id_key(value: Any) -> str:
    """How an id is compared (with the ids read back from a checkpoint file): its JSON text."""
    return json.dumps(to_jsonable_python(value), sort_keys=True)


@dataclass(slots=True)
class Outcome:
    """How one input ended: `value` (when `ok`), or `error` (a typed exception), never both.

    `attempts` counts answers the protocol received (re-asks + 1), `requests` the requests sent for
    the row (transport retries included); `usage` sums every attempt's tokens; `latency` is seconds
    from the row's first request to its end."""

    id: Any
    index: int
    value: Any = None
    error: BaseException | None = None
    attempts: int = 0
    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        """`"ok"`, `"interrupted"`, or the error's class name (`"InstructorRetryException"`, ...)."""
        if self.error is None:
            return "ok"
        if isinstance(self.error, PipelineInterrupted):
            return "interrupted"
        return type(self.error).__name__

    @property
    def interrupted(self) -> bool:
        return isinstance(self.error, PipelineInterrupted)

    def to_json(self) -> JSON:
        """The output-file line of this outcome (the value via pydantic's JSON mode):
        `{"id", "ok": true, "value", "attempts", "usage": {"prompt_tokens", "completion_tokens"}}`, or
        `"ok": false` with `"error": {"type", "message"}` (and `"line"` for an invalid input line)."""
        line: JSON = {"id": to_jsonable_python(self.id), "ok": self.error is None}
        if self.error is None:
            line["value"] = to_jsonable_python(self.value)
        else:
            error: JSON = {"type": type(self.error).__name__, "message": str(self.error)}
            if isinstance(self.error, InvalidInputError):  # where it was, for an id-less one's resume
                if self.error.line is not None:
                    error["line"] = self.error.line
                elif self.id is None:
                    error["index"] = self.error.index
            line["error"] = error
        line["attempts"] = self.attempts
        line["usage"] = {
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
        }
        return line
