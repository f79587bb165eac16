"""A batch input file's validation, and the tokens a batch job enqueues.

`validate_lines` gives the errors Azure reports in a failed batch's `errors.data`, with Azure's codes
(learn.microsoft.com/azure/ai-foundry/openai/how-to/batch, "Error codes"): `empty_file`,
`too_many_tasks`, `invalid_json_line`, `duplicate_custom_id`, `url_mismatch`, `model_mismatch`,
`model_not_found` (the file's deployment does not exist) and `invalid_request` (a line's schema, or
a deployment whose SKU is not a batch one). The file's deployment is the first line's `body.model`.

Tokens (`line_tokens`): a line enqueues its prompt, estimated as the rate limiter estimates it
(`_quota.estimate`), plus its `max_tokens` / `max_completion_tokens` (times `n`) when it sets one; a
line without a limit enqueues its prompt only (Azure's quota article counts the input file's tokens).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from . import _quota as quota
from . import _wire as wire
from ._deployments import BATCH_SKUS, Deployment

JSON = dict[str, Any]
MAX_TASKS = 100_000
BOM = b"\xef\xbb\xbf"

# Azure's text for a file that starts with a UTF-8 byte-order mark (the batch how-to, "Known issues":
# "A UTF-8-BOM encoded file will currently return the generic error message: ..."). The how-to does
# not give the code that comes with it; the emulator uses model_not_found, the documented code whose
# meaning matches the message (no valid deployment name was found in the file).
BOM_MESSAGE = (
    "Validation failed: A valid model deployment name couldn't be extracted from the input file. Please "
    "ensure that each row in the input file has a valid deployment name specified in the 'model' field, "
    "and that the deployment name is consistent across all rows."
)


def error(code: str, message: str, line: int | None = None, param: str | None = None) -> JSON:
    """One entry of a batch's `errors.data`."""
    return {"code": code, "message": message, "param": param, "line": line}


#: The request a line's `url` names (the `/v1` prefix optional for chat; Azure documents Responses
#: lines as `/v1/responses` only).
LINE_APIS = {"/chat/completions": "chat", "/v1/chat/completions": "chat", "/v1/responses": "responses"}


def line_api(url: str) -> str | None:
    """ "chat" or "responses" for a line's url, None for one Azure's batch does not take."""
    return LINE_APIS.get(url)


def _fits(url: str, endpoint: str, first: str) -> bool:
    """A line's url against the job's endpoint and the file's first line: Azure reads the API from the
    file (its docs pass `endpoint="/chat/completions"` for Responses lines too), so a chat endpoint
    takes either API as long as every line names the same one; `/v1/responses` takes Responses only."""
    api = line_api(url)
    if api is None or api != line_api(first):
        return False
    return api == "responses" or line_api(endpoint) == "chat"


def model_not_found(name: str, deployments: Iterable[Deployment]) -> JSON:
    # Azure's wording, from a failed batch seen in public (a Q&A thread): the file's deployment, then
    # the resource's batch deployments; `line` and `param` were null there.
    valid = ", ".join(sorted(d.name for d in deployments if d.sku in BATCH_SKUS))
    return error(
        "model_not_found",
        f"The provided model deployment '{name}' does not exist in the AOAI resource. Valid deployments "
        f"are '{valid}'. Learn more: https://aka.ms/aoai_batch/errors.",
    )


def not_a_batch_deployment(deployment: Deployment) -> JSON:
    # The code is Azure's ("the deployment SKU is invalid ... the Azure OpenAI deployment SKU is
    # globalbatch for batch API requests"); the wording is the emulator's.
    return error(
        "invalid_request",
        f"The deployment '{deployment.name}' has the SKU '{deployment.sku}'; batch requests need a deployment "
        "of type GlobalBatch or DataZoneBatch.",
        param="body.model",
    )


def short_count(tokens: int) -> str:
    """A limit as Azure's token_limit_exceeded message writes it ("30K" for 30,000)."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if tokens >= size and tokens % size == 0:
            return f"{tokens // size}{suffix}"
    return str(tokens)


def token_limit_exceeded(limit: int, deployment: str) -> JSON:
    # Azure's body, as seen on Microsoft Q&A ("Azure OpenAI Batch API - token_limit_exceeded error
    # despite splitting batches"), which wrote a 30,000 limit as "30K".
    return error(
        "token_limit_exceeded",
        f"The number of enqueued tokens has surpassed the configured limit of {short_count(limit)} for the "
        f"deployment '{deployment}'. Please either increase the limit or try again once the current jobs "
        "have finished.",
    )


def validate_lines(
    data: bytes,
    endpoint: str,
    max_tasks: int = MAX_TASKS,
    deployments: Mapping[str, Deployment] | None = None,
) -> tuple[list[JSON], list[JSON]]:
    """The input file's requests, and the validation errors Azure reports in a failed batch's `errors`.

    With `deployments`, the file's deployment must be one of them and a batch one."""
    if data.startswith(BOM):
        return [], [error("model_not_found", BOM_MESSAGE)]
    rows = [
        (n, text) for n, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1) if text.strip()
    ]
    if not rows:
        return [], [
            error(
                "empty_file",
                "The input file is empty. Please ensure that the batch contains at least one request.",
            )
        ]
    if len(rows) > max_tasks:
        message = f"The input file contains {len(rows)} requests; a batch can contain at most {max_tasks}."
        return [], [error("too_many_tasks", message)]
    lines: list[JSON] = []
    errors: list[JSON] = []
    seen: set[str] = set()
    model: str | None = None
    first_url: str | None = None
    for n, text in rows:
        try:
            line = json.loads(text)
        except (ValueError, RecursionError):
            line = None
        if not isinstance(line, dict):
            errors.append(error("invalid_json_line", f"Line {n} is not a valid JSON object.", n))
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
            errors.append(error("invalid_request", f"Line {n} has no valid '{missing}'.", n, missing))
            continue
        assert isinstance(body, dict)
        if custom_id in seen:
            message = f"The custom_id '{custom_id}' on line {n} is not unique within the batch."
            errors.append(error("duplicate_custom_id", message, n, "custom_id"))
        seen.add(custom_id)
        if first_url is None:
            first_url = url
        if not _fits(url, endpoint, first_url):
            message = f"The url '{url}' on line {n} does not match the batch's endpoint '{endpoint}'."
            errors.append(error("url_mismatch", message, n, "url"))
        if model is None:
            model = body["model"]
        elif body["model"] != model:
            message = f"The model '{body['model']}' on line {n} differs from '{model}' on earlier lines."
            errors.append(error("model_mismatch", message, n, "body.model"))
        lines.append(line)
    if deployments is not None and model is not None:
        deployment = deployments.get(model)
        if deployment is None:
            errors.append(model_not_found(model, deployments.values()))
        elif not deployment.is_batch:
            errors.append(not_a_batch_deployment(deployment))
    return lines, errors


def line_tokens(body: Any, deployment: Deployment) -> int:
    """The tokens one request line enqueues: its prompt, estimated as the rate limiter does. Azure counts
    "the number of tokens in the file" (includes/global-batch-limits.md, "Batch quota"): the input,
    not the answers' limits."""
    if isinstance(body, Mapping) and "input" in body and "messages" not in body:  # a Responses line
        given = [body.get("instructions") or "", body.get("input")]
        return wire.count_tokens(json.dumps(given, ensure_ascii=False, default=str))
    prompt, _ = quota.estimate("chat", body, deployment.name, deployment.model)
    return prompt


def lines_tokens(lines: Iterable[JSON], deployment: Deployment) -> int:
    return sum(line_tokens(line.get("body"), deployment) for line in lines)


def file_deployment(data: bytes) -> tuple[str | None, list[JSON]]:
    """The deployment a file names (its first line's `body.model`) and the lines that parse, leniently:
    for measuring a file that has not been validated (yet)."""
    model: str | None = None
    lines: list[JSON] = []
    for text in data.decode("utf-8", "replace").splitlines():
        try:
            line = json.loads(text)
        except (ValueError, RecursionError):
            continue
        body = line.get("body") if isinstance(line, dict) else None
        if not isinstance(body, dict):
            continue
        if model is None and isinstance(body.get("model"), str):
            model = body["model"]
        lines.append(line)
    return model, lines
