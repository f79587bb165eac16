"""The data-plane api-versions Azure OpenAI accepts, and what each one knows.

Azure rejects an api-version it does not serve with a 400, and a request argument newer than the
api-version with a 404 "Unrecognized request argument supplied". The dates below come from Azure's
api-version lifecycle page and the inference REST reference.
"""

from __future__ import annotations

GA_VERSIONS = (
    "2022-12-01",
    "2023-05-15",
    "2024-02-01",
    "2024-06-01",
    "2024-10-21",
)
PREVIEW_VERSIONS = (
    "2023-03-15-preview",
    "2023-06-01-preview",
    "2023-07-01-preview",
    "2023-08-01-preview",
    "2023-09-01-preview",
    "2023-12-01-preview",
    "2024-02-15-preview",
    "2024-03-01-preview",
    "2024-04-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
)
SUPPORTED_VERSIONS = frozenset(GA_VERSIONS + PREVIEW_VERSIONS)
LATEST_GA = GA_VERSIONS[-1]
LATEST_PREVIEW = PREVIEW_VERSIONS[-1]

# The `v1` routes (/openai/v1/...) take no dated api-version; these values are also accepted there.
V1_VERSIONS = frozenset({"v1", "preview", "latest"})

# The first api-version that knows a chat request argument (or `response_format` type).
ARGUMENT_SINCE = {
    "functions": "2023-07-01-preview",
    "function_call": "2023-07-01-preview",
    "tools": "2023-12-01-preview",
    "tool_choice": "2023-12-01-preview",
    "response_format": "2023-12-01-preview",
    "seed": "2023-12-01-preview",
    "logprobs": "2023-12-01-preview",
    "top_logprobs": "2023-12-01-preview",
    # api-version-lifecycle.md, "Changes between 2024-09-01-preview and 2024-08-01-preview"
    "parallel_tool_calls": "2024-09-01-preview",
    "stream_options": "2024-09-01-preview",
    "max_completion_tokens": "2024-09-01-preview",
}
JSON_SCHEMA_SINCE = "2024-08-01-preview"


def _date(version: str) -> str:
    return version[:10]


def at_least(version: str, since: str) -> bool:
    """Whether `version` is `since` or later (GA 2024-10-21 has every preview feature up to 2024-10-01)."""
    if version in V1_VERSIONS:
        return True
    if _date(version) != _date(since):
        return _date(version) > _date(since)
    # Same date: a GA release includes its own date's preview features.
    return True
