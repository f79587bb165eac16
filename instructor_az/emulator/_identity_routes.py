"""The identity side's routes: Entra ID's v2 token endpoint and discovery documents, and the App Service /
Container Apps managed-identity endpoint, answered from `emulator.identity`.

| route | serves |
|---|---|
| `GET /{tenant}/v2.0/.well-known/openid-configuration` | OIDC discovery (MSAL reads `token_endpoint` from it before any token request) |
| `GET /{tenant}/discovery/v2.0/keys` | the signing keys (JWKS) of the tokens it issues |
| `GET /common/discovery/instance` | instance discovery, for this host only |
| `POST /{tenant}/oauth2/v2.0/token` | `grant_type=client_credentials` with `client_secret`, or a `client_assertion` (a certificate's JWT, or a federated token) |
| `GET /msi/token?resource=...&api-version=2019-08-01` | a managed identity's token; `X-IDENTITY-HEADER` must be `IDENTITY_HEADER` |
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _tokens as tokens
from ._entra_errors import (
    EntraErrors,
    IdentityError,
    managed_identity_bad_request,
    managed_identity_not_found,
    managed_identity_unauthorized,
)
from ._identity import App, redact_form
from ._records import REDACTED, RecordedRequest, redact_headers

if TYPE_CHECKING:
    from ._emulator import Emulator
    from ._identity import Identity

log = logging.getLogger("instructor_az.emulator")

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MAX_FORM_BYTES = 64 * 1024
_MI_API_VERSIONS = frozenset({"2019-08-01"})
_CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "preferred_username",
    "name",
    "tid",
    "ver",
    "at_hash",
    "c_hash",
    "email",
]
_NO_STORE = {"cache-control": "no-store, no-cache", "pragma": "no-cache"}


def identity_routes(emulator: Emulator) -> list[Route]:
    routes = _IdentityRoutes(emulator)
    return [
        Route("/common/discovery/instance", routes.instance_discovery, methods=["GET"]),
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration", routes.openid_configuration, methods=["GET"]
        ),
        Route("/{tenant}/discovery/v2.0/keys", routes.keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", routes.token, methods=["POST"]),
        Route("/msi/token", routes.managed_identity, methods=["GET"]),
    ]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _thumbprint_hex(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except ValueError:
        return None


class _IdentityRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def identity(self) -> Identity:
        return self.emulator.identity

    def _errors(self, request: Request) -> EntraErrors:
        return EntraErrors(
            now=self.identity.clock(),
            base_url=_base_url(request),
            correlation_id=request.headers.get("client-request-id"),
        )

    def _record(self, request: Request, status: int, *, body: Any = None, auth: str | None = None) -> None:
        headers = {
            k: (REDACTED if k.lower() == "x-identity-header" else v)
            for k, v in redact_headers(request.headers).items()
        }
        self.identity.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers=headers,
                body=body,
                deployment=None,
                api_version=request.query_params.get("api-version"),
                auth=auth,
                status=status,
            )
        )

    # --- discovery --------------------------------------------------------------------------------

    async def openid_configuration(self, request: Request) -> Response:
        alias = request.path_params["tenant"]
        tenant = self.identity.tenant(alias)
        if tenant is None:
            error = self._errors(request).tenant_not_found(alias, discovery=True)
            return _json(error.status, error.body)
        base = _base_url(request)
        oauth = f"{base}/{tenant}/oauth2/v2.0"
        return _json(
            200,
            {
                "token_endpoint": f"{oauth}/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{oauth}/authorize",
                "device_authorization_endpoint": f"{oauth}/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{oauth}/logout",
                "claims_supported": list(_CLAIMS_SUPPORTED),
                "kerberos_endpoint": f"{base}/{tenant}/kerberos",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            },
        )

    async def keys(self, request: Request) -> Response:
        alias = request.path_params["tenant"]
        if self.identity.tenant(alias) is None:
            error = self._errors(request).tenant_not_found(alias, discovery=True)
            return _json(error.status, error.body)
        return _json(200, {"keys": [tokens.entra_key().jwk()]})

    async def instance_discovery(self, request: Request) -> Response:
        """Entra's answer about an authority: known when it is this host (the emulator is that cloud).
        MSAL asks login.microsoftonline.com, never a custom host, so MSAL itself does not come here."""
        endpoint = request.query_params.get("authorization_endpoint", "")
        base = _base_url(request)
        host = request.url.netloc
        if not endpoint.startswith(f"{base}/"):
            error = self._errors(request).unknown_instance()
            return _json(error.status, error.body)
        tenant = endpoint[len(base) + 1 :].split("/", 1)[0] or "common"
        return _json(
            200,
            {
                "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    # --- the token endpoint -----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        raw = await request.body()
        form = dict(parse_qsl(raw[:_MAX_FORM_BYTES].decode("utf-8", "replace"), keep_blank_values=True))
        auth = (
            "client_secret"
            if form.get("client_secret")
            else "client_assertion"
            if form.get("client_assertion")
            else None
        )
        try:
            body = self._client_credentials(request, form)
        except IdentityError as error:
            self._record(request, error.status, body=redact_form(form), auth=auth)
            log.debug("emulated Entra ID refused a token request: %s", error)
            return _json(error.status, error.body, _NO_STORE)
        self._record(request, 200, body=redact_form(form), auth=auth)
        return _json(200, body, _NO_STORE)

    def _client_credentials(self, request: Request, form: dict[str, str]) -> dict[str, Any]:
        identity = self.identity
        errors = self._errors(request)
        alias = request.path_params["tenant"]
        tenant = identity.tenant(alias)
        if tenant is None:
            raise errors.tenant_not_found(alias)
        grant = form.get("grant_type")
        if not grant:
            raise errors.missing_parameter("grant_type")
        if grant != "client_credentials":
            raise errors.unsupported_grant(grant)
        client_id = form.get("client_id")
        if not client_id:
            raise errors.missing_parameter("client_id")
        scope = form.get("scope")
        if not scope:
            raise errors.missing_parameter("scope")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise errors.scope_without_default(scope)
        app = identity.apps.get(client_id)
        if app is None or app.tenant_id != tenant:
            raise errors.application_not_found(client_id, alias)
        if form.get("client_secret"):
            if not app.accepts_secret(form["client_secret"]):
                raise errors.invalid_secret(client_id)
            client_auth = "1"
        elif form.get("client_assertion"):
            kind = form.get("client_assertion_type")
            if kind != JWT_BEARER:
                raise errors.unsupported_assertion_type(kind or "")
            self._check_assertion(request, errors, app, form["client_assertion"])
            client_auth = "2"
        else:
            raise errors.no_client_credential()
        resource = tokens.resource_of(scopes[0])
        if not identity.knows_resource(resource):
            raise errors.resource_not_found(resource, alias)
        token = identity.issue(
            resource=resource,
            tenant_id=tenant,
            client_id=client_id,
            subject=app.object_id,
            client_auth=client_auth,
        )
        lifetime = identity.token_lifetime
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        if identity.refresh_in is not None:
            body["refresh_in"] = identity.refresh_in
        return body

    def _check_assertion(self, request: Request, errors: EntraErrors, app: App, assertion: str) -> None:
        header = tokens.unverified_header(assertion)
        claims = tokens.unverified_claims(assertion)
        if header is None or claims is None:
            raise errors.malformed_assertion()
        issuer = claims.get("iss")
        if issuer == app.client_id:
            self._check_certificate_assertion(request, errors, app, header, claims, assertion)
        else:
            self._check_federated_assertion(errors, app, claims, assertion)

    def _time_range(self, errors: EntraErrors, claims: dict[str, Any]) -> None:
        now, skew = self.identity.clock(), self.identity.clock_skew
        expires, not_before = claims.get("exp"), claims.get("nbf")
        expires_n = float(expires) if isinstance(expires, (int, float)) else None
        not_before_n = float(not_before) if isinstance(not_before, (int, float)) else None
        if (
            expires_n is None
            or now >= expires_n + skew
            or (not_before_n is not None and now + skew < not_before_n)
        ):
            raise errors.assertion_time_range(not_before_n, expires_n)

    def _check_certificate_assertion(
        self,
        request: Request,
        errors: EntraErrors,
        app: App,
        header: dict[str, Any],
        claims: dict[str, Any],
        assertion: str,
    ) -> None:
        sha256 = _thumbprint_hex(header.get("x5t#S256"))
        sha1 = _thumbprint_hex(header.get("x5t"))
        if sha256 is None and sha1 is None:
            raise errors.malformed_assertion()
        shown = sha1 or sha256 or ""
        cert = app.certificate(sha1=sha1, sha256=sha256)
        if cert is None:
            raise errors.certificate_not_registered(app.client_id, shown)
        if tokens.verify_signed(assertion, cert.public_key(), ["RS256", "PS256"]) is None:
            raise errors.signature_failed(shown)
        if claims.get("sub", app.client_id) != app.client_id:
            raise errors.assertion_client_mismatch(app.client_id)
        if not self._audience_ok(request, app, claims.get("aud")):
            raise errors.assertion_audience()
        self._time_range(errors, claims)

    def _audience_ok(self, request: Request, app: App, audience: Any) -> bool:
        """A certificate assertion's `aud` must be this tenant's token endpoint (v2 or v1) or issuer."""
        base = _base_url(request).lower()
        allowed = set()
        for alias in self.identity.tenant_aliases(app.tenant_id):
            allowed |= {
                f"{base}/{alias}/oauth2/v2.0/token",
                f"{base}/{alias}/oauth2/token",
                f"{base}/{alias}/v2.0",
            }
        given = audience if isinstance(audience, list) else [audience]
        return any(isinstance(a, str) and a.lower().rstrip("/") in allowed for a in given)

    def _check_federated_assertion(
        self, errors: EntraErrors, app: App, claims: dict[str, Any], assertion: str
    ) -> None:
        issuer = str(claims.get("iss", ""))
        records = [f for f in app.federated if f.issuer == issuer]
        if not records:
            raise errors.no_federated_issuer(issuer)
        if issuer != self.identity.kubernetes_issuer or (
            tokens.verify_signed(assertion, tokens.cluster_key().public, ["RS256"]) is None
        ):
            raise errors.federated_signature(issuer)
        self._time_range(errors, claims)
        subject = str(claims.get("sub", ""))
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(f.subject == subject and f.audience in audiences for f in records):
            shown = ", ".join(str(a) for a in audiences)
            raise errors.no_federated_record(issuer, subject, shown)

    # --- managed identity -------------------------------------------------------------------------

    async def managed_identity(self, request: Request) -> Response:
        try:
            body, identity_id = self._managed_identity_token(request)
        except IdentityError as error:
            self._record(request, error.status, auth="managed_identity")
            log.debug("emulated managed identity endpoint refused a token request: %s", error)
            return _json(error.status, error.body)
        self._record(request, 200, auth="managed_identity")
        log.debug("emulated managed identity issued a token for %s", identity_id)
        return _json(200, body)

    def _managed_identity_token(self, request: Request) -> tuple[dict[str, Any], str]:
        identity = self.identity
        given = request.headers.get("x-identity-header")
        if given is None or not hmac.compare_digest(given.encode(), identity.identity_header.encode()):
            raise managed_identity_unauthorized()
        query = request.query_params
        version = query.get("api-version")
        if version not in _MI_API_VERSIONS:
            raise managed_identity_bad_request(
                f"The api-version '{version}' is not supported by this endpoint; use 2019-08-01."
            )
        resource = query.get("resource")
        if not resource:
            raise managed_identity_bad_request("The 'resource' parameter is required.")
        selectors = {
            "client_id": query.get("client_id"),
            "principal_id": query.get("principal_id") or query.get("object_id"),
            "resource_id": query.get("mi_res_id"),
        }
        chosen = {k: v for k, v in selectors.items() if v}
        if len(chosen) > 1:
            raise managed_identity_bad_request(
                "Only one of client_id, principal_id and mi_res_id may be given."
            )
        managed = identity.find_managed_identity(**chosen) if chosen else identity.system_assigned
        if managed is None:
            raise managed_identity_not_found()
        if not identity.knows_resource(resource):
            raise managed_identity_bad_request(
                f"AADSTS500011: The resource principal named {resource} was not found in the tenant named "
                f"{identity.tenant_id}."
            )
        token = identity.issue(
            resource=resource,
            tenant_id=identity.tenant_id,
            client_id=managed.client_id,
            subject=managed.principal_id,
            xms_mirid=managed.resource_id,
        )
        body = {
            "access_token": token,
            "expires_on": str(int(identity.clock()) + identity.token_lifetime),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": managed.client_id,
        }
        return body, managed.client_id
