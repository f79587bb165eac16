"""Error bodies of the identity side: Entra ID's token endpoint and the App Service managed-identity endpoint.

Entra ID answers a failed token request with JSON that MSAL and azure-identity parse: `error`,
`error_description` (which starts with the `AADSTS` code and ends with the trace and correlation ids and
the time), `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`. The wording and status
of each code below follow bodies captured from the real service in public reports (for example
AADSTS7000215 and AADSTS700016 from issues on OfficeDev/microsoft-365-agents-toolkit and wazuh/wazuh,
AADSTS90002 from Azure/azure-cli, AADSTS70021 / AADSTS700211 from Azure/azure-workload-identity,
AADSTS700024 and AADSTS700027 from MSAL's issue trackers; AADSTS50049 from MSAL.js). App Service's
managed-identity endpoint answers with `{"statusCode", "message", "correlationId"}` (its "No User
Assigned or Delegated Managed Identity found" body, from Azure-Samples/azure-search-openai-demo #2148).

No body here ever holds a secret, an assertion or a token: only client ids, tenant ids, thumbprints,
issuers and subjects, as Entra's own messages do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

_WIF_DOCS = "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
_CERT_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"


@dataclass(frozen=True)
class IdentityError(Exception):
    """An error answer of the identity side: status and JSON body."""

    status: int
    body: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.status}: {self.body.get('error') or self.body.get('message')}"


def _timestamp(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


class EntraErrors:
    """Builds Entra's error bodies for one request (its time, correlation id and authority host)."""

    def __init__(self, *, now: float, base_url: str, correlation_id: str | None) -> None:
        self.now = now
        self.base_url = base_url.rstrip("/")
        self.correlation_id = correlation_id or str(uuid.uuid4())

    def error(self, status: int, error: str, code: int, description: str) -> IdentityError:
        trace = str(uuid.uuid4())
        stamp = _timestamp(self.now)
        return IdentityError(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
                f"Correlation ID: {self.correlation_id} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": self.correlation_id,
                "error_uri": f"{self.base_url}/error?code={code}",
            },
        )

    # --- tenants and applications -----------------------------------------------------------------

    def tenant_not_found(self, tenant: str, *, discovery: bool = False) -> IdentityError:
        return self.error(
            400,
            "invalid_tenant" if discovery else "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there are "
            "no active subscriptions for the tenant.",
        )

    def unknown_instance(self) -> IdentityError:
        return self.error(400, "invalid_instance", 50049, "Unknown or invalid instance.")

    def application_not_found(self, client_id: str, tenant: str) -> IdentityError:
        return self.error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented "
            "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )

    # --- the request ------------------------------------------------------------------------------

    def missing_parameter(self, name: str) -> IdentityError:
        return self.error(
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )

    def unsupported_grant(self, grant: str) -> IdentityError:
        return self.error(
            400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
        )

    def no_client_credential(self) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def unsupported_assertion_type(self, kind: str) -> IdentityError:
        return self.error(
            400,
            "invalid_request",
            50027,
            f"The client_assertion_type '{kind}' is not supported; use "
            "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
        )

    def scope_without_default(self, scope: str) -> IdentityError:
        return self.error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
            "with /.default suffixed to the resource identifier (application ID URI).",
        )

    def resource_not_found(self, resource: str, tenant: str) -> IdentityError:
        return self.error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant}. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented "
            "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )

    # --- secrets and assertions -------------------------------------------------------------------

    def invalid_secret(self, client_id: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{client_id}'.",
        )

    def malformed_assertion(self) -> IdentityError:
        return self.error(401, "invalid_client", 50027, "JWT token is invalid or malformed.")

    def assertion_time_range(self, not_before: float | None, expires: float | None) -> IdentityError:
        start = _iso(not_before) if not_before is not None else _iso(0)
        end = _iso(expires) if expires is not None else _iso(0)
        return self.error(
            401,
            "invalid_client",
            700024,
            f"Client assertion is not within its valid time range. Current time: {_iso(self.now)}, assertion "
            f"valid from {start}, expiry time of assertion {end}. Review the documentation at {_CERT_DOCS} .",
        )

    def assertion_audience(self) -> IdentityError:
        return self.error(
            401, "invalid_client", 50012, "Client assertion audience claim does not match Realm issuer."
        )

    def assertion_client_mismatch(self, client_id: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            700021,
            f"Client assertion application identifier doesn't match 'client_id' parameter '{client_id}'.",
        )

    def certificate_not_registered(self, client_id: str, thumbprint: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of "
            f"key used by client: '{thumbprint.upper()}', Please visit the Azure Portal, Graph Explorer or "
            f"directly use MS Graph to see configured keys for app Id '{client_id}'.]",
        )

    def signature_failed(self, thumbprint: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to "
            f"verify the signature failed., Thumbprint of key used by client: '{thumbprint.upper()}']",
        )

    # --- workload identity federation -------------------------------------------------------------

    def no_federated_issuer(self, issuer: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            700211,
            f"No matching federated identity record found for presented assertion issuer '{issuer}'. Please "
            "check your federated identity credential Subject, Audience and Issuer against the presented "
            f"assertion. {_WIF_DOCS}",
        )

    def no_federated_record(self, issuer: str, subject: str, audience: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            70021,
            f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
            f"Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. {_WIF_DOCS}",
        )

    def federated_signature(self, issuer: str) -> IdentityError:
        return self.error(
            401,
            "invalid_client",
            700027,
            f"Client assertion failed signature validation. [Reason - The key was not found in the keys of "
            f"issuer '{issuer}'.]",
        )


# --- App Service / Container Apps managed identity ------------------------------------------------


def managed_identity_error(status: int, message: str, correlation_id: str | None = None) -> IdentityError:
    return IdentityError(
        status,
        {"statusCode": status, "message": message, "correlationId": correlation_id or str(uuid.uuid4())},
    )


def managed_identity_not_found() -> IdentityError:
    return managed_identity_error(
        400,
        "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
    )


def managed_identity_unauthorized() -> IdentityError:
    # The wording is the emulator's: App Service documents the header's role, not its error body.
    return managed_identity_error(401, "Unauthorized: the X-IDENTITY-HEADER header is missing or wrong.")


def managed_identity_bad_request(message: str) -> IdentityError:
    return managed_identity_error(400, message)
