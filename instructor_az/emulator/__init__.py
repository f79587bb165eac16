"""An offline Azure OpenAI emulator: Azure's data-plane wire format, served in-process or on loopback.

Needs the `emulator` extra: `pip install "instructor-az[emulator]"`.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "instructor_az.emulator needs the 'emulator' extra: pip install \"instructor-az[emulator]\""
    ) from exc

from ._api_versions import GA_VERSIONS, LATEST_GA, LATEST_PREVIEW, PREVIEW_VERSIONS
from ._app import EmulatorApp
from ._backends import (
    Backend,
    BackendError,
    ChatRequest,
    Generation,
    Reply,
    SchemaBackend,
    ScriptedBackend,
    ScriptExhaustedError,
    ToolCall,
)
from ._batches import BatchJob, BatchStore
from ._body import DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH
from ._deployments import BATCH_SKUS, SKUS, Deployment, default_deployments
from ._emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, Emulator, LoopbackServer
from ._faults import (
    FAULT_HEADER,
    MAX_CHUNK_SECONDS,
    MAX_COUNT,
    MAX_LATENCY_SECONDS,
    MAX_RETRY_AFTER_MS,
    Fault,
    FaultSpecError,
)
from ._files import FileStore, StoredFile
from ._local import LocalBackend, LocalModelUnavailableError
from ._quota import Admission, Clock, ManualClock, Quota, QuotaLimiter, SystemClock
from ._records import RecordedRequest
from ._transport import AsyncEmulatorTransport, EmulatorTransport

__all__ = [
    "BATCH_SKUS",
    "DEFAULT_API_KEY",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_BODY_BYTES",
    "FAULT_HEADER",
    "GA_VERSIONS",
    "LATEST_GA",
    "LATEST_PREVIEW",
    "MAX_CHUNK_SECONDS",
    "MAX_COUNT",
    "MAX_JSON_DEPTH",
    "MAX_LATENCY_SECONDS",
    "MAX_RETRY_AFTER_MS",
    "PREVIEW_VERSIONS",
    "SKUS",
    "Admission",
    "AsyncEmulatorTransport",
    "Backend",
    "BackendError",
    "BatchJob",
    "BatchStore",
    "ChatRequest",
    "Clock",
    "Deployment",
    "Emulator",
    "EmulatorApp",
    "EmulatorTransport",
    "Fault",
    "FaultSpecError",
    "FileStore",
    "Generation",
    "LocalBackend",
    "LocalModelUnavailableError",
    "LoopbackServer",
    "ManualClock",
    "Quota",
    "QuotaLimiter",
    "RecordedRequest",
    "Reply",
    "SchemaBackend",
    "ScriptExhaustedError",
    "ScriptedBackend",
    "StoredFile",
    "SystemClock",
    "ToolCall",
    "default_deployments",
]
