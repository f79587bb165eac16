"""Azure OpenAI's wire format: error bodies, content-filter annotations, ids and token counts.

Every body here is modelled on Azure's REST reference and on bodies captured from the real service
(see docs/emulator.md for the sources); none is shaped after this project's own code.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from ._api_versions import LATEST_GA

JSON = dict[str, Any]

# Severity levels Azure reports for the four harm categories; "safe" means not detected.
HARM_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
# Binary detectors reported with {"filtered", "detected"} instead of a severity.
PROMPT_DETECTORS = ("jailbreak",)
COMPLETION_DETECTORS = ("protected_material_code", "protected_material_text")
ALL_CATEGORIES = HARM_CATEGORIES + PROMPT_DETECTORS + COMPLETION_DETECTORS + ("indirect_attack", "profanity")
SEVERITIES = ("safe", "low", "medium", "high")

_ALPHABET = string.ascii_letters + string.digits


def random_id(prefix: str, length: int = 29) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def request_id() -> str:
    """Azure's request ids are GUIDs (the SDK reads `x-request-id` into `_request_id`)."""
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- content filter annotations -------------------------------------------------------------------


def category_result(category: str, *, filtered: bool = False, severity: str = "safe") -> JSON:
    if (
        category in PROMPT_DETECTORS
        or category in COMPLETION_DETECTORS
        or category
        in (
            "indirect_attack",
            "profanity",
        )
    ):
        return {"filtered": filtered, "detected": filtered or severity != "safe"}
    return {"filtered": filtered, "severity": severity}


def prompt_filter_results(
    prompt_count: int = 1, flagged: dict[str, str] | None = None, *, jailbreak: bool = True
) -> list[JSON]:
    """`prompt_filter_results` as Azure sends it: one entry per prompt, harm categories + jailbreak."""
    flagged = flagged or {}
    results: list[JSON] = []
    names = ("hate", "jailbreak", "self_harm", "sexual", "violence") if jailbreak else HARM_CATEGORIES
    for index in range(max(prompt_count, 1)):
        categories: JSON = {}
        for name in names:
            severity = flagged.get(name, "safe")
            categories[name] = category_result(name, filtered=name in flagged, severity=severity)
        results.append({"prompt_index": index, "content_filter_results": categories})
    return results


def completion_filter_results(
    flagged: dict[str, str] | None = None, *, protected_material: bool = True
) -> JSON:
    """Per-choice `content_filter_results`: harm categories, plus protected material on newer api-versions."""
    flagged = flagged or {}
    out: JSON = {}
    for name in HARM_CATEGORIES:
        out[name] = category_result(name, filtered=name in flagged, severity=flagged.get(name, "safe"))
    if protected_material:
        for name in COMPLETION_DETECTORS:
            out[name] = category_result(name, filtered=name in flagged, severity=flagged.get(name, "safe"))
    return out


# --- error bodies ---------------------------------------------------------------------------------


class AzureError(Exception):
    """An error response the emulator sends, with Azure's status, body and headers."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def resource_not_found() -> AzureError:
    # Wrong path, or a deployments route without `api-version`.
    return AzureError(404, {"error": {"code": "404", "message": "Resource not found"}})


def api_version_not_supported() -> AzureError:
    return AzureError(400, {"error": {"code": "BadRequest", "message": "API version not supported"}})


def unauthorized_key() -> AzureError:
    return AzureError(
        401,
        {
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                "provide a valid key for an active subscription and use a correct regional API endpoint "
                "for your resource.",
            }
        },
    )


def unauthorized_token() -> AzureError:
    """A bearer token Azure OpenAI turns down (missing, not Entra's, wrong audience, expired, other tenant).

    This 401 is not in the `{"error": ...}` envelope: Azure's gateway answers it as
    `{"statusCode": 401, "message": ...}`, as captured in public reports (Azure-Samples/azure-search-openai-demo
    #458, run-llama/llama_index #12484, langchain-ai/langchain #17373); the SDK's `AuthenticationError.body`
    is that object. The message names the audience the resource expects, whatever was wrong."""
    return AzureError(
        401,
        {
            "statusCode": 401,
            "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
            "(https://cognitiveservices.azure.com), or have expired.",
        },
    )


def deployment_not_found() -> AzureError:
    return AzureError(
        404,
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you created the deployment "
                "within the last 5 minutes, please wait a moment and try again.",
            }
        },
    )


def operation_not_supported(operation: str, model: str) -> AzureError:
    return AzureError(
        400,
        {
            "error": {
                "code": "OperationNotSupported",
                "message": f"The {operation} operation does not work with the specified model, {model}. Please "
                "choose different model and try again. You can learn more about which models can be used "
                "with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
            }
        },
    )


def model_needs_newer_api_version(model: str, since: str) -> AzureError:
    return AzureError(
        400,
        {
            "error": {
                "code": "BadRequest",
                "message": f"Model {model} is enabled only for api versions {since} and later",
            }
        },
    )


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> AzureError:
    return AzureError(
        status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    )


def unrecognized_argument(name: str) -> AzureError:
    # Azure answers an argument its api-version does not know with a 404 (seen in real reports).
    return invalid_request(f"Unrecognized request argument supplied: {name}", status=404)


def malformed_json() -> AzureError:
    return invalid_request(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
    )


def missing_parameter(name: str) -> AzureError:
    return invalid_request(
        f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "an unknown type")


def invalid_type(param: str, expected: str, value: Any) -> AzureError:
    return invalid_request(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, message: str) -> AzureError:
    return invalid_request(message, param=param, code="invalid_value")


def prompt_filtered(flagged: dict[str, str], *, api_version: str | None = None) -> AzureError:
    results: JSON = {}
    for name in ("hate", "jailbreak", "self_harm", "sexual", "violence"):
        results[name] = category_result(name, filtered=name in flagged, severity=flagged.get(name, "safe"))
    for name, severity in flagged.items():
        if name not in results:
            results[name] = category_result(name, filtered=True, severity=severity)
    return AzureError(
        400,
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                "management policy. Please modify your prompt and retry. To learn more about our content "
                "filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
            }
        },
    )


def rate_limited(
    *,
    retry_after_ms: int,
    operation: str,
    api_version: str | None,
    limit: str = "token",
    remaining: tuple[int, int] = (0, 0),
) -> AzureError:
    """Azure's 429: `limit` is "token" (TPM) or "call" (RPM), as Azure's message words it."""
    seconds = max(1, -(-retry_after_ms // 1000))
    return AzureError(
        429,
        {
            "error": {
                "code": "429",
                "message": f"Requests to the {operation} Operation under Azure OpenAI API version "
                f"{api_version or LATEST_GA} have exceeded {limit} rate limit of your current OpenAI S0 pricing "
                f"tier. Please retry after {seconds} second{'s' if seconds != 1 else ''}. Please go here: "
                "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
            }
        },
        {
            "retry-after-ms": str(retry_after_ms),
            "retry-after": str(seconds),
            "x-ratelimit-remaining-requests": str(remaining[0]),
            "x-ratelimit-remaining-tokens": str(remaining[1]),
        },
    )


def server_error(status: int, *, retry_after_ms: int | None = None) -> AzureError:
    headers = {}
    if retry_after_ms is not None:
        headers = {
            "retry-after-ms": str(retry_after_ms),
            "retry-after": str(max(1, -(-retry_after_ms // 1000))),
        }
    if status == 503:
        body: JSON = {
            "error": {
                "code": "ServiceUnavailable",
                "message": "The service is temporarily unable to process your request. Please try again later.",
            }
        }
    elif status == 500:
        body = {
            "error": {
                "message": "The server had an error processing your request. Sorry about that! You can retry "
                "your request, or contact us through an Azure support request at: "
                "https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    else:
        body = {"error": {"code": str(status), "message": "The server encountered an error."}}
    return AzureError(status, body, headers)


# --- token counts ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """An approximate BPE count: a word or a punctuation mark is one token; long words count extra."""
    total = 0
    for match in _TOKEN.finditer(text):
        total += 1 + len(match.group()) // 8
    return total
