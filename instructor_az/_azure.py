"""`from_azure(...)`: the SDK's Azure client built from arguments or Azure's environment variables,
signed in the way you choose (`_auth`), on a dated api-version or the v1 API, and wrapped.

```python
client = instructor_az.from_azure()                                        # AZURE_OPENAI_* variables
client = instructor_az.from_azure(auth="managed_identity")                # Entra ID, no secret
client = instructor_az.from_azure(credential=DefaultAzureCredential())    # any azure-identity credential
client = instructor_az.from_azure(api_version="v1")                       # OpenAI(base_url=".../openai/v1/")
```

The mode defaults to `Mode.AUTO`: strict json_schema where the api-version (and the deployment)
serve structured outputs, tools otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

from ._auth import as_async, resolve
from ._client import AsyncInstructor, Instructor, from_openai
from ._errors import ConfigurationError
from ._mode import Mode
from ._versions import LATEST_GA, V1_NAMES, Capabilities

#: The api-version `from_azure` uses when neither `api_version=` nor `OPENAI_API_VERSION` says one.
DEFAULT_API_VERSION = LATEST_GA


def _endpoint(value: str | None) -> str:
    endpoint = value or os.environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
    if not endpoint:
        raise ConfigurationError(
            "from_azure() needs azure_endpoint=... or the AZURE_OPENAI_ENDPOINT environment variable "
            "(https://<resource>.openai.azure.com)"
        )
    return endpoint


def v1_base_url(endpoint: str) -> str:
    """`https://<resource>.openai.azure.com/openai/v1/` from a resource endpoint (or that URL itself)."""
    base = endpoint.rstrip("/")
    if base.endswith("/openai/v1"):
        return base + "/"
    if base.endswith("/openai"):
        return base + "/v1/"
    return base + "/openai/v1/"


def from_azure(
    *,
    azure_endpoint: str | None = None,
    api_key: str | None = None,
    api_version: str | None = None,
    azure_deployment: str | None = None,
    azure_ad_token: str | None = None,
    azure_ad_token_provider: Callable[[], Any] | None = None,
    credential: Any = None,
    auth: str | None = None,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    certificate_path: str | None = None,
    certificate_password: str | None = None,
    federated_token_file: str | None = None,
    authority_host: str | None = None,
    credential_options: dict[str, Any] | None = None,
    scope: str | None = None,
    mode: Mode | str = Mode.AUTO,
    use_async: bool = False,
    after_completion: Callable[[Any, Any], Any] | None = None,
    model: str | None = None,
    **client_kwargs: Any,
) -> Instructor | AsyncInstructor:
    """Build the SDK's Azure client and wrap it.

    Where: `azure_endpoint` / `AZURE_OPENAI_ENDPOINT`; `api_version` / `OPENAI_API_VERSION` (default
    the latest GA, 2024-10-21; `"v1"` builds `OpenAI(base_url=".../openai/v1/")`, the v1 API);
    `azure_deployment` / `AZURE_OPENAI_DEPLOYMENT` optionally pins the deployment in the URL (dated API).
    Sign-in (one of): `api_key` / `AZURE_OPENAI_API_KEY`, `azure_ad_token` / `AZURE_OPENAI_AD_TOKEN`,
    `azure_ad_token_provider`, `credential=` an azure-identity credential, or `auth=` a method built
    from the settings Azure's SDKs read: `"service_principal"`, `"managed_identity"`,
    `"workload_identity"`, `"default"` (see `instructor_az._auth`; `credential_options=` goes to the
    credential's constructor); `scope` the token scope.
    `mode` defaults to `Mode.AUTO`; `model=` is the deployment every call gets unless it passes its
    own; other keywords go to the SDK client.
    """
    endpoint = _endpoint(azure_endpoint)
    version = api_version_of(api_version)
    options = {
        "tenant_id": tenant_id,
        "client_id": client_id,
        "client_secret": client_secret,
        "certificate_path": certificate_path,
        "certificate_password": certificate_password,
        "federated_token_file": federated_token_file,
        "authority_host": authority_host,
        "credential_options": credential_options,
    }
    settings = resolve(
        auth=auth,
        api_key=api_key,
        azure_ad_token=azure_ad_token,
        azure_ad_token_provider=azure_ad_token_provider,
        credential=credential,
        scope=scope,
        asynchronous=use_async,
        options=options,
    )
    hooks = {"after_completion": after_completion} if after_completion is not None else {}
    if version not in V1_NAMES:
        azure_deployment = azure_deployment or os.environ.get("AZURE_OPENAI_DEPLOYMENT") or None
    client = sdk_client(endpoint, version, settings.credentials, use_async, azure_deployment, client_kwargs)
    wrapped: Instructor | AsyncInstructor = from_openai(client, mode=mode, model=model, **hooks)
    wrapped._owned_credential = settings.owned
    return wrapped


def api_version_of(api_version: str | None) -> str:
    """`api_version` / `OPENAI_API_VERSION` / the default, checked: a dated version that is not one
    fails here saying what to use, a retired one warns; `v1` (or `latest`, `preview`) is the v1 API."""
    version = api_version or os.environ.get("OPENAI_API_VERSION", "").strip() or DEFAULT_API_VERSION
    capabilities = Capabilities(None if version in V1_NAMES else version)
    if not capabilities.is_v1:
        capabilities.serves("tools")
        capabilities.warn_if_retired()
    return version


def sdk_client(
    endpoint: str,
    version: str,
    credentials: dict[str, Any],
    use_async: bool,
    deployment: str | None,
    client_kwargs: dict[str, Any],
) -> Any:
    """The SDK's client for `version`: `AzureOpenAI` on a dated api-version (`deployment` pinned in its
    URL when given), `OpenAI(base_url=".../openai/v1/")` on the v1 API."""
    if version in V1_NAMES:
        return _v1_client(endpoint, credentials, use_async, deployment, client_kwargs)
    if deployment:
        client_kwargs = {**client_kwargs, "azure_deployment": deployment}
    factory = AsyncAzureOpenAI if use_async else AzureOpenAI
    return factory(azure_endpoint=endpoint, api_version=version, **credentials, **client_kwargs)


def _v1_client(
    endpoint: str,
    credentials: dict[str, Any],
    use_async: bool,
    deployment: str | None,
    client_kwargs: dict[str, Any],
) -> OpenAI | AsyncOpenAI:
    """`OpenAI(base_url=".../openai/v1/")`: a key or a static token as the bearer, or a token provider
    called before each request (the SDK's `api_key=` callable)."""
    if deployment:
        raise ConfigurationError(
            "azure_deployment= pins a deployment in the dated API's URL; on the v1 API pass model= instead"
        )
    if "api_key" in credentials:
        key: Any = credentials["api_key"]
    elif "azure_ad_token" in credentials:
        key = credentials["azure_ad_token"]
    else:
        provider = credentials["azure_ad_token_provider"]
        key = as_async(provider) if use_async else provider
    factory = AsyncOpenAI if use_async else OpenAI
    return factory(base_url=v1_base_url(endpoint), api_key=key, **client_kwargs)
