"""A batch job on disk: submit, poll, download and read results, resumable from a manifest.

The manifest (`manifest.json` in the job's directory, replaced atomically at each change) holds, per
part (one request file within Azure's limits): its round, the request file, its uploaded file id, its
batch id, the last status seen, and the downloaded output and error files. A process that dies while
a job runs picks it up with `BatchJob.load(directory)` and never submits a part twice: a part with a
batch id is only polled.

The enqueued-token quota: Azure fails a batch whose tokens would take the deployment's queue over its
limit (`token_limit_exceeded`, nothing of it ran). Such a part is queued again, with its file, and
created again once an earlier part of the job has ended, or after a backoff counted in polls
(1, 2, 4, ... up to 32), at most `max_quota_retries` times.

Every call is made through `_protocol`: the lifecycle below is written once, as generators, and run
by the sync methods (`submit`, `refresh`, `wait`, `cancel`) or their async twins (`asubmit`, ...).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openai import APIStatusError

from .._client import DEFAULT_MAX_RETRIES
from .._errors import ConfigurationError, InstructorError
from .._versions import LATEST_GA, SINCE, capabilities_of
from ..pipeline._rows import Outcome
from ._lines import CHAT_URL, MAX_BYTES, MAX_LINES, write_requests
from ._protocol import (
    Cancel,
    Create,
    Download,
    Protocol,
    Retrieve,
    Sleep,
    SleepFn,
    Upload,
    async_client,
    create_endpoint,
    drive_async,
    drive_sync,
    line_url,
    raw_client,
    sync_client,
)

MANIFEST = "manifest.json"
#: Statuses after which a batch changes no more.
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: Our own status for a part waiting to be created again (the enqueued-token quota was full).
QUEUED = "queued"
TOKEN_LIMIT = "token_limit_exceeded"
MAX_WAIT_POLLS = 32
#: What to do about each of Azure's validation errors (a failed part ran nothing: fix, then submit again).
ADVICE = {
    TOKEN_LIMIT: "The deployment's enqueued-token quota stayed full: raise it, wait for other jobs on the "
    "deployment to end, or split the job into smaller files (max_lines / --batch-max-lines).",
    "model_not_found": "The file's model= is not a deployment of this resource (a BOM at the start of the "
    "file reads so too): pass the name of a GlobalBatch deployment.",
    "invalid_request": "Batch jobs need a GlobalBatch or DataZoneBatch deployment as model= "
    "(a Standard one serves online calls only), and every line a custom_id, url, body and body.model.",
    "too_many_tasks": "A file holds at most 100,000 requests: lower max_lines / --batch-max-lines.",
    "empty_file": "The request file has no request: check the inputs.",
    "invalid_json_line": "A line of the request file is not JSON: was the file edited after it was "
    "written? Submit the job again into a new directory.",
    "duplicate_custom_id": "Two rows share an id: give each input its own id.",
    "model_mismatch": "A file names one deployment on every line: submit the job again into a new directory.",
    "url_mismatch": "Every line's url must name the same API, the job's (/chat/completions; "
    "/v1/chat/completions on the v1 API; /v1/responses for Responses lines).",
    "input_modified": "The uploaded file changed after the job was created: submit the job again.",
}


class BatchJobFailed(InstructorError):
    """A part of the job ended `failed` (Azure's validation `errors` are in the message and in
    `errors`): nothing of it ran."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class Part:
    requests: str
    lines: int
    round: int = 1
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output: str | None = None
    error_output: str | None = None
    quota_retries: int = 0
    wait_polls: int = 0


def _token_limited(errors: list[dict[str, Any]]) -> bool:
    return bool(errors) and all(error.get("code") == TOKEN_LIMIT for error in errors)


def _error_list(exc: APIStatusError) -> list[dict[str, Any]]:
    """The errors of a refused `batches.create`: an `{"errors": {"data": [...]}}` list (what a
    fail-fast refusal carries) or one error object (the SDK hands over `body["error"]`)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    listed = body.get("errors")
    if isinstance(listed, dict) and isinstance(listed.get("data"), list):
        return [e for e in listed["data"] if isinstance(e, dict)]
    error = body.get("error", body)
    return [error] if isinstance(error, dict) and error.get("code") else []


@dataclass
class BatchJob:
    """One job: its directory, what it extracts (`model` = the batch deployment, `options` = the
    request keywords), its parts (of every round) and, for the command line, where its inputs came
    from (`source`). Build it with `submit_batch` or `BatchJob.load`."""

    directory: str
    model: str
    url: str = CHAT_URL
    prompt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)
    expires_after: int | None = None
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES
    max_quota_retries: int = 12
    source: dict[str, Any] | None = None
    endpoint: str = CHAT_URL

    # --- the manifest -----------------------------------------------------------------------------

    @property
    def manifest(self) -> Path:
        return Path(self.directory) / MANIFEST

    def save(self) -> None:
        temporary = self.manifest.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(temporary, self.manifest)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> BatchJob:
        """The job in `directory` (or the manifest file itself)."""
        path = Path(directory)
        if path.is_dir() or path.name != MANIFEST:
            path = path / MANIFEST
        if not path.exists():
            raise ConfigurationError(f"{directory}: no batch job here (no {MANIFEST})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["parts"] = [Part(**part) for part in data.get("parts", [])]
            data["directory"] = str(path.parent)
            return cls(**data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"{path}: not a batch job manifest ({exc})") from None

    # --- state --------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Every part has ended (completed, failed, expired or cancelled)."""
        return all(part.status in FINAL for part in self.parts)

    @property
    def rounds(self) -> int:
        return max((part.round for part in self.parts), default=0)

    def round_parts(self, number: int) -> list[Part]:
        return [part for part in self.parts if part.round == number]

    def counts(self) -> dict[str, int]:
        """`request_counts` summed over the parts of every round."""
        total: dict[str, int] = {"total": 0, "completed": 0, "failed": 0}
        for part in self.parts:
            for key in total:
                total[key] += int(part.counts.get(key, 0))
        return total

    def failed_validation(self) -> list[Part]:
        return [part for part in self.parts if part.status == "failed"]

    def check(self) -> None:
        """Raise `BatchJobFailed` when a part ended `failed` (Azure's validation errors, or the
        enqueued-token quota still full after every retry)."""
        failed = self.failed_validation()
        if not failed:
            return
        errors = [error for part in failed for error in part.errors]
        codes = dict.fromkeys(str(error.get("code")) for error in errors)
        advice = "".join(" " + ADVICE[code] for code in codes if code in ADVICE)
        raise BatchJobFailed(
            f"{len(failed)} part(s) of the batch job failed: "
            + "; ".join(
                f"{e.get('code')}: {e.get('message')}" + (f" (line {e['line']})" if e.get("line") else "")
                for e in errors[:3]
            )
            + advice,
            errors,
        )

    # --- the lifecycle, as protocols ------------------------------------------------------------------

    def _queue(self, part: Part, errors: list[dict[str, Any]]) -> None:
        part.errors = errors
        if part.quota_retries >= self.max_quota_retries:
            part.status = "failed"
            return
        part.quota_retries += 1
        part.batch_id, part.status, part.counts = None, QUEUED, {}
        part.wait_polls = min(2 ** (part.quota_retries - 1), MAX_WAIT_POLLS)

    def _submit(self) -> Protocol:
        for part in self.parts:
            if part.status in FINAL or (part.status == QUEUED and part.wait_polls > 0):
                continue
            if part.file_id is None:
                uploaded = yield Upload(part.requests, self.expires_after)
                part.file_id = str(uploaded.id)
                self.save()
            if part.batch_id is None:
                try:
                    batch = yield Create(part.file_id, self.endpoint, None)
                except APIStatusError as exc:  # some regions refuse a full quota at create time
                    errors = _error_list(exc)
                    if not errors:
                        raise
                    if _token_limited(errors):
                        self._queue(part, errors)
                    else:  # refused for good (model_not_found, ...): typed, with what to do
                        part.status, part.errors = "failed", errors
                        self.save()
                        self.check()
                else:
                    part.batch_id, part.status, part.errors = str(batch.id), str(batch.status), []
                self.save()

    def _refresh(self) -> Protocol:
        ended = False
        for part in self.parts:
            if part.batch_id is None or part.status in FINAL:
                continue
            batch = yield Retrieve(part.batch_id)
            part.status = str(batch.status)
            counts = batch.request_counts
            part.counts = counts.model_dump() if counts is not None else {}
            errors = getattr(batch, "errors", None)
            part.errors = [e.model_dump() for e in (errors.data or [])] if errors is not None else []
            if part.status == "failed" and _token_limited(part.errors):
                self._queue(part, part.errors)
            elif part.status in FINAL:
                ended = True
                yield from self._download(part, batch)
            self.save()
        if ended:  # an ended part released its enqueued tokens: the queued ones go again now
            for part in self.parts:
                if part.status == QUEUED:
                    part.wait_polls = 0
        self.save()

    def _download(self, part: Part, batch: Any) -> Protocol:
        stem = Path(part.requests).stem
        for attribute, name, key in (
            ("output_file_id", f"{stem}.output.jsonl", "output"),
            ("error_file_id", f"{stem}.errors.jsonl", "error_output"),
        ):
            file_id = getattr(batch, attribute, None)
            if file_id and getattr(part, key) is None:
                path = str(Path(self.directory) / name)
                yield Download(str(file_id), path)
                setattr(part, key, path)

    def _wait(self, poll_interval: float, on_progress: Callable[[BatchJob], Any] | None) -> Protocol:
        if poll_interval <= 0:
            raise ConfigurationError(f"poll_interval must be more than 0 seconds, got {poll_interval}")
        while True:
            for part in self.parts:
                if part.status == QUEUED and part.wait_polls > 0:
                    part.wait_polls -= 1
            yield from self._refresh()
            yield from self._submit()
            if on_progress is not None:
                on_progress(self)
            if self.done:
                return
            yield Sleep(poll_interval)

    def _cancel(self) -> Protocol:
        for part in self.parts:
            if part.status in FINAL:
                continue
            if part.batch_id is None:  # never created (or queued for quota): nothing runs
                part.status = "cancelled"
            else:
                part.status = str((yield Cancel(part.batch_id)).status)
            self.save()
        self.save()

    # --- sync ---------------------------------------------------------------------------------------

    def submit(self, client: Any) -> None:
        """Upload and create every part not yet created (a part already created is left alone)."""
        drive_sync(self._submit(), sync_client(client), _no_sleep)

    def refresh(self, client: Any) -> None:
        """Read every unfinished part's status (`request_counts`, validation `errors`); download the
        result files of the parts that ended."""
        drive_sync(self._refresh(), sync_client(client), _no_sleep)

    def wait(
        self,
        client: Any,
        *,
        poll_interval: float = 60.0,
        on_progress: Callable[[BatchJob], Any] | None = None,
        sleep: SleepFn | None = None,
    ) -> None:
        """Poll until every part has ended (`poll_interval` seconds apart), calling `on_progress`
        after each poll; parts queued for the enqueued-token quota are created again on the way."""
        import time

        drive_sync(self._wait(poll_interval, on_progress), sync_client(client), sleep or time.sleep)

    def cancel(self, client: Any) -> None:
        """Cancel every unfinished part; what they finished stays and is read as usual."""
        drive_sync(self._cancel(), sync_client(client), _no_sleep)

    # --- async --------------------------------------------------------------------------------------

    async def asubmit(self, client: Any) -> None:
        await drive_async(self._submit(), async_client(client), None)

    async def arefresh(self, client: Any) -> None:
        await drive_async(self._refresh(), async_client(client), None)

    async def await_done(
        self,
        client: Any,
        *,
        poll_interval: float = 60.0,
        on_progress: Callable[[BatchJob], Any] | None = None,
        sleep: SleepFn | None = None,
    ) -> None:
        """`wait` with an async client (`sleep` may be sync or async; default `asyncio.sleep`)."""
        await drive_async(self._wait(poll_interval, on_progress), async_client(client), sleep)

    async def acancel(self, client: Any) -> None:
        await drive_async(self._cancel(), async_client(client), None)

    # --- results and re-asks (`_reask`) -------------------------------------------------------------

    def results(
        self,
        client: Any,
        inputs: Iterable[Any],
        *,
        response_model: Any,
        reask: str = "none",
        reask_model: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **pipeline: Any,
    ) -> Iterator[Outcome]:
        """One `Outcome` per input, once the job is `done`: in input order with `reask="none"` (a row
        whose answer failed validation ends as `InstructorRetryException`); with `reask="online"` those
        rows (and rows whose line failed in transit) go on through the online re-ask loop on the
        `reask_model` deployment, paced as `extract_many` (its `concurrency=`, `tokens_per_minute=`...
        apply), up to `max_retries` re-asks in all, and outcomes come as rows finish."""
        from ._reask import results

        return results(
            self, client, inputs, response_model=response_model, reask=reask, reask_model=reask_model,
            max_retries=max_retries, pipeline=pipeline,
        )  # fmt: skip

    def aresults(
        self,
        client: Any,
        inputs: Iterable[Any],
        *,
        response_model: Any,
        reask: str = "none",
        reask_model: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **pipeline: Any,
    ) -> AsyncIterator[Outcome]:
        """`results` with an async client (`async for outcome in job.aresults(...)`)."""
        from ._reask import aresults

        return aresults(
            self, client, inputs, response_model=response_model, reask=reask, reask_model=reask_model,
            max_retries=max_retries, pipeline=pipeline,
        )  # fmt: skip

    def reask_batch(
        self,
        client: Any,
        inputs: Iterable[Any],
        *,
        response_model: Any,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> int:
        """Submit a follow-up round for the rows whose answer failed validation (their request carries
        the validation errors, as an online re-ask's does) or whose line failed in transit, while a row
        has had at most `max_retries` re-asks; returns how many rows it sent (0: nothing to do). Then
        `wait` again; `results` reads every round."""
        from ._reask import follow_up

        sync_client(client)
        written = follow_up(self, client, inputs, response_model=response_model, max_retries=max_retries)
        if written:
            self.submit(client)
        return written

    async def areask_batch(
        self,
        client: Any,
        inputs: Iterable[Any],
        *,
        response_model: Any,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> int:
        """`reask_batch` with an async client."""
        from ._reask import follow_up

        async_client(client)
        written = follow_up(self, client, inputs, response_model=response_model, max_retries=max_retries)
        if written:
            await self.asubmit(client)
        return written


def _no_sleep(seconds: float) -> None:  # pragma: no cover - these protocols never sleep
    raise AssertionError("unexpected sleep")


def new_job(
    client: Any,
    inputs: Iterable[Any],
    directory: str | os.PathLike[str],
    *,
    response_model: Any,
    model: str,
    prompt: str | None,
    max_lines: int,
    max_bytes: int,
    url: str | None,
    expires_after: int | None,
    options: dict[str, Any],
) -> BatchJob:
    """Write the request files of `inputs` into `directory` and save the job's manifest (nothing is
    sent yet)."""
    folder = Path(directory)
    if (folder / MANIFEST).exists():
        raise ConfigurationError(f"{directory} already holds a batch job: BatchJob.load() it to resume")
    capabilities = capabilities_of(raw_client(client))
    if not capabilities.serves("batch"):
        raise ConfigurationError(
            f"api-version {capabilities.api_version} has no Batch API (from {SINCE['batch']}; GA {LATEST_GA}): "
            f"use api_version={LATEST_GA!r} or later, or 'v1'"
        )
    for name in ("messages", "stream", "max_retries", "response_model"):
        if name in options:
            raise ConfigurationError(
                f"{name}= is not a batch request keyword"
                + (
                    ": re-asks are chosen when the results are read (see docs/batch.md)"
                    if name == "max_retries"
                    else ""
                )
            )
    if expires_after is not None and not 1_209_600 <= expires_after <= 2_592_000:
        raise ConfigurationError(
            f"expires_after must be from 1209600 (14 days) to 2592000 (30 days) seconds, Azure's range; "
            f"got {expires_after}"
        )
    url = url or line_url(client)
    written = write_requests(
        client, inputs, folder, response_model=response_model, model=model, prompt=prompt,
        max_lines=max_lines, max_bytes=max_bytes, url=url, **options,
    )  # fmt: skip
    if not written.paths:
        raise ConfigurationError("no input can be sent: the batch job would be empty")
    job = BatchJob(
        str(folder), model, url, prompt, dict(options),
        [Part(str(path), lines) for path, lines in zip(written.paths, written.lines, strict=True)],
        expires_after=expires_after, max_lines=max_lines, max_bytes=max_bytes,
        endpoint=create_endpoint(client),
    )  # fmt: skip
    job.save()
    return job


def submit_batch(
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
    expires_after: int | None = None,
    **options: Any,
) -> BatchJob:
    """Write the request files of `inputs` into `directory`, upload them, create one batch per file,
    and return the job (its manifest saved). `directory` must not hold a job already: resume one with
    `BatchJob.load(directory)`. `url` is the lines' (default: `/chat/completions` for `AzureOpenAI`,
    `/v1/chat/completions` for an `OpenAI` client on the v1 API). `expires_after` (seconds, 14 to 30
    days) sets the uploaded files' expiry; other keywords are `create`'s (`max_tokens=`, `temperature=`)."""
    sync_client(client)
    job = new_job(
        client, inputs, directory, response_model=response_model, model=model, prompt=prompt,
        max_lines=max_lines, max_bytes=max_bytes, url=url, expires_after=expires_after, options=options,
    )  # fmt: skip
    job.submit(client)
    return job


async def asubmit_batch(
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
    expires_after: int | None = None,
    **options: Any,
) -> BatchJob:
    """`submit_batch` with an async client."""
    async_client(client)
    job = new_job(
        client, inputs, directory, response_model=response_model, model=model, prompt=prompt,
        max_lines=max_lines, max_bytes=max_bytes, url=url, expires_after=expires_after, options=options,
    )  # fmt: skip
    await job.asubmit(client)
    return job
