"""Batch result files read back: one `Outcome` per input, validated as an online call's answer.

A row's answer is given to the same protocol state (`Attempts.receive`) an online call uses, so the
parser, the validators and Azure's checks (content filter, `length`) are the online ones. A job may
have several rounds: the first batch, then follow-up batches that re-ask the rows whose answer failed
validation (their request is the state's next one, the validation errors in the conversation) or
retry the rows whose line failed in transit. Reading replays each row through its rounds in order,
so every round's answer is checked against the request it answered. Results are matched by
`custom_id` (Azure does not keep order) through an index of offsets, never held in memory.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import ValidationError

from .._answer_checks import content_filter_categories
from .._errors import ConfigurationError, ContentFilterError, InstructorError, Usage
from .._run import REASKABLE, Attempts
from ..pipeline._rows import Outcome, Row
from ._lines import custom_id, request_rows


class BatchLineError(InstructorError):
    """Azure answered this row's batch line with an error (`status_code`, `code`, `message`): a 4xx
    such as a 404 deployment, a 5xx, or an error the job reported for the line (`batch_expired`)."""

    def __init__(self, message: str, *, status_code: int | None, code: str | None) -> None:
        super().__init__(message)
        self.status_code, self.code = status_code, code

    @property
    def transient(self) -> bool:
        """A failure that another request may not have (a 408 / 429 / 5xx line, an expired job's line)."""
        return (
            self.code == "batch_expired" or self.status_code in (408, 429) or (self.status_code or 0) >= 500
        )


class BatchPromptFilterError(ContentFilterError):
    """Azure's prompt filter blocked this row's batch line (HTTP 400, `code: content_filter`): a
    `ContentFilterError` with `source == "prompt"`, as online, plus the line's `status_code` and `code`."""

    status_code = 400
    code = "content_filter"


class BatchRowMissing(InstructorError):
    """The job's output and error files hold no line for this row (a cancelled or expired job)."""


Paths = str | os.PathLike[str] | Sequence[Any] | None
#: One round's result files: its output files and its error files.
Round = tuple[Paths, Paths]


def _listed(paths: Paths) -> list[Any]:
    if paths is None or isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


_CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*("(?:[^"\\]|\\.)*")')
_BUCKETS = 256


def _key_of(line: bytes) -> str | None:
    """A result line's `custom_id`, read from its text (a full parse only when that fails)."""
    found = _CUSTOM_ID.search(line)
    if found is not None:
        try:
            value = json.loads(found.group(1))
        except ValueError:
            value = None
        if isinstance(value, str):
            return value
    try:
        record = json.loads(line)
    except ValueError:
        return None
    key = record.get("custom_id") if isinstance(record, dict) else None
    return key if isinstance(key, str) else None


class _Index:
    """custom_id -> where its line is, in 8 bytes a row: 256 sorted arrays of
    `(low 24 bits of the key's hash) << 40 | file number << 32 | offset`. A lookup may find several
    candidates (hashes collide); `Rounds.record` keeps the line whose custom_id is the key."""

    def __init__(self, paths: Iterable[Any]) -> None:
        self.paths: list[Path] = []
        buckets = [array("Q") for _ in range(_BUCKETS)]
        for name in paths:
            if name is None or not Path(name).exists():
                continue
            number = len(self.paths)
            if number >= 256:
                raise ConfigurationError("a round of a batch job reads at most 256 result files")
            self.paths.append(Path(name))
            with Path(name).open("rb") as lines:
                offset = 0
                for line in lines:
                    key = _key_of(line)
                    if key is not None:
                        if offset >= 1 << 32:
                            raise ConfigurationError(f"{name}: a result file over 4 GiB")
                        digest = hash(key) & 0xFFFFFFFF
                        buckets[digest >> 24].append((digest & 0xFFFFFF) << 40 | number << 32 | offset)
                    offset += len(line)
        for number, bucket in enumerate(buckets):  # sorted a bucket at a time, each replaced as it goes
            buckets[number] = array("Q", sorted(bucket))
        self.buckets = buckets

    def candidates(self, key: str) -> Iterator[tuple[Path, int]]:
        digest = hash(key) & 0xFFFFFFFF
        bucket = self.buckets[digest >> 24]
        low = (digest & 0xFFFFFF) << 40
        at = bisect.bisect_left(bucket, low)
        while at < len(bucket) and bucket[at] >> 40 == low >> 40:
            packed = bucket[at]
            yield self.paths[(packed >> 32) & 0xFF], packed & 0xFFFFFFFF
            at += 1


class Rounds:
    """The result files of a job's rounds, indexed; open it as a context manager (its files are
    opened once each and read by offset)."""

    def __init__(self, rounds: Sequence[Round]) -> None:
        self.indexes = [_Index([*_listed(output), *_listed(errors)]) for output, errors in rounds]
        self._handles: dict[Path, IO[bytes]] = {}

    def __enter__(self) -> Rounds:
        return self

    def __exit__(self, *exc: object) -> None:
        for file in self._handles.values():
            file.close()
        self._handles.clear()

    def record(self, number: int, key: str) -> Any:
        """The round's result line for `key` (its first, when Azure wrote more than one), or None."""
        for path, offset in self.indexes[number].candidates(key):
            file = self._handles.get(path)
            if file is None:
                file = self._handles[path] = path.open("rb")
            file.seek(offset)
            try:
                record = json.loads(file.readline())
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("custom_id") == key:
                return record
        return None


@dataclass(slots=True)
class Settled:
    """Where a row stands after its rounds: `value`, or `error`; `reask` / `retry` when the last
    answer failed validation / the last line failed in transit (another round may help)."""

    row: Row
    state: Attempts
    value: Any = None
    error: BaseException | None = None
    requests: int = 0

    @property
    def reask(self) -> bool:
        return isinstance(self.error, REASKABLE)

    @property
    def retry(self) -> bool:
        return isinstance(self.error, BatchLineError) and self.error.transient

    def outcome(self) -> Outcome:
        """The row's final `Outcome` (an answer that failed validation ends as when re-asks are
        exhausted online: `InstructorRetryException`)."""
        outcome = Outcome(self.row.id, self.row.index, requests=self.requests)
        if self.error is None and self.requests:
            outcome.value = self.value
        elif self.reask:
            assert self.error is not None
            outcome.error = self.state.exhausted(self.error)
        else:
            outcome.error = self.error or BatchRowMissing(f"no batch result for row {self.row.id!r}")
        outcome.attempts = len(self.state.attempts) or (1 if self.requests else 0)
        outcome.usage = self.state.usage if self.state.attempts else Usage()
        return outcome


def _line_error(row: Row, status: Any, detail: Any) -> BaseException:
    detail = detail if isinstance(detail, Mapping) else {}
    code, message = detail.get("code"), detail.get("message")
    if status == 400 and code == "content_filter":
        inner = detail.get("innererror")
        results = inner.get("content_filter_result") if isinstance(inner, Mapping) else None
        return BatchPromptFilterError(source="prompt", categories=content_filter_categories(results))
    return BatchLineError(
        f"the batch line for row {row.id!r} failed: HTTP {status}, {code}: {message}",
        status_code=status if isinstance(status, int) else None,
        code=code if isinstance(code, str) else None,
    )


def settle(settled: Settled, record: Mapping[str, Any]) -> None:
    """Give one round's result line for the row to its protocol state."""
    settled.requests += 1
    settled.value = settled.error = None
    response = record.get("response") or {}
    status = response.get("status_code") if isinstance(response, Mapping) else None
    body = response.get("body") if isinstance(response, Mapping) else None
    if status == 200 and isinstance(body, dict):
        responses = settled.state.plan.api == "responses"
        if (body.get("object") == "response") != responses:
            raise ConfigurationError(
                f"the result line of row {settled.row.id!r} is a {body.get('object')!r}, which this client "
                "did not ask for: read the results with the client that wrote the requests "
                "(client.responses for /v1/responses lines, the chat client for chat completions)"
            )
        kind = Response if responses else ChatCompletion
        try:
            settled.value = settled.state.receive(_answer_object(kind, body))
        except (AttributeError, TypeError) as exc:  # a body of another shape, built unvalidated
            settled.error = BatchLineError(
                f"the batch line for row {settled.row.id!r} answered 200 with a body that is not a "
                f"{kind.__name__} ({exc})",
                status_code=200,
                code=None,
            )
        except Exception as exc:  # REASKABLE: another round may re-ask; anything else ends the row
            settled.error = exc
        return
    detail = body.get("error") if isinstance(body, Mapping) else None
    settled.error = _line_error(settled.row, status, detail or record.get("error"))


def _answer_object(kind: Any, body: dict[str, Any]) -> Any:
    """The SDK's object for a result body: validated (the fast path), else built as the SDK builds a
    response it receives, without validation (a field its models require that Azure leaves out, such
    as a newer usage detail, does not turn a good answer into a failed row)."""
    try:
        return kind.model_validate(body)
    except ValidationError:
        return kind.construct(**body)


def replay(row: Row, state: Attempts, rounds: Rounds) -> Settled:
    """The row through every round that has a line for it, in order."""
    settled = Settled(row, state)
    key = custom_id(row.id)
    for number in range(len(rounds.indexes)):
        record = rounds.record(number, key)
        if record is None:
            if number == 0:
                settled.error = BatchRowMissing(f"no batch result for row {row.id!r}")
            break
        settle(settled, record)
        if not (settled.reask or settled.retry):
            break
    return settled


def settled_rows(
    client: Any,
    inputs: Iterable[Any],
    rounds: Rounds,
    *,
    response_model: Any,
    model: str,
    prompt: str | None,
    kwargs: Mapping[str, Any],
) -> Iterator[Settled | Outcome]:
    """Each input in order: its `Settled` state, or (an input that could not be sent) its `Outcome`."""
    for row, state in request_rows(client, inputs, response_model, prompt, {**kwargs, "model": model}):
        if state is None:
            yield Outcome(row.id, row.index, error=row.error)
        else:
            yield replay(row, state, rounds)


def read_results(
    client: Any,
    inputs: Iterable[Any],
    *,
    response_model: Any,
    model: str,
    output: Paths,
    errors: Paths = None,
    prompt: str | None = None,
    rounds: Sequence[Round] = (),
    **kwargs: Any,
) -> Iterator[Outcome]:
    """One `Outcome` per input (in input order), from a job's downloaded output and error files (a
    path each, or lists of them: every part of a job at once); `rounds=` the result files of its
    follow-up batches, in order. Pass the inputs, model and keywords given to `write_requests`: each
    row's answer is validated by the same plan its request came from."""
    with Rounds([(output, errors), *rounds]) as indexed:
        for item in settled_rows(
            client, inputs, indexed, response_model=response_model, model=model, prompt=prompt, kwargs=kwargs
        ):
            yield item if isinstance(item, Outcome) else item.outcome()
