"""A batch job on disk: submit, poll, download and read results, resumable from a manifest.

The manifest (`manifest.json` in the job's directory, replaced atomically at each change) holds, per
part (one request file within Azure's limits): the request file, its uploaded file id, its batch id,
the last status seen, and the downloaded output and error files. A process that dies while a job runs
picks it up with `BatchJob.load(directory)` and never submits a part twice: a part with a batch id is
only polled.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openai import OpenAI

from .._errors import ConfigurationError, InstructorError
from ..pipeline._engine import _wrap
from ..pipeline._rows import Outcome
from ._lines import CHAT_URL, MAX_BYTES, MAX_LINES, read_results, write_requests

MANIFEST = "manifest.json"
#: Statuses after which a batch changes no more.
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


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
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output: str | None = None
    error_output: str | None = None


@dataclass
class BatchJob:
    """One job: its directory, what it extracts (`model` = the batch deployment, `options` = the
    request keywords) and its parts. Build it with `submit_batch` or `BatchJob.load`."""

    directory: str
    model: str
    url: str = CHAT_URL
    prompt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)

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
        path = Path(directory) / MANIFEST
        if not path.exists():
            raise ConfigurationError(f"{directory}: no batch job here (no {MANIFEST})")
        data = json.loads(path.read_text(encoding="utf-8"))
        data["parts"] = [Part(**part) for part in data.get("parts", [])]
        return cls(**data)

    # --- the lifecycle ----------------------------------------------------------------------------

    def submit(self, client: Any) -> None:
        """Upload and create every part not yet created (a part already created is left alone)."""
        raw = _raw(client)
        for part in self.parts:
            if part.file_id is None:
                with Path(part.requests).open("rb") as file:
                    part.file_id = raw.files.create(file=(Path(part.requests).name, file), purpose="batch").id
                self.save()
            if part.batch_id is None:
                batch = raw.batches.create(
                    input_file_id=part.file_id,
                    endpoint=self.url,  # type: ignore[arg-type]  # Azure's "/chat/completions"; the SDK types list OpenAI's /v1 forms
                    completion_window="24h",
                )
                part.batch_id, part.status = batch.id, batch.status
                self.save()

    def refresh(self, client: Any) -> None:
        """Read every unfinished part's status (and `request_counts`, validation `errors`)."""
        raw = _raw(client)
        for part in self.parts:
            if part.batch_id is None or part.status in FINAL:
                continue
            batch = raw.batches.retrieve(part.batch_id)
            part.status = batch.status
            counts = batch.request_counts
            part.counts = counts.model_dump() if counts is not None else {}
            errors = getattr(batch, "errors", None)
            part.errors = [e.model_dump() for e in (errors.data or [])] if errors is not None else []
            if batch.status in FINAL:
                self._download(raw, part, batch)
        self.save()

    @property
    def done(self) -> bool:
        return all(part.status in FINAL for part in self.parts)

    def wait(
        self,
        client: Any,
        *,
        poll_interval: float = 60.0,
        on_progress: Callable[[BatchJob], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Poll until every part has ended (`poll_interval` seconds apart), calling `on_progress`."""
        while True:
            self.refresh(client)
            if on_progress is not None:
                on_progress(self)
            if self.done:
                return
            sleep(poll_interval)

    def cancel(self, client: Any) -> None:
        """Cancel every unfinished part; what they finished stays and is read as usual."""
        raw = _raw(client)
        for part in self.parts:
            if part.batch_id is not None and part.status not in FINAL:
                part.status = raw.batches.cancel(part.batch_id).status
        self.save()

    def _download(self, raw: Any, part: Part, batch: Any) -> None:
        stem = Path(part.requests).stem
        for attribute, name, key in (
            ("output_file_id", f"{stem}.output.jsonl", "output"),
            ("error_file_id", f"{stem}.errors.jsonl", "error_output"),
        ):
            file_id = getattr(batch, attribute, None)
            if file_id and getattr(part, key) is None:
                path = Path(self.directory) / name
                raw.files.content(file_id).write_to_file(path)
                setattr(part, key, str(path))

    # --- results -----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {"total": 0, "completed": 0, "failed": 0}
        for part in self.parts:
            for key in total:
                total[key] += int(part.counts.get(key, 0))
        return total

    def results(self, client: Any, inputs: Iterable[Any], *, response_model: Any) -> Iterator[Outcome]:
        """One `Outcome` per input, in input order (call once the job is `done`)."""
        failed = [part for part in self.parts if part.status == "failed"]
        if failed:
            first = failed[0].errors[:3]
            raise BatchJobFailed(
                f"{len(failed)} part(s) of the batch job failed validation: "
                + "; ".join(f"{e.get('code')}: {e.get('message')} (line {e.get('line')})" for e in first),
                [e for part in failed for e in part.errors],
            )
        return read_results(
            client,
            inputs,
            response_model=response_model,
            model=self.model,
            output=[part.output for part in self.parts],
            errors=[part.error_output for part in self.parts],
            prompt=self.prompt,
            **self.options,
        )


def _raw(client: Any) -> OpenAI:
    """The SDK client under `client`; the job's calls (upload, create, poll, download) are blocking."""
    raw = _wrap(client).client
    if not isinstance(raw, OpenAI):
        raise ConfigurationError(
            "a batch job's calls are made with a sync client: pass AzureOpenAI (or from_openai(AzureOpenAI(...)))"
        )
    return raw


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
    url: str = CHAT_URL,
    **options: Any,
) -> BatchJob:
    """Write the request files of `inputs` into `directory`, upload them, create one batch per file,
    and return the job (its manifest saved). `directory` must not hold a job already: resume one with
    `BatchJob.load(directory)`."""
    folder = Path(directory)
    if (folder / MANIFEST).exists():
        raise ConfigurationError(f"{directory} already holds a batch job: BatchJob.load() it to resume")
    written = write_requests(
        client, inputs, folder, response_model=response_model, model=model, prompt=prompt,
        max_lines=max_lines, max_bytes=max_bytes, url=url, **options,
    )  # fmt: skip
    job = BatchJob(
        str(folder), model, url, prompt, dict(options),
        [Part(str(path), lines) for path, lines in zip(written.paths, written.lines, strict=True)],
    )  # fmt: skip
    job.save()
    job.submit(client)
    return job
