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
from ._app import EmulatorApp, RecordedRequest
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
from ._deployments import Deployment, default_deployments
from ._emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, Emulator, LoopbackServer
from ._faults import FAULT_HEADER, Fault, FaultSpecError
from ._local import LocalBackend, LocalModelUnavailableError
from ._transport import AsyncEmulatorTransport, EmulatorTransport

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_ENDPOINT",
    "FAULT_HEADER",
    "GA_VERSIONS",
    "LATEST_GA",
    "LATEST_PREVIEW",
    "PREVIEW_VERSIONS",
    "AsyncEmulatorTransport",
    "Backend",
    "BackendError",
    "ChatRequest",
    "Deployment",
    "Emulator",
    "EmulatorApp",
    "EmulatorTransport",
    "Fault",
    "FaultSpecError",
    "Generation",
    "LocalBackend",
    "LocalModelUnavailableError",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "SchemaBackend",
    "ScriptExhaustedError",
    "ScriptedBackend",
    "ToolCall",
    "default_deployments",
]
