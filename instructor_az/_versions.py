"""What each Azure OpenAI data-plane api-version can do, from Azure's own documents.

Sources (MicrosoftDocs/azure-ai-docs):
- articles/ai-foundry/openai/api-version-lifecycle.md ("Changes between ..." sections): structured
  outputs (`response_format: json_schema`) from 2024-08-01-preview; `parallel_tool_calls`,
  `stream_options.include_usage` and `max_completion_tokens` from 2024-09-01-preview; `store` and
  `reasoning_effort` from 2024-12-01-preview; the Responses API from 2025-03-01-preview; Batch from
  2024-07-01-preview; the latest GA is 2024-10-21; the `v1` API takes no dated version and serves
  the current features.
- the "API preview lifecycle" page (api-version-deprecation.md): function calling added in
  2023-07-01-preview; tools / `tool_choice` and `response_format: json_object` in 2023-12-01-preview
  (GA from 2024-02-01); 2023-03-15-preview, 2023-07-01-preview, 2023-08-01-preview,
  2023-09-01-preview and 2023-12-01-preview retired on 2024-07-01.
- how-to/structured-outputs.md: `strict` function tools need the same versions as json_schema.

A GA version carries the features of the previews before it, so "since" compares dates.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

from ._errors import ConfigurationError
from ._mode import Mode

LATEST_GA = "2024-10-21"
V1 = "v1"
#: Values that name the v1 API (`/openai/v1/`), where no dated api-version is sent.
V1_NAMES = frozenset({"v1", "latest", "preview"})

#: The first api-version that knows each feature.
SINCE = {
    "tools": "2023-12-01-preview",
    "json_object": "2023-12-01-preview",
    "batch": "2024-07-01-preview",
    "json_schema": "2024-08-01-preview",
    "strict_tools": "2024-08-01-preview",
    "parallel_tool_calls": "2024-09-01-preview",
    "stream_include_usage": "2024-09-01-preview",
    "max_completion_tokens": "2024-09-01-preview",
    "store": "2024-12-01-preview",
    "reasoning_effort": "2024-12-01-preview",
    "responses": "2025-03-01-preview",
}
#: Retired preview versions: Azure no longer serves them (the date they stopped).
RETIRED = {
    "2023-03-15-preview": "2024-07-01",
    "2023-07-01-preview": "2024-07-01",
    "2023-08-01-preview": "2024-07-01",
    "2023-09-01-preview": "2024-07-01",
    "2023-12-01-preview": "2024-07-01",
}
#: What each mode needs from the api-version.
MODE_NEEDS = {
    Mode.TOOLS: "tools",
    Mode.PARALLEL_TOOLS: "tools",  # several tool calls need only tools (`parallel_tool_calls` is not sent)
    Mode.TOOLS_STRICT: "strict_tools",
    Mode.JSON: "json_object",
    Mode.JSON_SCHEMA: "json_schema",
    Mode.RESPONSES_TOOLS: "responses",
    Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS: "responses",
    Mode.RESPONSES_JSON_SCHEMA: "responses",
}
_FEATURE_NAMES = {
    "responses": "the Responses API",
    "strict_tools": "strict tools",
    "json_schema": "json_schema",
}
_DATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(-preview)?$")


@functools.lru_cache(maxsize=64)
def _key(version: str) -> tuple[int, int, int, int]:
    match = _DATED.match(version)
    if match is None:
        raise ConfigurationError(
            f"api_version {version!r} is not an Azure OpenAI api-version: use a dated one such as "
            f"{LATEST_GA!r} (or '2025-04-01-preview'), or 'v1' for the v1 API"
        )
    year, month, day, preview = match.groups()
    return int(year), int(month), int(day), 0 if preview else 1


@dataclass(frozen=True)
class Capabilities:
    """What `api_version` serves (`None`: not Azure's dated API, e.g. the v1 API or OpenAI itself)."""

    api_version: str | None

    @property
    def is_v1(self) -> bool:
        return self.api_version is None or self.api_version in V1_NAMES

    def serves(self, feature: str) -> bool:
        if feature not in SINCE:
            raise KeyError(feature)
        if self.is_v1:
            return True
        assert self.api_version is not None
        return _key(self.api_version) >= _key(SINCE[feature])

    @property
    def retired(self) -> str | None:
        """The date Azure stopped serving this version, if it did."""
        return RETIRED.get(self.api_version or "")

    def check_mode(self, mode: Mode) -> None:
        """A `ConfigurationError` before any request when this api-version cannot serve `mode`."""
        feature = MODE_NEEDS.get(mode)
        if feature is None or self.serves(feature):
            return
        since = SINCE[feature]
        # The GA version when it serves the feature; else the first (preview) version that does.
        first = LATEST_GA if _key(LATEST_GA) >= _key(since) else since
        served = f"from {since}" + (f"; GA {LATEST_GA}" if first == LATEST_GA else ", in no dated GA version")
        raise ConfigurationError(
            f"mode {mode.value!r} needs {_FEATURE_NAMES.get(feature, feature.replace('_', ' '))}, which "
            f"api-version {self.api_version} does not serve ({served}): use api_version={first!r} or later, "
            f"'v1', or another mode ({self.suggest()!r} works on this version)"
        )

    def suggest(self) -> str:
        """The best structured-output mode this version serves."""
        if self.serves("json_schema"):
            return Mode.JSON_SCHEMA.value
        if self.serves("tools"):
            return Mode.TOOLS.value
        return Mode.MD_JSON.value

    def auto_mode(self) -> Mode:
        """`Mode.AUTO` on this version: strict json_schema where served, else tools, else fenced JSON."""
        return Mode(self.suggest())

    def warn_if_retired(self) -> None:
        if self.retired:
            warnings.warn(
                f"api-version {self.api_version} was retired by Azure on {self.retired}: requests to it fail; "
                f"use {LATEST_GA!r} or later",
                UserWarning,
                stacklevel=3,
            )


def capabilities_of(client: object) -> Capabilities:
    """The capabilities of an SDK client: its `api-version` (AzureOpenAI), else the v1 API."""
    from openai import AsyncAzureOpenAI, AzureOpenAI

    from .router._client import is_router

    if is_router(client):  # what every one of its targets serves
        routed: Capabilities = client.capabilities  # type: ignore[attr-defined]
        return routed
    if isinstance(client, (AzureOpenAI, AsyncAzureOpenAI)):
        version = getattr(client, "_api_version", None)
        if isinstance(version, str) and _DATED.match(version):
            return Capabilities(version)
    return Capabilities(None)
