"""A batch job's calls, written once and performed by a sync or an async driver.

The job's lifecycle (`_job`) is a generator that yields the operations below and receives their
results; it never calls the SDK itself. `drive_sync` performs them with `OpenAI` / `AzureOpenAI`,
`drive_async` with `AsyncOpenAI` / `AsyncAzureOpenAI`: the same steps, the same manifest, the same
errors either way (as `_run` does for one `create` call).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI, OpenAI

from .._errors import ConfigurationError
from ..pipeline._engine import _wrap


@dataclass(frozen=True, slots=True)
class Upload:
    """`files.create(purpose="batch")` of a request file (`expires_after` seconds, when set)."""

    path: str
    expires_after: int | None


@dataclass(frozen=True, slots=True)
class Create:
    """`batches.create` over an uploaded file."""

    file_id: str
    endpoint: str
    metadata: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class Retrieve:
    batch_id: str


@dataclass(frozen=True, slots=True)
class Cancel:
    batch_id: str


@dataclass(frozen=True, slots=True)
class Download:
    """A result file streamed to `path` (through a temporary name: a cut download is never taken
    for a whole one)."""

    file_id: str
    path: str


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Op = Upload | Create | Retrieve | Cancel | Download | Sleep
Protocol = Generator[Op, Any, Any]
SleepFn = Callable[[float], Any]


def raw_client(client: Any) -> OpenAI | AsyncOpenAI:
    """The SDK client under `client` (an instructor_az client or the SDK's own)."""
    raw = _wrap(client).client
    if not isinstance(raw, (OpenAI, AsyncOpenAI)):
        raise ConfigurationError(
            f"a batch job needs an openai client (AzureOpenAI, AsyncAzureOpenAI, or from_openai(...) of one), "
            f"got {type(raw).__name__}"
        )
    return raw


def sync_client(client: Any) -> OpenAI:
    raw = raw_client(client)
    if not isinstance(raw, OpenAI):
        raise ConfigurationError(
            "this is the sync form: pass AzureOpenAI (or from_openai(AzureOpenAI(...))), or call the "
            "async form (the method's `a`-prefixed twin) with an async client"
        )
    return raw


def async_client(client: Any) -> AsyncOpenAI:
    raw = raw_client(client)
    if not isinstance(raw, AsyncOpenAI):
        raise ConfigurationError(
            "this is the async form: pass AsyncAzureOpenAI (or from_openai(AsyncAzureOpenAI(...))), or "
            "call the sync form with a sync client"
        )
    return raw


def on_azure(raw: OpenAI | AsyncOpenAI) -> bool:
    """An Azure client: `AzureOpenAI` (dated api-versions) or an `OpenAI` on Azure's `/openai/v1/`."""
    from openai import AsyncAzureOpenAI, AzureOpenAI

    return isinstance(raw, (AzureOpenAI, AsyncAzureOpenAI)) or "/openai/v1" in str(raw.base_url)


def line_url(client: Any) -> str:
    """The `url` of a request line: `/v1/responses` for the Responses API (`client.responses`, or a
    Responses mode); for chat completions `/chat/completions` on the dated Azure API,
    `/v1/chat/completions` on the v1 API (Azure's `/openai/v1/` or OpenAI's own)."""
    from openai import AsyncAzureOpenAI, AzureOpenAI

    from ._lines import RESPONSES_URL, is_responses

    if is_responses(client):
        return RESPONSES_URL
    raw = raw_client(client)
    return "/chat/completions" if isinstance(raw, (AzureOpenAI, AsyncAzureOpenAI)) else "/v1/chat/completions"


def create_endpoint(client: Any) -> str:
    """`batches.create`'s `endpoint`: Azure takes `/chat/completions` on both APIs and for Responses lines
    too (it reads which API from the file's lines); OpenAI the lines' own `/v1` form."""
    from ._lines import RESPONSES_URL, is_responses

    if on_azure(raw_client(client)):
        return "/chat/completions"
    return RESPONSES_URL if is_responses(client) else "/v1/chat/completions"


def _upload_kwargs(op: Upload) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"purpose": "batch"}
    if op.expires_after is not None:
        kwargs["expires_after"] = {"anchor": "created_at", "seconds": op.expires_after}
    return kwargs


def _create_kwargs(op: Create) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "input_file_id": op.file_id,
        "endpoint": op.endpoint,
        "completion_window": "24h",
    }
    if op.metadata:
        kwargs["metadata"] = op.metadata
    return kwargs


def _partial(path: str) -> Path:
    return Path(path).with_name(Path(path).name + ".part")


def drive_sync(protocol: Protocol, raw: OpenAI, sleep: SleepFn) -> Any:
    """Perform the protocol's operations with a sync client; its return value."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = protocol.throw(error) if error is not None else protocol.send(result)
        except StopIteration as stop:
            return stop.value
        result, error = None, None
        try:
            if isinstance(op, Upload):
                result = raw.files.create(file=Path(op.path), **_upload_kwargs(op))
            elif isinstance(op, Create):
                result = raw.batches.create(**_create_kwargs(op))
            elif isinstance(op, Retrieve):
                result = raw.batches.retrieve(op.batch_id)
            elif isinstance(op, Cancel):
                result = raw.batches.cancel(op.batch_id)
            elif isinstance(op, Download):
                partial = _partial(op.path)
                with raw.files.with_streaming_response.content(op.file_id) as response:
                    response.stream_to_file(partial)
                os.replace(partial, op.path)
            else:
                slept = sleep(op.seconds)
                if inspect.isawaitable(slept):
                    raise ConfigurationError("an async sleep= was given to the sync form")
        except Exception as exc:
            error = exc


async def drive_async(protocol: Protocol, raw: AsyncOpenAI, sleep: SleepFn | None) -> Any:
    """The same operations with an async client (`sleep` may be sync or async; default asyncio's)."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = protocol.throw(error) if error is not None else protocol.send(result)
        except StopIteration as stop:
            return stop.value
        result, error = None, None
        try:
            if isinstance(op, Upload):
                result = await raw.files.create(file=Path(op.path), **_upload_kwargs(op))
            elif isinstance(op, Create):
                result = await raw.batches.create(**_create_kwargs(op))
            elif isinstance(op, Retrieve):
                result = await raw.batches.retrieve(op.batch_id)
            elif isinstance(op, Cancel):
                result = await raw.batches.cancel(op.batch_id)
            elif isinstance(op, Download):
                partial = _partial(op.path)
                async with raw.files.with_streaming_response.content(op.file_id) as response:
                    await response.stream_to_file(partial)
                os.replace(partial, op.path)
            else:
                slept = (sleep or asyncio.sleep)(op.seconds)
                if inspect.isawaitable(slept):
                    await slept
        except Exception as exc:
            error = exc
