"""What goes in (rows) and what comes out (outcomes) of a pipeline, and its own errors."""

from __future__ import annotations

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
    finished; a resumed run does it again."""


@dataclass(frozen=True, slots=True)
class Row:
    """One input: its id, its position in the inputs, and the messages sent for it."""

    id: Any
    index: int
    messages: list[JSON]


def _messages(content: Any, prompt: str | None, where: str) -> list[JSON]:
    if isinstance(content, str):
        messages: list[JSON] = [{"role": "user", "content": content}]
    elif isinstance(content, Sequence) and content and all(isinstance(m, Mapping) for m in content):
        messages = [dict(m) for m in content]
    else:
        raise ConfigurationError(
            f"{where}: expected a text, a list of messages, or a record with an id "
            f"({{'id': ..., 'text': ...}} / {{'id': ..., 'messages': [...]}} / (id, text)); got {type(content).__name__}"
        )
    if prompt is not None:
        messages = [{"role": "system", "content": prompt}, *messages]
    return messages


def to_row(item: Any, index: int, prompt: str | None) -> Row:
    """An input as a `Row`: a text or a message list (id = its index), a mapping with `id` and `text` or
    `messages`, or an `(id, text)` / `(id, messages)` pair."""
    where = f"input {index}"
    if isinstance(item, Mapping):
        if "id" not in item:
            raise ConfigurationError(f"{where}: a record needs an 'id' (and 'text' or 'messages')")
        content = item.get("messages", item.get("text"))
        return Row(item["id"], index, _messages(content, prompt, where))
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ConfigurationError(f"{where}: a tuple input is (id, text) or (id, messages)")
        return Row(item[0], index, _messages(item[1], prompt, where))
    return Row(index, index, _messages(item, prompt, where))


def rows(inputs: Iterable[Any], prompt: str | None) -> Iterator[Row]:
    """The inputs as rows, lazily; an id seen twice is a `ConfigurationError` (each id ends once)."""
    seen: set[str] = set()
    for index, item in enumerate(inputs):
        row = to_row(item, index, prompt)
        key = id_key(row.id)
        if key in seen:
            raise ConfigurationError(f"input {index}: the id {row.id!r} was already given")
        seen.add(key)
        yield row


def id_key(value: Any) -> str:
    """How an id is compared (with the ids read back from a checkpoint file): its JSON text."""
    import json

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

    def to_json(self) -> JSON:
        """The checkpoint line of this outcome (the value via pydantic's JSON mode)."""
        line: JSON = {"id": to_jsonable_python(self.id), "index": self.index, "status": self.status}
        if self.error is None:
            line["value"] = to_jsonable_python(self.value)
        else:
            line["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
        line.update(
            attempts=self.attempts,
            requests=self.requests,
            usage={
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            latency=round(self.latency, 6),
        )
        return line
