"""Azure OpenAI's Batch API: create, retrieve, list and cancel jobs over an uploaded JSONL file.

Routes: `/openai/batches[...]` (with `api-version`) and `/openai/v1/batches[...]`. The batch object and
the output lines follow the Azure batch how-to (learn.microsoft.com/azure/ai-foundry/openai/how-to/batch).

Time: a job moves on the emulator's clock (`Emulator(clock=...)`; `ManualClock` in tests), and only when
it is read (retrieve, list, cancel). From its creation it is `validating` for
`BatchStore.validation_seconds`, then `in_progress` for `processing_seconds`, then `finalizing` for
`finalizing_seconds`, then `completed` (all 0 by default: the first read after `create` sees it
completed). Its lines are answered at the end of `in_progress`, each through the emulator's own chat
completion route in-process (so scripted answers, faults, quotas and `emulator.requests` apply).
A job whose validation + processing would end after `expires_at` (created + 24 h) turns `expired` once
the clock passes it; its lines go to the error file as `batch_expired`. `cancel` sets `cancelling`,
then `cancelled` after `cancel_seconds`; the lines not yet answered are not run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _body as body_limits
from . import _wire as wire
from ._api_versions import LATEST_GA
from ._files import FileStore, admit, file_not_found, list_body

if TYPE_CHECKING:
    from ._app import EmulatorApp
    from ._quota import Clock

JSON = dict[str, Any]
ENDPOINTS = ("/chat/completions", "/v1/chat/completions")
COMPLETION_WINDOW_SECONDS = 24 * 3600
MAX_TASKS = 100_000
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class BatchJob:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    created: float  # on the emulator's clock
    created_at: int
    expires_at: int
    metadata: Any
    api_version: str | None
    status: str = "validating"
    stamps: dict[str, int | None] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[JSON] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    lines: list[JSON] = field(default_factory=list)
    cancel_requested: float | None = None
    running: bool = False

    def to_json(self) -> JSON:
        stamp = self.stamps.get
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": stamp("in_progress_at"),
            "expires_at": self.expires_at,
            "finalizing_at": stamp("finalizing_at"),
            "completed_at": stamp("completed_at"),
            "failed_at": stamp("failed_at"),
            "expired_at": stamp("expired_at"),
            "cancelling_at": stamp("cancelling_at"),
            "cancelled_at": stamp("cancelled_at"),
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
        }


def _error(code: str, message: str, line: int | None = None, param: str | None = None) -> JSON:
    return {"code": code, "message": message, "param": param, "line": line}


def _same_url(url: str, endpoint: str) -> bool:
    return url.removeprefix("/v1") == endpoint.removeprefix("/v1")


def validate_lines(data: bytes, endpoint: str, max_tasks: int = MAX_TASKS) -> tuple[list[JSON], list[JSON]]:
    """The input file's requests, and the validation errors Azure reports in a failed batch's `errors`."""
    rows = [
        (n, text) for n, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1) if text.strip()
    ]
    if not rows:
        return [], [
            _error(
                "empty_file",
                "The input file is empty. Please ensure that the batch contains at least one request.",
            )
        ]
    if len(rows) > max_tasks:
        message = f"The input file contains {len(rows)} requests; a batch can contain at most {max_tasks}."
        return [], [_error("too_many_tasks", message)]
    lines: list[JSON] = []
    errors: list[JSON] = []
    seen: set[str] = set()
    model: str | None = None
    for n, text in rows:
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            errors.append(_error("invalid_json_line", f"Line {n} is not a valid JSON object.", n))
            continue
        custom_id, url, body = line.get("custom_id"), line.get("url"), line.get("body")
        missing: str | None = None
        if not isinstance(custom_id, str):
            missing = "custom_id"
        elif not isinstance(url, str):
            missing = "url"
        elif not isinstance(body, dict):
            missing = "body"
        elif not isinstance(body.get("model"), str):
            missing = "body.model"
        if missing is not None or not isinstance(custom_id, str) or not isinstance(url, str):
            errors.append(_error("invalid_request", f"Line {n} has no valid '{missing}'.", n, missing))
            continue
        assert isinstance(body, dict)
        if custom_id in seen:
            message = f"The custom_id '{custom_id}' on line {n} is not unique within the batch."
            errors.append(_error("duplicate_custom_id", message, n, "custom_id"))
        seen.add(custom_id)
        if not _same_url(url, endpoint):
            message = f"The url '{url}' on line {n} does not match the batch's endpoint '{endpoint}'."
            errors.append(_error("url_mismatch", message, n, "url"))
        if model is None:
            model = body["model"]
        elif body["model"] != model:
            message = f"The model '{body['model']}' on line {n} differs from '{model}' on earlier lines."
            errors.append(_error("model_mismatch", message, n, "body.model"))
        lines.append(line)
    return lines, errors


class BatchStore:
    """The emulator's batch jobs. Timings are seconds on the emulator's clock (see the module's docs)."""

    def __init__(self, files: FileStore, clock: Callable[[], Clock]) -> None:
        self.files = files
        self._clock = clock
        self.validation_seconds = 0.0
        self.processing_seconds = 0.0
        self.finalizing_seconds = 0.0
        self.cancel_seconds = 0.0
        self.max_tasks = MAX_TASKS
        self.jobs: dict[str, BatchJob] = {}

    @property
    def clock(self) -> Clock:
        return self._clock()

    def _unix(self, at: float) -> int:
        return self.files.now_unix() - int(self.clock.now() - at)

    def create(
        self, file_id: str, endpoint: str, window: str, metadata: Any, api_version: str | None
    ) -> BatchJob:
        now = self.clock.now()
        created_at = self.files.now_unix()
        job = BatchJob(
            id=f"batch_{uuid.uuid4()}",
            input_file_id=file_id,
            endpoint=endpoint,
            completion_window=window,
            created=now,
            created_at=created_at,
            expires_at=created_at + COMPLETION_WINDOW_SECONDS,
            metadata=metadata,
            api_version=api_version,
        )
        self.jobs[job.id] = job
        return job

    def clear(self) -> None:
        self.jobs.clear()

    async def refresh(self, app: EmulatorApp, job: BatchJob) -> None:
        """Move `job` to where the clock says it is now (answering its lines when it gets there)."""
        if job.status in _TERMINAL or job.running:
            return
        now = self.clock.now()
        if job.status == "cancelling":
            assert job.cancel_requested is not None
            if now >= job.cancel_requested + self.cancel_seconds:
                job.status = "cancelled"
                job.stamps["cancelled_at"] = self._unix(job.cancel_requested + self.cancel_seconds)
            return
        validated = job.created + self.validation_seconds
        if job.status == "validating":
            if now < validated:
                return
            stored = self.files.get(job.input_file_id)
            data = stored.data if stored is not None else b""
            job.lines, errors = validate_lines(data, job.endpoint, self.max_tasks)
            if errors:
                job.status, job.errors = "failed", errors
                job.stamps["failed_at"] = self._unix(validated)
                return
            job.status = "in_progress"
            job.stamps["in_progress_at"] = self._unix(validated)
            job.counts["total"] = len(job.lines)
        done = validated + self.processing_seconds
        if job.status == "in_progress":
            deadline = job.created + COMPLETION_WINDOW_SECONDS
            if done > deadline:
                if now >= deadline:
                    self._expire(job)
                return
            if now < done:
                return
            job.running = True
            try:
                await self._run(app, job)
            finally:
                job.running = False
            job.status = "finalizing"
            job.stamps["finalizing_at"] = self._unix(done)
        finished = done + self.finalizing_seconds
        if job.status == "finalizing" and now >= finished:
            job.status = "completed"
            job.stamps["completed_at"] = self._unix(finished)

    def _expire(self, job: BatchJob) -> None:
        job.status = "expired"
        job.stamps["expired_at"] = job.expires_at
        error = {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        }
        out = [{"custom_id": line["custom_id"], "response": None, "error": error} for line in job.lines]
        job.error_file_id = self._write(job, out, "errors")

    def _write(self, job: BatchJob, rows: list[JSON], kind: str) -> str | None:
        if not rows:
            return None
        data = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode()
        stored = self.files.add(
            data, filename=f"{job.id}_{kind}.jsonl", purpose="batch_output", file_id=f"file-{uuid.uuid4()}"
        )
        return stored.id

    async def _run(self, app: EmulatorApp, job: BatchJob) -> None:
        import httpx2

        from ._transport import AsyncEmulatorTransport

        version = job.api_version or LATEST_GA
        key = app.emulator.api_keys[0]
        outputs: list[JSON] = []
        failures: list[JSON] = []
        async with httpx2.AsyncClient(
            transport=AsyncEmulatorTransport(app), base_url="https://batch.emulator"
        ) as http:
            for line in job.lines:
                if job.cancel_requested is not None:
                    break
                body = line["body"]
                answer = await http.post(
                    f"/openai/deployments/{body['model']}/chat/completions",
                    params={"api-version": version},
                    headers={"api-key": key},
                    json=body,
                )
                try:
                    answered: Any = answer.json()
                except ValueError:
                    answered = None
                row = {
                    "custom_id": line["custom_id"],
                    "response": {
                        "status_code": answer.status_code,
                        "request_id": answer.headers.get("x-request-id"),
                        "body": answered,
                    },
                    "error": None,
                }
                if answer.status_code == 200:
                    outputs.append(row)
                    job.counts["completed"] += 1
                else:
                    failures.append(row)
                    job.counts["failed"] += 1
        job.output_file_id = self._write(job, outputs, "output")
        job.error_file_id = self._write(job, failures, "errors")


def batch_not_found(batch_id: str) -> wire.AzureError:
    return wire.AzureError(
        404,
        {
            "error": {
                "message": f"Batch with id '{batch_id}' not found.",
                "type": "invalid_request_error",
                "param": None,
                "code": "batchNotFound",
            }
        },
    )


def _string(body: JSON, name: str) -> str:
    value = body.get(name)
    if value is None:
        raise wire.missing_parameter(name)
    if not isinstance(value, str):
        raise wire.invalid_type(name, "a string", value)
    return value


def batch_routes(app: EmulatorApp) -> list[Route]:
    from ._app import _Call

    store = app.emulator.batches

    async def found(batch_id: str) -> BatchJob:
        """The job, brought up to the clock's time; Azure's 404 if there is none."""
        job = store.jobs.get(batch_id)
        if job is None:
            raise batch_not_found(batch_id)
        await store.refresh(app, job)
        return job

    async def create(request: Request) -> Response:
        call = _Call(request, "batches")
        try:
            await admit(app, call)
            raw = await body_limits.read_body(request, app.emulator.max_body_bytes)
            call.body = body = body_limits.parse_json(raw)
            file_id = _string(body, "input_file_id")
            endpoint = _string(body, "endpoint")
            window = _string(body, "completion_window")
            if endpoint not in ENDPOINTS:
                raise wire.invalid_value(
                    "endpoint",
                    f"Invalid value for endpoint: '{endpoint}'. Supported: {', '.join(ENDPOINTS)}.",
                )
            if window != "24h":
                raise wire.invalid_value(
                    "completion_window", f"Invalid value for completion_window: '{window}'. Supported: '24h'."
                )
            if store.files.get(file_id) is None:
                raise file_not_found(file_id)
            job = store.create(file_id, endpoint, window, body.get("metadata"), call.api_version)
            return app._finish(call, job.to_json())
        except wire.AzureError as error:
            return app._finish(call, error)

    async def listing(request: Request) -> Response:
        call = _Call(request, "batches")
        try:
            await admit(app, call)
            limit_text = request.query_params.get("limit", "20")
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
                raise wire.invalid_value("limit", f"Invalid value for limit: '{limit_text}'.")
        except wire.AzureError as error:
            return app._finish(call, error)
        jobs = list(store.jobs.values())
        after = request.query_params.get("after")
        if after is not None:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        page = jobs[: int(limit_text)]
        for job in page:
            await store.refresh(app, job)
        return app._finish(call, list_body([j.to_json() for j in page], has_more=len(jobs) > len(page)))

    async def retrieve(request: Request) -> Response:
        call = _Call(request, "batches")
        batch_id = request.path_params["batch_id"]
        try:
            await admit(app, call)
            job = await found(batch_id)
            return app._finish(call, job.to_json())
        except wire.AzureError as error:
            return app._finish(call, error)

    async def cancel(request: Request) -> Response:
        call = _Call(request, "batches")
        batch_id = request.path_params["batch_id"]
        try:
            await admit(app, call)
            job = await found(batch_id)
            if job.status in _TERMINAL or job.status == "cancelling":
                raise wire.invalid_request(
                    f"Cannot cancel a batch with status '{job.status}'.", code="invalid_batch_status"
                )
            job.status = "cancelling"
            job.cancel_requested = store.clock.now()
            job.stamps["cancelling_at"] = store.files.now_unix()
            return app._finish(call, job.to_json())
        except wire.AzureError as error:
            return app._finish(call, error)

    routes: list[Route] = []
    for prefix in ("/openai/batches", "/openai/v1/batches"):
        routes += [
            Route(prefix, create, methods=["POST"]),
            Route(prefix, listing, methods=["GET"]),
            Route(prefix + "/{batch_id}", retrieve, methods=["GET"]),
            Route(prefix + "/{batch_id}/cancel", cancel, methods=["POST"]),
        ]
    return routes
