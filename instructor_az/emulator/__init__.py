"""An offline Azure OpenAI emulator: Azure's data-plane wire format, served in-process or on loopback.

Needs the `emulator` extra: `pip install "instructor-az[emulator]"`.
"""

from __future__ import annotations

try:
    import jwt  # noqa: F401
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
from ._deployments import BATCH_SKUS, PROVISIONED_SKUS, SKUS, Deployment, default_deployments
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
from ._identity import DEFAULT_TOKEN_LIFETIME, App, FederatedCredential, Identity, ManagedIdentity
from ._local import LocalBackend, LocalModelUnavailableError
from ._outage import DEFAULT_TIMEOUT_SECONDS, OUTAGE_KINDS, Outage
from ._quota import Admission, Clock, ManualClock, Quota, QuotaLimiter, SystemClock
from ._records import RecordedRequest
from ._response_store import DEFAULT_MAX_RESPONSES, ResponseStore, StoredResponse
from ._responses_api import RESPONSES_SINCE
from ._spillover import SPILLOVER_HEADER
from ._tls import ClientCertificate, TestCA
from ._tokens import (
    AI_AZURE,
    COGNITIVE_SERVICES,
    DEFAULT_TENANT_ID,
    KUBERNETES_ISSUER,
    TOKEN_EXCHANGE_AUDIENCE,
)
from ._transport import AsyncEmulatorTransport, EmulatorTransport

__all__ = [
    "AI_AZURE",
    "BATCH_SKUS",
    "COGNITIVE_SERVICES",
    "DEFAULT_API_KEY",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_RESPONSES",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TIMEOUT_SECONDS",
    "DEFAULT_TOKEN_LIFETIME",
    "FAULT_HEADER",
    "GA_VERSIONS",
    "KUBERNETES_ISSUER",
    "LATEST_GA",
    "LATEST_PREVIEW",
    "MAX_CHUNK_SECONDS",
    "MAX_COUNT",
    "MAX_JSON_DEPTH",
    "MAX_LATENCY_SECONDS",
    "MAX_RETRY_AFTER_MS",
    "OUTAGE_KINDS",
    "PREVIEW_VERSIONS",
    "PROVISIONED_SKUS",
    "RESPONSES_SINCE",
    "SKUS",
    "SPILLOVER_HEADER",
    "TOKEN_EXCHANGE_AUDIENCE",
    "Admission",
    "App",
    "AsyncEmulatorTransport",
    "Backend",
    "BackendError",
    "BatchJob",
    "BatchStore",
    "ChatRequest",
    "ClientCertificate",
    "Clock",
    "Deployment",
    "Emulator",
    "EmulatorApp",
    "EmulatorTransport",
    "Fault",
    "FaultSpecError",
    "FederatedCredential",
    "FileStore",
    "Generation",
    "Identity",
    "LocalBackend",
    "LocalModelUnavailableError",
    "LoopbackServer",
    "ManagedIdentity",
    "ManualClock",
    "Outage",
    "Quota",
    "QuotaLimiter",
    "RecordedRequest",
    "Reply",
    "ResponseStore",
    "SchemaBackend",
    "ScriptExhaustedError",
    "ScriptedBackend",
    "StoredFile",
    "StoredResponse",
    "SystemClock",
    "TestCA",
    "ToolCall",
    "default_deployments",
]
