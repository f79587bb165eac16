"""Provisioned (PTU) spillover, as Azure documents it (MicrosoftDocs/azure-ai-docs,
articles/foundry/openai/how-to/spillover-traffic-management.md; the facts are in ../shared/azure-facts.md):

- A provisioned deployment spills over to the standard deployment named by its `spilloverDeploymentName`
  property (`Deployment.spillover_deployment_name`) or, per request, by the `x-ms-spillover-deployment`
  request header; when both are set the deployment's property wins.
- Spillover starts when the provisioned deployment would answer 429 (its PTUs used up: here its quota's
  429, an injected or header `rate_limit`), 500 or 503 (an injected or header `server_error`, an outage
  of that deployment), or the 400 of a long-context request (`Deployment.max_context_tokens`). Other
  answers, such as a 400 for a bad body or a 502, are sent as they are.
- The request is then served by the standard deployment, charged to its quota, and the response says so:
  `x-ms-spillover-from-deployment: <provisioned deployment>`, `x-ms-deployment-name: <standard
  deployment>` (and `x-ms-is-spilled-over: true`).
- When the standard deployment fails too, for any reason, the answer is the provisioned deployment's
  original response with `x-ms-spillover-error: <the standard deployment's status>`.

Not documented by Microsoft, and the emulator's choice: a spillover target that does not exist fails the
spillover with 404 (what a request to it gets), one that is not an eligible standard deployment (type,
data processing level, model and version: `spillover_problem`) with 400; the header is ignored on a
deployment that is not provisioned; streamed requests spill over like others (the decision is made
before the first byte); a dropped connection or a timeout is not a status and does not spill over.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from . import _quota as quota
from . import _wire as wire
from ._call import SPILLOVER_ERROR, Call
from ._deployments import spillover_problem

if TYPE_CHECKING:
    from ._emulator import Emulator

log = logging.getLogger("instructor_az.emulator")

#: The request header naming a standard deployment to spill over to (Azure's name).
SPILLOVER_HEADER = "x-ms-spillover-deployment"
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
#: The statuses that start spillover (plus the long-context 400).
SPILLOVER_STATUSES = frozenset({429, 500, 503})

_T = TypeVar("_T")


def target_name(call: Call) -> str | None:
    """The standard deployment this request may spill over to (None: it does not spill over)."""
    deployment = call.deployment
    if deployment is None or not deployment.is_provisioned or call.spilled_from is not None:
        return None
    if deployment.spillover_deployment_name:
        return deployment.spillover_deployment_name  # the deployment's property wins over the header
    header = (call.request.headers.get(SPILLOVER_HEADER) or "").strip()
    return header or None


def triggers(error: wire.AzureError) -> bool:
    """Whether the provisioned deployment's `error` starts spillover."""
    if error.status in SPILLOVER_STATUSES:
        return True
    inner = error.body.get("error") if isinstance(error.body, dict) else None
    return error.status == 400 and isinstance(inner, dict) and inner.get("code") == CONTEXT_LENGTH_EXCEEDED


async def serve(emulator: Emulator, call: Call, attempt: Callable[[Call], Awaitable[_T]]) -> _T:
    """`attempt(call)`, and when the provisioned deployment's answer starts spillover, `attempt` again on
    the standard deployment; when that fails too, the provisioned deployment's error with
    `x-ms-spillover-error`."""
    try:
        return await attempt(call)
    except wire.AzureError as error:
        name = target_name(call)
        if name is None or not triggers(error):
            raise
        assert call.deployment is not None
        target = emulator.deployments.get(name)
        status: int
        if target is None:
            status = 404
            log.debug("spillover from %s: no deployment %r", call.deployment.name, name)
        elif (problem := spillover_problem(call.deployment, target)) is not None:
            status = 400
            log.debug("spillover from %s to %s refused: %s", call.deployment.name, name, problem)
        else:
            try:
                return await attempt(call.spill_to(target))
            except wire.AzureError as failed:
                status = failed.status
        error.headers[SPILLOVER_ERROR] = str(status)
        call.spillover_error = status
        raise error from None


def check_context(call: Call) -> None:
    """A chat or completions prompt longer than the deployment's `max_context_tokens`: the 400
    `context_length_exceeded` (OpenAI's wording), which Azure's PTU deployments answer for long contexts."""
    deployment = call.deployment
    if deployment is None or deployment.max_context_tokens is None:
        return
    if call.operation not in ("chat", "completions"):
        return
    prompt, _ = quota.estimate(call.operation, call.body, deployment.name, deployment.model)
    limit = deployment.max_context_tokens
    if prompt > limit:
        raise wire.invalid_request(
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
            f"{prompt} tokens. Please reduce the length of the messages.",
            param="messages",
            code=CONTEXT_LENGTH_EXCEEDED,
        )
