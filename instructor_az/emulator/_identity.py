"""The emulator as Entra ID: tenants, app registrations, managed identities, and the tokens they get.

`emulator.identity` holds what a real tenant would: app registrations with client secrets, certificates
or federated credentials (workload identity), the resource's system- and user-assigned managed
identities. The routes in `_identity_routes` issue tokens for them; the data plane (`_app._authenticate`)
checks every bearer token it receives against the same state (signature, `aud`, `exp`, `tid`).

Secrets are kept here to compare against and never shown: reprs give counts, recorded requests and
error bodies carry no secret, assertion or token.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _tokens as tokens
from ._records import RecordedRequest
from ._tls import ClientCertificate, TestCA

#: Entra's usual lifetime of a client-credentials token, in seconds (`expires_in: 3599`).
DEFAULT_TOKEN_LIFETIME = 3599
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
#: Resources Entra knows in every tenant (a token for another one is AADSTS500011); add yours to
#: `identity.resources`.
WELL_KNOWN_RESOURCES = frozenset(
    {
        tokens.COGNITIVE_SERVICES,
        tokens.AI_AZURE,
        "https://management.azure.com",
        "https://management.core.windows.net",
        "https://graph.microsoft.com",
        "https://vault.azure.net",
        "https://storage.azure.com",
        "https://database.windows.net",
        "https://ossrdbms-aad.database.windows.net",
        "https://search.azure.com",
        "https://servicebus.azure.net",
        "https://eventhubs.azure.net",
    }
)


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential on an app: tokens from `issuer` for `subject` with `audience`.

    `FederatedCredential.kubernetes("default", "my-sa")` is the one AKS workload identity sets up for a
    service account (subject `system:serviceaccount:default:my-sa`, the emulator's cluster issuer).
    """

    subject: str
    issuer: str = tokens.KUBERNETES_ISSUER
    audience: str = tokens.TOKEN_EXCHANGE_AUDIENCE

    @classmethod
    def kubernetes(
        cls,
        namespace: str = "default",
        service_account: str = "workload-identity-sa",
        *,
        issuer: str = tokens.KUBERNETES_ISSUER,
    ) -> FederatedCredential:
        return cls(f"system:serviceaccount:{namespace}:{service_account}", issuer)


@dataclass(eq=False)
class App:
    """An app registration and its service principal in one tenant."""

    client_id: str
    tenant_id: str
    name: str
    object_id: str
    secrets: list[str] = field(default_factory=list, repr=False)
    certificates: list[ClientCertificate] = field(default_factory=list, repr=False)
    federated: list[FederatedCredential] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"App(client_id={self.client_id!r}, tenant_id={self.tenant_id!r}, name={self.name!r}, "
            f"secrets={len(self.secrets)}, certificates={len(self.certificates)}, federated={self.federated!r})"
        )

    def add_secret(self, secret: str) -> None:
        if not secret:
            raise ValueError("a client secret cannot be empty")
        self.secrets.append(secret)

    def accepts_secret(self, secret: str) -> bool:
        given = secret.encode()
        return any(hmac.compare_digest(given, known.encode()) for known in self.secrets)

    def certificate(self, *, sha1: str | None = None, sha256: str | None = None) -> ClientCertificate | None:
        for cert in self.certificates:
            if (sha1 and cert.sha1_thumbprint == sha1.lower()) or (
                sha256 and cert.sha256_thumbprint == sha256.lower()
            ):
                return cert
        return None


@dataclass(frozen=True)
class ManagedIdentity:
    """A managed identity of the emulated resource (system-assigned, or a user-assigned one)."""

    client_id: str
    principal_id: str
    resource_id: str
    system_assigned: bool = False
    name: str = "system"


class Identity:
    """The identity side of one emulator (`emulator.identity`). See docs/emulator.md, "Entra ID and
    managed identity"."""

    def __init__(self, *, tenant_id: str | None = None, max_recorded: int = 10_000) -> None:
        self.tenant_id = tenant_id or tokens.DEFAULT_TENANT_ID
        #: Whether the data plane checks `tid` (True when the emulator was given a tenant).
        self.checks_tenant = tenant_id is not None
        self._tenants: dict[str, str] = {}  # alias (id or domain, lower case) -> tenant id
        self.add_tenant(self.tenant_id)
        self.apps: dict[str, App] = {}
        self.managed_identities: dict[str, ManagedIdentity] = {}
        #: Seconds a token lives (`expires_in`; `expires_on` for managed identities).
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        #: Sent as `refresh_in` by the token endpoint when set (Entra sends it on long-lived tokens).
        self.refresh_in: int | None = None
        #: Seconds of clock skew the data plane and assertion checks tolerate.
        self.clock_skew = 0.0
        #: The identity side's time (wall clock, as token lifetimes are); tests may shift it.
        self.clock: Callable[[], float] = time.time
        #: Tokens issued per client id (apps and managed identities).
        self.issued: Counter[str] = Counter()
        #: Token requests received, secrets redacted (not in `emulator.requests`: that is the data plane).
        self.requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self.resources: set[str] = set(WELL_KNOWN_RESOURCES)
        self.kubernetes_issuer = tokens.KUBERNETES_ISSUER
        #: Unsigned (or foreign) JWT-shaped bearer tokens: None accepts them until an app, a managed
        #: identity or a tenant is configured; True / False decide for good.
        self.accept_unsigned_tokens: bool | None = None
        #: The `IDENTITY_HEADER` value clients must send (a secret: never logged).
        self.identity_header = secrets.token_urlsafe(24)
        self.endpoint: str | None = None  # set while `emulator.serve()` runs
        self._ca: TestCA | None = None

    def __repr__(self) -> str:
        return (
            f"Identity(tenant_id={self.tenant_id!r}, apps={sorted(self.apps)}, "
            f"managed_identities={sorted(self.managed_identities)}, token_lifetime={self.token_lifetime})"
        )

    # --- configuration ----------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """Whether a tenant, an app or a managed identity was set up (then only signed tokens pass)."""
        return self.checks_tenant or bool(self.apps) or bool(self.managed_identities)

    def add_tenant(self, tenant_id: str, *, domain: str | None = None) -> str:
        """Another tenant the token endpoint knows (apps can live in it); `domain` is an alias of its id."""
        self._tenants[tenant_id.lower()] = tenant_id
        if domain:
            self._tenants[domain.lower()] = tenant_id
        return tenant_id

    def tenant(self, alias: str) -> str | None:
        """The tenant id an authority path names (an id or a domain), None for an unknown tenant."""
        return self._tenants.get(alias.lower())

    def tenant_aliases(self, tenant_id: str) -> list[str]:
        return [alias for alias, tid in self._tenants.items() if tid == tenant_id]

    def add_app(
        self,
        client_id: str | None = None,
        *,
        secret: str | None = None,
        certificate: ClientCertificate | None = None,
        federated: Iterable[FederatedCredential] = (),
        federated_subject: str | None = None,
        tenant_id: str | None = None,
        name: str | None = None,
    ) -> App:
        """Register an app (service principal): a client secret, a certificate, federated credentials
        (`federated_subject=` is a Kubernetes service account subject on the emulator's cluster issuer)."""
        tenant = tenant_id or self.tenant_id
        if self.tenant(tenant) is None:
            self.add_tenant(tenant)
        client_id = client_id or str(uuid.uuid4())
        if client_id in self.apps or client_id in self.managed_identities:
            raise ValueError(f"client id {client_id!r} is already registered")
        app = App(
            client_id=client_id,
            tenant_id=self.tenant(tenant) or tenant,
            name=name or f"emulator-app-{len(self.apps) + 1}",
            object_id=tokens.object_id(f"sp:{client_id}"),
        )
        if secret is not None:
            app.add_secret(secret)
        if certificate is not None:
            app.certificates.append(certificate)
        app.federated.extend(federated)
        if federated_subject is not None:
            app.federated.append(FederatedCredential(federated_subject, self.kubernetes_issuer))
        self.apps[client_id] = app
        return app

    def add_system_assigned_identity(self) -> ManagedIdentity:
        """Turn on the resource's system-assigned identity (asked for with no client id)."""
        existing = self.system_assigned
        if existing is not None:
            return existing
        client_id = str(uuid.uuid4())
        identity = ManagedIdentity(
            client_id=client_id,
            principal_id=tokens.object_id(f"mi:{client_id}"),
            resource_id="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/"
            "Microsoft.Web/sites/emulator",
            system_assigned=True,
        )
        self.managed_identities[client_id] = identity
        return identity

    def add_user_assigned_identity(
        self, client_id: str | None = None, *, name: str | None = None
    ) -> ManagedIdentity:
        """Assign a user-assigned identity to the resource (asked for by client id, principal id or
        resource id)."""
        client_id = client_id or str(uuid.uuid4())
        if client_id in self.apps or client_id in self.managed_identities:
            raise ValueError(f"client id {client_id!r} is already registered")
        name = name or f"emulator-identity-{len(self.managed_identities) + 1}"
        identity = ManagedIdentity(
            client_id=client_id,
            principal_id=tokens.object_id(f"mi:{client_id}"),
            resource_id="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            name=name,
        )
        self.managed_identities[client_id] = identity
        return identity

    @property
    def system_assigned(self) -> ManagedIdentity | None:
        return next((m for m in self.managed_identities.values() if m.system_assigned), None)

    def find_managed_identity(
        self, *, client_id: str | None = None, principal_id: str | None = None, resource_id: str | None = None
    ) -> ManagedIdentity | None:
        for identity in self.managed_identities.values():
            if identity.system_assigned:
                continue
            if client_id is not None and identity.client_id.lower() == client_id.lower():
                return identity
            if principal_id is not None and identity.principal_id.lower() == principal_id.lower():
                return identity
            if resource_id is not None and identity.resource_id.lower() == resource_id.lower():
                return identity
        return None

    def knows_resource(self, resource: str) -> bool:
        return resource.rstrip("/") in {r.rstrip("/") for r in self.resources}

    def reset(self) -> None:
        """Forget the issue counts and the recorded token requests (registrations stay)."""
        self.issued.clear()
        self.requests.clear()

    # --- TLS and files ----------------------------------------------------------------------------

    @property
    def ca(self) -> TestCA:
        """The emulator's test CA (made on first use; needs `trustme`)."""
        if self._ca is None:
            self._ca = TestCA()
        return self._ca

    @property
    def ca_path(self) -> str:
        """The test CA's certificate (PEM): what `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE` or
        `connection_verify=` should name for clients to trust the emulator's TLS."""
        return str(self.ca.ca_path)

    def new_certificate(
        self, path: str | Path | None = None, *, name: str = "emulator-app"
    ) -> ClientCertificate:
        """A fresh client certificate (RSA key + certificate in one PEM file) for `CertificateCredential`."""
        return self.ca.client_certificate(path, name=name)

    def write_federated_token(
        self,
        path: str | Path,
        *,
        namespace: str = "default",
        service_account: str = "workload-identity-sa",
        audience: str = tokens.TOKEN_EXCHANGE_AUDIENCE,
        lifetime: int = 3600,
        issuer: str | None = None,
    ) -> Path:
        """Write the projected service-account token Kubernetes mounts for workload identity
        (`AZURE_FEDERATED_TOKEN_FILE`), signed by the emulator's cluster issuer."""
        token = tokens.service_account_token(
            namespace=namespace,
            service_account=service_account,
            issuer=issuer or self.kubernetes_issuer,
            audience=audience,
            now=self.clock(),
            lifetime=lifetime,
        )
        target = Path(path)
        target.write_text(token)
        return target

    # --- endpoints and environments ---------------------------------------------------------------

    def _served(self, *, https: bool) -> str:
        endpoint = self.endpoint
        if endpoint is None:
            raise RuntimeError(
                "the emulator is not served: use `with emulator.serve(tls=True) as endpoint:` first"
            )
        if https and not endpoint.startswith("https://"):
            raise RuntimeError(
                "azure-identity only accepts an https authority host: serve with `emulator.serve(tls=True)`"
            )
        return endpoint

    @property
    def authority_host(self) -> str:
        """`AZURE_AUTHORITY_HOST` (or `authority=`) for credentials that ask the emulator for tokens."""
        return self._served(https=True)

    @property
    def managed_identity_endpoint(self) -> str:
        """`IDENTITY_ENDPOINT`: the App Service / Container Apps managed-identity endpoint."""
        return f"{self._served(https=False)}/msi/token"

    def tls_env(self) -> dict[str, str]:
        """Variables that make `requests` (sync credentials) and OpenSSL's default paths (aiohttp, httpx)
        trust the emulator's test CA."""
        return {"REQUESTS_CA_BUNDLE": self.ca_path, "SSL_CERT_FILE": self.ca_path}

    def managed_identity_env(self) -> dict[str, str]:
        """`IDENTITY_ENDPOINT` and `IDENTITY_HEADER` as App Service and Container Apps set them (plus
        the TLS variables when the emulator is served over https)."""
        env = {"IDENTITY_ENDPOINT": self.managed_identity_endpoint, "IDENTITY_HEADER": self.identity_header}
        if self._served(https=False).startswith("https://"):
            env.update(self.tls_env())
        return env

    def service_principal_env(
        self, app: App, *, certificate: ClientCertificate | None = None
    ) -> dict[str, str]:
        """What `EnvironmentCredential` reads for `app`: its secret, or `certificate`'s file."""
        env = {
            "AZURE_TENANT_ID": app.tenant_id,
            "AZURE_CLIENT_ID": app.client_id,
            "AZURE_AUTHORITY_HOST": self.authority_host,
            **self.tls_env(),
        }
        if certificate is not None:
            env["AZURE_CLIENT_CERTIFICATE_PATH"] = str(certificate.path)
        elif app.secrets:
            env["AZURE_CLIENT_SECRET"] = app.secrets[0]
        else:
            raise ValueError(f"app {app.client_id!r} has no secret: pass one of its certificates")
        return env

    def workload_identity_env(self, app: App, token_file: str | Path) -> dict[str, str]:
        """What the AKS workload identity webhook sets in a pod, pointed at the emulator."""
        return {
            "AZURE_TENANT_ID": app.tenant_id,
            "AZURE_CLIENT_ID": app.client_id,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_AUTHORITY_HOST": self.authority_host,
            **self.tls_env(),
        }

    # --- tokens -----------------------------------------------------------------------------------

    def token(
        self,
        subject: str = "emulator-user",
        *,
        audience: str = tokens.COGNITIVE_SERVICES,
        tenant_id: str | None = None,
        client_id: str = "emulator-client",
        lifetime: int | None = None,
    ) -> str:
        """A signed access token, as if Entra had issued it (not counted in `issued`): for tests that need
        a token without a credential, e.g. an expired one (`lifetime=-60`) or one for another audience."""
        return tokens.access_token(
            audience=audience,
            tenant_id=tenant_id or self.tenant_id,
            client_id=client_id,
            now=self.clock(),
            lifetime=self.token_lifetime if lifetime is None else lifetime,
            subject=subject,
        )

    def issue(self, *, resource: str, tenant_id: str, client_id: str, subject: str, **claims: Any) -> str:
        """Issue (and count) a token for a principal that just authenticated."""
        self.issued[client_id] += 1
        client_auth = str(claims.pop("client_auth", "2"))
        return tokens.access_token(
            audience=resource,
            tenant_id=tenant_id,
            client_id=client_id,
            now=self.clock(),
            lifetime=self.token_lifetime,
            subject=subject,
            client_auth=client_auth,
            extra=claims or None,
        )

    def bearer_problem(self, token: str, *, v1: bool) -> str | None:
        """None when the data plane accepts `token` as an Entra ID bearer token, else why not."""
        if not _JWT.match(token):
            return "not a JWT"
        if tokens.issued_by_entra(token):
            check = tokens.check_access_token(
                token,
                audiences=tokens.V1_AUDIENCES if v1 else tokens.DATED_AUDIENCES,
                tenant_id=self.tenant_id if self.checks_tenant else None,
                now=self.clock,
                leeway=self.clock_skew,
            )
            return None if check is None else check.reason
        accept = self.accept_unsigned_tokens
        if accept is None:
            accept = not self.configured
        return None if accept else "not signed by the emulated Entra ID"

    def close(self) -> None:
        if self._ca is not None:
            self._ca.close()


def redact_form(form: Mapping[str, str]) -> dict[str, str]:
    """A token request's form as recorded: secrets and assertions replaced."""
    hidden = {"client_secret", "client_assertion", "assertion", "refresh_token", "password", "code"}
    return {k: ("<redacted>" if k in hidden else v) for k, v in form.items()}
