"""Azure OpenAI's Batch API: create, retrieve, list and cancel jobs over an uploaded JSONL file.

Routes: `/openai/batches[...]` (with `api-version`) and `/openai/v1/batches[...]`. The batch object and
the output lines follow the Azure batch how-to (learn.microsoft.com/azure/ai-foundry/openai/how-to/batch).
Validation (codes, the batch deployment check, tokens) is in `_batch_validation`; answering the lines
through the chat completion route is in `_batch_runner`.

Time: a job moves on the emulator's clock (`Emulator(clock=...)`; `ManualClock` in tests), and only when
it is read (retrieve, list, cancel). From its creation it is `validating` for
`BatchStore.validation_seconds`, then `in_progress` for `processing_seconds`, then `finalizing` for
`finalizing_seconds`, then `completed` (all 0 by default: the first read after `create` sees it
completed). Its lines are answered in order while it is `in_progress`, spread evenly over
`processing_seconds` (line k of N is due k/N of the way through), each through the emulator's own chat
completion route (so scripted answers, faults, quotas and `emulator.requests` apply); `request_counts`
grow as they are answered. The output and error files are written when the job ends: on completion
both exist, an empty file when no line went there (Azure: "Successful jobs will still generate an
error_file_id, but it will be associated with an empty file with zero bytes").

A job whose validation + processing would end after `expires_at` (created + 24 h) turns `expired` once
the clock passes it: the lines due by then are answered, the rest go to the error file as
`batch_expired`. `cancel` sets `cancelling`, then `cancelled` after `cancel_seconds`; lines not answered
by the cancel are not run, those answered are in the output and error files (Azure: "partial results
(if any) available in the output file").

Enqueued tokens: a batch deployment's `Deployment.enqueued_tokens` limits the tokens of its unfinished
jobs (validating, in_progress, finalizing, cancelling), counted as `_batch_validation.line_tokens` says.
Jobs are validated in the order they were created; a job whose tokens would take its deployment over
the limit fails validation with `token_limit_exceeded`. With `BatchStore.fail_fast` (Azure's behaviour in
some regions) the check is made by `create` itself, which then answers 400 with the errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _body as body_limits
from . import _wire as wire
from ._batch_runner import LineRunner, error_row
from ._batch_validation import (
    MAX_TASKS,
    file_deployment,
    lines_tokens,
    model_not_found,
    token_limit_exceeded,
    validate_lines,
)
from ._files import FileStore, admit, expiry_seconds, file_not_found, list_body

if TYPE_CHECKING:
    from ._app import EmulatorApp
    from ._quota import Clock

__all__ = ["MAX_TASKS", "BatchJob", "BatchStore", "batch_routes", "validate_lines"]

JSON = dict[str, Any]
ENDPOINTS = ("/chat/completions", "/v1/chat/completions", "/v1/responses")
COMPLETION_WINDOW_SECONDS = 24 * 3600
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


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
    output_expires_after: int | None = None
    status: str = "validating"
    stamps: dict[str, int | None] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[JSON] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    lines: list[JSON] = field(default_factory=list)
    deployment: str | None = None  # the deployment its lines name, once known
    tokens: int | None = None  # the tokens it enqueues, once measured
    answered: int = 0  # lines answered so far (in order)
    outputs: list[bytes] = field(default_factory=list)
    failures: list[bytes] = field(default_factory=list)
    cancel_requested: float | None = None
    running: bool = False
    validated: bool = False  # passed validation (its lines are kept until it ends)

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


def batch_rejected(errors: list[JSON]) -> wire.AzureError:
    """`batches.create` refusing a job at once (fail fast): a 400 whose body is the errors list, the
    shape seen from Azure for a `model_not_found` at create time."""
    return wire.AzureError(400, {"errors": {"object": "list", "data": errors}})


class BatchStore:
    """The emulator's batch jobs. Timings are seconds on the emulator's clock (see the module's docs).

    `fail_fast`: check the deployment and the enqueued-token limit in `create` (a 400), as Azure does in
    the regions its how-to lists, instead of failing the job's validation."""

    def __init__(self, files: FileStore, clock: Callable[[], Clock]) -> None:
        self.files = files
        self._clock = clock
        self.validation_seconds = 0.0
        self.processing_seconds = 0.0
        self.finalizing_seconds = 0.0
        self.cancel_seconds = 0.0
        self.max_tasks = MAX_TASKS
        self.fail_fast = False
        self.jobs: dict[str, BatchJob] = {}

    @property
    def clock(self) -> Clock:
        return self._clock()

    def _unix(self, at: float) -> int:
        return self.files.now_unix() - int(self.clock.now() - at)

    def create(
        self,
        file_id: str,
        endpoint: str,
        window: str,
        metadata: Any,
        api_version: str | None,
        *,
        output_expires_after: int | None = None,
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
            output_expires_after=output_expires_after,
        )
        self.jobs[job.id] = job
        return job

    def clear(self) -> None:
        self.jobs.clear()

    # --- enqueued tokens --------------------------------------------------------------------------

    def _measure(self, app: EmulatorApp, job: BatchJob, deployment: str) -> int:
        """The tokens `job` holds on `deployment` (0 when its lines name another deployment). A job not
        validated (yet) is measured from its file."""
        if job.deployment is not None and job.deployment != deployment:
            return 0
        if job.tokens is not None:
            return job.tokens
        lines = job.lines
        if not job.validated:
            stored = self.files.get(job.input_file_id)
            job.deployment, lines = file_deployment(stored.data if stored is not None else b"")
            if job.deployment != deployment:
                return 0
        target = app.emulator.deployments.get(deployment)
        job.tokens = lines_tokens(lines, target) if target is not None else 0
        return job.tokens

    async def held(self, app: EmulatorApp, deployment: str, *, before: BatchJob | None = None) -> int:
        """The tokens the unfinished jobs ahead of `before` (all jobs: None) hold on `deployment`, once
        each is brought up to the clock's time."""
        total = 0
        for other in list(self.jobs.values()):
            if other is before:
                break  # the jobs created after it are behind it in the queue
            await self.refresh(app, other)
            if other.status not in _TERMINAL:
                total += self._measure(app, other, deployment)
        return total

    async def check_create(self, app: EmulatorApp, data: bytes) -> None:
        """Fail fast: `create`'s 400 for a file naming no deployment, or one over its token limit."""
        name, lines = file_deployment(data)
        if name is None:
            return  # validation will say what is wrong with the file
        deployments = app.emulator.deployments
        deployment = deployments.get(name)
        if deployment is None:
            raise batch_rejected([model_not_found(name, deployments.values())])
        limit = deployment.enqueued_tokens
        if limit is not None and await self.held(app, name) + lines_tokens(lines, deployment) > limit:
            raise batch_rejected([token_limit_exceeded(limit, name)])

    # --- the job's life ---------------------------------------------------------------------------

    async def refresh(self, app: EmulatorApp, job: BatchJob) -> None:
        """Move `job` to where the clock says it is now (answering the lines due by then)."""
        if job.status in _TERMINAL or job.running:
            return
        job.running = True
        try:
            await self._advance(app, job)
        finally:
            job.running = False

    async def _advance(self, app: EmulatorApp, job: BatchJob) -> None:
        now = self.clock.now()
        if job.status == "cancelling":
            assert job.cancel_requested is not None
            at = job.cancel_requested + self.cancel_seconds
            if now >= at:
                job.status = "cancelled"
                job.stamps["cancelled_at"] = self._unix(at)
                if job.validated:
                    self._write_results(job)
            return
        validated = job.created + self.validation_seconds
        if job.status == "validating":
            if now < validated:
                return
            await self._validate(app, job)
            if job.status == "failed":
                job.stamps["failed_at"] = self._unix(validated)
                return
            job.status = "in_progress"
            job.stamps["in_progress_at"] = self._unix(validated)
        done = validated + self.processing_seconds
        if job.status == "in_progress":
            deadline = job.created + COMPLETION_WINDOW_SECONDS
            due = self._due(job, validated, min(now, deadline))
            if due > job.answered:
                await self._run(app, job, due)
            if job.status != "in_progress":  # cancelled while its lines were answered
                return
            if job.answered < len(job.lines):
                if now >= deadline and done > deadline:
                    self._expire(job)
                return
            job.status = "finalizing"
            job.stamps["finalizing_at"] = self._unix(done)
        finished = done + self.finalizing_seconds
        if job.status == "finalizing" and now >= finished:
            job.status = "completed"
            job.stamps["completed_at"] = self._unix(finished)
            self._write_results(job)

    async def _validate(self, app: EmulatorApp, job: BatchJob) -> None:
        """Validation (failing the job with Azure's errors), then the deployment's enqueued-token limit."""
        stored = self.files.get(job.input_file_id)
        deployments = app.emulator.deployments
        lines, errors = validate_lines(
            stored.data if stored is not None else b"", job.endpoint, self.max_tasks, deployments
        )
        if not errors:
            name = str(lines[0]["body"]["model"])
            deployment = deployments[name]
            job.deployment = name
            job.tokens = None
            limit = deployment.enqueued_tokens
            if limit is not None:
                held = await self.held(app, name, before=job)
                job.tokens = lines_tokens(lines, deployment)
                if held + job.tokens > limit:
                    errors = [token_limit_exceeded(limit, name)]
        if errors:
            job.status, job.errors = "failed", errors
            return
        job.lines, job.validated = lines, True
        job.counts["total"] = len(lines)

    def _due(self, job: BatchJob, validated: float, at: float) -> int:
        """How many of the job's lines are due by `at` (spread evenly over `processing_seconds`)."""
        total = len(job.lines)
        if self.processing_seconds <= 0 or at >= validated + self.processing_seconds:
            return total
        if at <= validated:
            return 0
        return min(total, int(total * (at - validated) / self.processing_seconds))

    async def _run(self, app: EmulatorApp, job: BatchJob, upto: int) -> None:
        runner = LineRunner(app, job.api_version)
        while job.answered < upto and job.cancel_requested is None:
            status, row = await runner.answer(job.lines[job.answered])
            job.answered += 1
            if status == 200:
                job.outputs.append(row)
                job.counts["completed"] += 1
            else:
                job.failures.append(row)
                job.counts["failed"] += 1

    def _expire(self, job: BatchJob) -> None:
        job.status = "expired"
        job.stamps["expired_at"] = job.expires_at
        job.failures.extend(
            error_row(line["custom_id"], "batch_expired", _EXPIRED_MESSAGE)
            for line in job.lines[job.answered :]
        )
        self._write_results(job)

    def _write_results(self, job: BatchJob) -> None:
        """The output and error files (either may be empty), once the job ends."""
        job.output_file_id = self._write(job, job.outputs, "output")
        job.error_file_id = self._write(job, job.failures, "errors")
        job.outputs, job.failures, job.lines = [], [], []  # the files hold them now

    def _write(self, job: BatchJob, rows: list[bytes], kind: str) -> str:
        stored = self.files.add(
            b"".join(rows),
            filename=f"{job.id}_{kind}.jsonl",
            purpose="batch_output",
            file_id=f"file-{uuid.uuid4()}",
            expires_after=job.output_expires_after,
        )
        return stored.id


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
            output_expiry = body.get("output_expires_after")
            seconds: int | None = None
            if output_expiry is not None:
                if not isinstance(output_expiry, dict):
                    raise wire.invalid_type("output_expires_after", "an object", output_expiry)
                seconds = expiry_seconds(
                    output_expiry.get("seconds"), output_expiry.get("anchor"), "output_expires_after"
                )
            stored = store.files.get(file_id)
            if stored is None:
                raise file_not_found(file_id)
            if store.fail_fast:
                await store.check_create(app, stored.data)
            job = store.create(
                file_id,
                endpoint,
                window,
                body.get("metadata"),
                call.api_version,
                output_expires_after=seconds,
            )
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
