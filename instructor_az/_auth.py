"""How `from_azure` signs in: an API key, a static Entra ID token, a token provider, or an
azure-identity credential (built here from arguments or the variables Azure's own SDKs read).

Methods (`auth=`), each with the settings it reads (argument, else environment variable):

| `auth=` | credential | settings |
|---|---|---|
| `"api_key"` | the resource key | `api_key` / `AZURE_OPENAI_API_KEY` |
| `"azure_ad_token"` | a token you obtained | `azure_ad_token` / `AZURE_OPENAI_AD_TOKEN` |
| `"token_provider"` | your callable | `azure_ad_token_provider` |
| `"credential"` | your azure-identity credential | `credential` |
| `"service_principal"` | `ClientSecretCredential` / `CertificateCredential` | `tenant_id` / `AZURE_TENANT_ID`, `client_id` / `AZURE_CLIENT_ID`, `client_secret` / `AZURE_CLIENT_SECRET` or `certificate_path` / `AZURE_CLIENT_CERTIFICATE_PATH` (+ `certificate_password` / `AZURE_CLIENT_CERTIFICATE_PASSWORD`) |
| `"managed_identity"` | `ManagedIdentityCredential` | `client_id` / `AZURE_CLIENT_ID` for a user-assigned identity (none: system-assigned) |
| `"workload_identity"` | `WorkloadIdentityCredential` | `tenant_id` / `AZURE_TENANT_ID`, `client_id` / `AZURE_CLIENT_ID`, `federated_token_file` / `AZURE_FEDERATED_TOKEN_FILE` |
| `"default"` | `DefaultAzureCredential` | whatever it finds (environment, workload identity, managed identity, Azure CLI, ...) |

`authority_host` / `AZURE_AUTHORITY_HOST` applies to the Entra credentials; `credential_options`
(a dict) goes to the credential's constructor as it is (`connection_verify=`,
`disable_instance_discovery=`, `additionally_allowed_tenants=`, ...). Tokens are requested for
`scope` (default `https://cognitiveservices.azure.com/.default`, the scope Azure documents for the
dated and the v1 API), cached and refreshed before they expire by azure-identity's bearer token
provider. A token request that fails raises `AzureAuthError` naming the method and what to set;
neither secrets nor tokens appear in it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import ConfigurationError

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
AUTH_METHODS = (
    "api_key",
    "azure_ad_token",
    "token_provider",
    "credential",
    "service_principal",
    "managed_identity",
    "workload_identity",
    "default",
)
#: What each Entra method needs, as (argument, environment variable).
_NEEDS = {
    "service_principal": (("tenant_id", "AZURE_TENANT_ID"), ("client_id", "AZURE_CLIENT_ID")),
    "workload_identity": (
        ("tenant_id", "AZURE_TENANT_ID"),
        ("client_id", "AZURE_CLIENT_ID"),
        ("federated_token_file", "AZURE_FEDERATED_TOKEN_FILE"),
    ),
}
_ADVICE = {
    "service_principal": "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or the certificate)",
    "managed_identity": "run where a managed identity is assigned (App Service, Container Apps, a VM, AKS), "
    "and for a user-assigned one pass its client id (AZURE_CLIENT_ID)",
    "workload_identity": "check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE and the "
    "federated credential of the app registration",
    "default": "sign in (az login), or set AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, or run "
    "where a managed or workload identity is assigned",
    "credential": "check the credential you passed",
    "token_provider": "check the token provider you passed",
}


class AzureAuthError(ConfigurationError):
    """Signing in to Entra ID failed (`method`: the `auth=` method). The message says what to check;
    it never holds a secret or a token."""

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


@dataclass(frozen=True)
class Settings:
    """Where the values came from, for messages (never the values of secrets)."""

    method: str
    #: the SDK client's keywords (api_key / azure_ad_token / azure_ad_token_provider): never in a repr
    credentials: dict[str, Any] = field(repr=False)
    #: the azure-identity credential built here for an Entra method (closed with the client), or None
    owned: Any = field(default=None, repr=False)


def _get(value: Any, name: str, variable: str | None) -> Any:
    if value not in (None, ""):
        return value
    if variable is not None:
        found = os.environ.get(variable, "").strip()
        if found:
            return found
    return None


def _identity(asynchronous: bool) -> Any:
    import importlib

    try:
        return importlib.import_module("azure.identity.aio" if asynchronous else "azure.identity")
    except ImportError:
        raise ConfigurationError(
            "signing in with Entra ID needs azure-identity: pip install 'instructor-az[azure]'"
        ) from None


def _required(method: str, options: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    missing: list[str] = []
    for name, variable in _NEEDS.get(method, ()):
        value = _get(options.get(name), name, variable)
        if value is None:
            missing.append(f"{name}= (or {variable})")
        else:
            found[name] = str(value)
    if missing:
        raise ConfigurationError(f"auth={method!r} needs {', '.join(missing)}")
    return found


def build_credential(method: str, options: Mapping[str, Any], *, asynchronous: bool) -> Any:
    """The azure-identity credential for an Entra method (sync, or from `azure.identity.aio`)."""
    identity = _identity(asynchronous)
    authority = _get(options.get("authority_host"), "authority_host", "AZURE_AUTHORITY_HOST")
    extra: dict[str, Any] = {"authority": authority} if authority else {}
    extra.update(options.get("credential_options") or {})
    if method == "service_principal":
        found = _required(method, options)
        secret = _get(options.get("client_secret"), "client_secret", "AZURE_CLIENT_SECRET")
        certificate = _get(
            options.get("certificate_path"), "certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH"
        )
        if secret is not None:
            return identity.ClientSecretCredential(found["tenant_id"], found["client_id"], secret, **extra)
        if certificate is not None:
            password = _get(
                options.get("certificate_password"),
                "certificate_password",
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            )
            if password is not None:
                extra["password"] = password
            return identity.CertificateCredential(
                found["tenant_id"], found["client_id"], certificate_path=certificate, **extra
            )
        raise ConfigurationError(
            "auth='service_principal' needs client_secret= (or AZURE_CLIENT_SECRET) or certificate_path= "
            "(or AZURE_CLIENT_CERTIFICATE_PATH)"
        )
    if method == "managed_identity":
        client_id = _get(options.get("client_id"), "client_id", "AZURE_CLIENT_ID")
        own = dict(options.get("credential_options") or {})
        if client_id:
            own["client_id"] = client_id
        return identity.ManagedIdentityCredential(**own)
    if method == "workload_identity":
        found = _required(method, options)
        return identity.WorkloadIdentityCredential(
            tenant_id=found["tenant_id"],
            client_id=found["client_id"],
            token_file_path=found["federated_token_file"],
            **extra,
        )
    if method == "default":
        return identity.DefaultAzureCredential(**extra)
    raise ConfigurationError(f"auth={method!r} is not an Entra ID credential method")  # pragma: no cover


def _is_async_credential(credential: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(credential, "get_token", None))


def _failure(method: str, exc: BaseException, secrets: tuple[str, ...]) -> AzureAuthError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    advice = _ADVICE.get(method, "")
    return AzureAuthError(
        f"Entra ID sign-in failed (auth={method!r}, {type(exc).__name__}): {text[:400]}. "
        f"{advice[:1].upper()}{advice[1:]}",
        method=method,
    )


def _provider(
    method: str, credential: Any, scope: str, *, asynchronous: bool, secrets: tuple[str, ...]
) -> Any:
    """azure-identity's bearer token provider (cached, refreshed before expiry), its failures typed."""
    if _is_async_credential(credential):
        if not asynchronous:
            raise ConfigurationError(
                "an async credential (azure.identity.aio) needs use_async=True; pass the sync one from "
                "azure.identity for a sync client"
            )
        return wrap_provider(method, _identity(True).get_bearer_token_provider(credential, scope), secrets)
    return wrap_provider(method, _identity(False).get_bearer_token_provider(credential, scope), secrets)


def wrap_provider(
    method: str, provider: Callable[[], Any], secrets: tuple[str, ...] = ()
) -> Callable[[], Any]:
    """A token provider (the user's, or azure-identity's), its failures typed with `secrets` redacted
    (an `AzureAuthError` stays as it is)."""
    if inspect.iscoroutinefunction(provider):

        async def async_token() -> Any:
            try:
                return await provider()
            except AzureAuthError:
                raise
            except Exception as exc:
                raise _failure(method, exc, secrets) from None

        return async_token

    def token() -> Any:
        try:
            return provider()
        except AzureAuthError:
            raise
        except Exception as exc:
            raise _failure(method, exc, secrets) from None

    return token


def as_async(provider: Callable[[], Any]) -> Callable[[], Awaitable[str]]:
    """A provider `AsyncOpenAI(api_key=...)` can await (a sync one runs in a worker thread)."""
    if inspect.iscoroutinefunction(provider):
        return provider

    async def token() -> str:
        return str(await asyncio.to_thread(provider))

    return token


def resolve(
    *,
    auth: str | None,
    api_key: str | None,
    azure_ad_token: str | None,
    azure_ad_token_provider: Callable[[], Any] | None,
    credential: Any,
    scope: str | None,
    asynchronous: bool,
    options: Mapping[str, Any],
) -> Settings:
    """The method and the SDK client's credential keywords, from an explicit choice or the environment."""
    given = {
        "api_key": api_key,
        "azure_ad_token": azure_ad_token,
        "token_provider": azure_ad_token_provider,
        "credential": credential,
    }
    chosen = [name for name, value in given.items() if value not in (None, "")]
    if auth is None:
        if len(chosen) > 1:
            raise ConfigurationError(
                f"from_azure() got several credentials ({', '.join(chosen)}): pass one, or name it with auth="
            )
        if chosen:
            auth = chosen[0]
        elif _get(None, "api_key", "AZURE_OPENAI_API_KEY"):
            auth = "api_key"
        elif _get(None, "azure_ad_token", "AZURE_OPENAI_AD_TOKEN"):
            auth = "azure_ad_token"
        else:
            raise ConfigurationError(
                "from_azure() needs credentials: api_key=... (or AZURE_OPENAI_API_KEY), azure_ad_token=... (or "
                "AZURE_OPENAI_AD_TOKEN), azure_ad_token_provider=..., credential=<an azure-identity credential>, "
                f"or auth= one of {', '.join(repr(m) for m in AUTH_METHODS[4:])} for Entra ID"
            )
    if auth not in AUTH_METHODS:
        raise ConfigurationError(
            f"auth={auth!r} is not a method: use one of {', '.join(map(repr, AUTH_METHODS))}"
        )
    scope = scope or COGNITIVE_SERVICES_SCOPE
    if auth == "api_key":
        key = _get(api_key, "api_key", "AZURE_OPENAI_API_KEY")
        if key is None:
            raise ConfigurationError("auth='api_key' needs api_key=... or AZURE_OPENAI_API_KEY")
        return Settings(auth, {"api_key": key})
    if auth == "azure_ad_token":
        token = _get(azure_ad_token, "azure_ad_token", "AZURE_OPENAI_AD_TOKEN")
        if token is None:
            raise ConfigurationError(
                "auth='azure_ad_token' needs azure_ad_token=... or AZURE_OPENAI_AD_TOKEN"
            )
        return Settings(auth, {"azure_ad_token": token})
    if auth == "token_provider":
        if azure_ad_token_provider is None:
            raise ConfigurationError("auth='token_provider' needs azure_ad_token_provider=...")
        if inspect.iscoroutinefunction(azure_ad_token_provider) and not asynchronous:
            raise ConfigurationError("an async token provider needs use_async=True")
        return Settings(auth, {"azure_ad_token_provider": wrap_provider(auth, azure_ad_token_provider)})
    secrets: tuple[str, ...] = ()
    if auth == "credential":
        if credential is None:
            raise ConfigurationError("auth='credential' needs credential=<an azure-identity credential>")
        built = credential
    else:
        built = build_credential(auth, options, asynchronous=asynchronous)
        secrets = tuple(
            str(v)
            for v in (
                _get(options.get("client_secret"), "client_secret", "AZURE_CLIENT_SECRET"),
                _get(options.get("certificate_password"), "", "AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            )
            if v
        )
    provider = _provider(auth, built, scope, asynchronous=asynchronous, secrets=secrets)
    owned = built if auth != "credential" else None  # a credential passed in stays its owner's to close
    return Settings(auth, {"azure_ad_token_provider": provider}, owned)
