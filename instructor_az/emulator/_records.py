"""What the emulator records of each request, with every credential redacted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._faults import Fault

REDACTED = "<redacted>"
#: Headers that carry a credential: Azure's key, a bearer token, and API Management's subscription key.
SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with every credential's value replaced by `<redacted>` (names are kept)."""
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(frozen=True)
class RecordedRequest:
    """A request the emulator received. Credentials are never recorded: `auth` says which kind came.
    `status` 0: no response was sent (an outage dropped the connection or timed it out)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    deployment: str | None
    api_version: str | None
    auth: str | None
    status: int = 0
    faults: tuple[Fault, ...] = ()
    #: The provisioned deployment a request spilled over from (`deployment` is the standard one that served it).
    spillover_from: str | None = None
    #: A failed spillover's status (the answer was the provisioned deployment's, as Azure sends it).
    spillover_error: int | None = None

    @property
    def json(self) -> Any:
        """The JSON body (alias of `body`)."""
        return self.body

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (the control API's `GET /_emulator/requests`); faults in header syntax."""
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body": self.body,
            "deployment": self.deployment,
            "api_version": self.api_version,
            "auth": self.auth,
            "status": self.status,
            "faults": [f.spec for f in self.faults],
            "spillover_from": self.spillover_from,
            "spillover_error": self.spillover_error,
        }
