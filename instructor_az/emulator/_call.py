"""One data-plane request on its way through the app (`Call`), and how its answer is framed: the headers
every response carries, Azure's JSON error and success bodies, and the record kept of it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from . import _quota as quota
from . import _wire as wire
from ._deployments import Deployment
from ._faults import Fault
from ._records import REDACTED, RecordedRequest, redact_headers

if TYPE_CHECKING:
    from ._emulator import Emulator
    from ._media import Form
    from ._outage import Outage

log = logging.getLogger("instructor_az.emulator")

_SECRET_QUERY = frozenset({"api-key", "subscription-key"})

#: Response headers Azure sends with every deployment's answer (see ../shared/azure-facts.md).
DEPLOYMENT_NAME = "x-ms-deployment-name"
IS_SPILLED_OVER = "x-ms-is-spilled-over"
SPILLOVER_FROM = "x-ms-spillover-from-deployment"
SPILLOVER_ERROR = "x-ms-spillover-error"


@dataclass
class Call:
    """A request being answered. `deployment` is the one answering it: for a request that spilled over
    (`spilled_from`, the provisioned deployment it was sent to), the standard deployment."""

    request: Request
    operation: str
    api_version: str | None = None
    deployment: Deployment | None = None
    body: Any = None
    auth: str | None = None
    faults: list[Fault] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    quota: quota.Admission | None = None
    form: Form | None = None
    outage: Outage | None = None  #: the outage that failed it, if one did
    spilled_from: str | None = None
    spillover_error: int | None = None  #: the status of a spillover that failed (the answer is the PTU's)
    prior_faults: tuple[Fault, ...] = ()  #: faults the provisioned deployment met before spilling over

    def spill_to(self, deployment: Deployment) -> Call:
        """The same request, sent on to `deployment` by spillover."""
        assert self.deployment is not None
        return Call(
            self.request,
            self.operation,
            api_version=self.api_version,
            deployment=deployment,
            body=self.body,
            auth=self.auth,
            form=self.form,
            spilled_from=self.deployment.name,
            prior_faults=tuple(self.faults),
        )


class NoAnswer(Exception):
    """The request ends without any response (an outage's dropped connection or timeout): `response` is
    the ASGI callable that closes the connection, `call` the request it ends."""

    def __init__(self, response: ASGIApp, call: Call) -> None:
        super().__init__("the connection closes without a response")
        self.response = response
        self.call = call


def json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def response_headers(emulator: Emulator, call: Call, status: int) -> dict[str, str]:
    """`x-request-id`, `apim-request-id` and `x-ms-region` on every answer; with a deployment, its name
    (`x-ms-deployment-name`), whether it spilled over, and on a success the rate-limit headers."""
    rid = wire.request_id()
    headers = {"x-request-id": rid, "apim-request-id": rid, "x-ms-region": emulator.region}
    deployment = call.deployment
    if deployment is not None:
        headers[DEPLOYMENT_NAME] = deployment.name
        headers[IS_SPILLED_OVER] = "true" if call.spilled_from else "false"
        if call.spilled_from:
            headers[SPILLOVER_FROM] = call.spilled_from
        if status < 400:
            remaining_requests, remaining_tokens = emulator.quotas.remaining(deployment.name)
            headers["x-ratelimit-remaining-requests"] = str(remaining_requests)
            headers["x-ratelimit-remaining-tokens"] = str(remaining_tokens)
    return headers


def stream_headers(emulator: Emulator, call: Call) -> dict[str, str]:
    """Headers of a 200 SSE response (the request is recorded as answered)."""
    headers = response_headers(emulator, call, 200)
    headers["content-type"] = "text/event-stream; charset=utf-8"
    headers["cache-control"] = "no-cache"
    record(emulator, call, 200)
    return headers


def finish(emulator: Emulator, call: Call, result: Any) -> Response:
    """Azure's JSON answer: an `AzureError`'s status, body and headers, or a 200 with `result`."""
    if isinstance(result, wire.AzureError):
        headers = {**response_headers(emulator, call, result.status), **result.headers}
        record(emulator, call, result.status)
        if call.outage is not None:
            emulator._outages.fail(call.outage)
        log.debug(
            "emulator answered %s %s with %s", call.request.method, call.request.url.path, result.status
        )
        return json_response(result.status, result.body, headers)
    record(emulator, call, 200)
    return json_response(200, result, response_headers(emulator, call, 200))


def record(emulator: Emulator, call: Call, status: int) -> None:
    """Keep what was received (credentials redacted); `status` 0: no response was sent."""
    request = call.request
    headers = redact_headers(request.headers)
    query = {k: (REDACTED if k.lower() in _SECRET_QUERY else v) for k, v in request.query_params.items()}
    emulator._record(
        RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=query,
            headers=headers,
            body=call.body,
            deployment=call.deployment.name if call.deployment else None,
            api_version=call.api_version,
            auth=call.auth,
            status=status,
            faults=(*call.prior_faults, *call.faults),
            spillover_from=call.spilled_from,
            spillover_error=call.spillover_error,
        )
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    """An exception nothing else turned into an answer (a bug, or a custom backend failing): Azure's
    500 shape instead of a plain-text page. The traceback goes to the `instructor_az.emulator` logger."""
    log.error("the emulator failed on %s %s", request.method, request.url.path, exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}"
    detail = detail if len(detail) <= 200 else detail[:200] + "..."
    body = {
        "error": {
            "message": f"Emulator: an internal error while answering this request ({detail}). If a custom "
            "Backend raised it, raise BackendError for a 400 instead; otherwise it is a bug in the emulator "
            "(the traceback is logged on the 'instructor_az.emulator' logger).",
            "type": "server_error",
            "param": None,
            "code": "EmulatorInternalError",
        }
    }
    return json_response(500, body, {"x-request-id": wire.request_id()})
