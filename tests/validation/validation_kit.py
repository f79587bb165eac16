"""Helpers shared by the validation suite (imported by its tests and its conftest)."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az import Usage
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator
from instructor_az.testing import TEST_API_KEY


class Wire:
    """Every non-streamed JSON body the emulator sent back, in order, read with httpx event hooks.

    This is the emulator's own account (ids, usage, tool call ids), independent of what the library
    under test reports.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def _keep(self, response: httpx2.Response) -> None:
        if response.headers.get("content-type", "").startswith("application/json"):
            self.bodies.append(json.loads(response.content))

    def _on_response(self, response: httpx2.Response) -> None:
        response.read()
        self._keep(response)

    async def _on_response_async(self, response: httpx2.Response) -> None:
        await response.aread()
        self._keep(response)

    @property
    def completions(self) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b.get("object") == "chat.completion"]

    def usages(self) -> list[Usage]:
        return [
            Usage(u["prompt_tokens"], u["completion_tokens"], u["total_tokens"])
            for u in (b["usage"] for b in self.completions)
        ]

    def total(self) -> Usage:
        return sum(self.usages(), Usage())

    def sync_client(self, emulator: Emulator, **kwargs: Any) -> AzureOpenAI:
        http = emulator.http_client()
        http.event_hooks = {"response": [self._on_response]}
        kwargs.setdefault("api_key", TEST_API_KEY)
        kwargs.setdefault("max_retries", 0)
        return AzureOpenAI(azure_endpoint=DEFAULT_ENDPOINT, api_version=LATEST_GA, http_client=http, **kwargs)

    def async_client(self, emulator: Emulator, **kwargs: Any) -> AsyncAzureOpenAI:
        http = emulator.async_http_client()
        http.event_hooks = {"response": [self._on_response_async]}
        kwargs.setdefault("api_key", TEST_API_KEY)
        kwargs.setdefault("max_retries", 0)
        return AsyncAzureOpenAI(
            azure_endpoint=DEFAULT_ENDPOINT, api_version=LATEST_GA, http_client=http, **kwargs
        )


async def resolve(result: Any) -> Any:
    """The value of a sync call, or of an awaited async one."""
    return await result if inspect.isawaitable(result) else result


async def collect(stream: Iterator[Any] | AsyncIterator[Any]) -> list[Any]:
    """Every item of a sync or async stream."""
    if isinstance(stream, Iterator):
        return list(stream)
    return [item async for item in stream]
