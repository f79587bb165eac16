"""`from_provider("azure_openai/<deployment>")`: a wrapped client from one string, as in instructor.

```python
import instructor_az as instructor

client = instructor.from_provider("azure_openai/gpt-4o")           # AZURE_OPENAI_* variables
client = instructor.from_provider("azure_openai/gpt-4o", async_client=True, mode="json_schema")
client = instructor.from_provider("openai/gpt-4o", base_url="https://<resource>.openai.azure.com/openai/v1/")
user = client.chat.completions.create(response_model=User, messages=[...])   # model="gpt-4o" by default
```

The part after the provider is the `model=` (on Azure, the deployment) of every call that passes none.
Keywords the SDK client's constructor takes (`http_client=`, `timeout=`, `max_retries=`,
`azure_ad_token_provider=`, `default_headers=`, ...) build the client; any other keyword is a default of
every call (`max_tokens=`, `temperature=`, ...). instructor-az serves the OpenAI / Azure OpenAI path only:
another provider's string is a `ConfigurationError` that says so.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from typing import Any, Literal, overload

from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

from ._azure import from_azure
from ._client import AsyncInstructor, Instructor
from ._errors import ConfigurationError
from ._mode import Mode
from ._versions import LATEST_GA, V1_NAMES

__all__ = ["DEFAULT_AZURE_API_VERSION", "from_provider", "supported_providers"]

log = logging.getLogger("instructor_az.auto_client")

InstructorType = Instructor | AsyncInstructor
ProviderBuilder = Callable[..., Any]

# Used when neither api_version= nor OPENAI_API_VERSION is given: the latest GA data-plane version
# (structured outputs, parallel tool calls).
DEFAULT_AZURE_API_VERSION = LATEST_GA

# instructor's other providers: named in the error, so a ported string fails saying why.
_NOT_SERVED = (
    "anthropic", "anyscale", "bedrock", "cerebras", "cohere", "databricks", "deepseek", "fireworks",
    "gemini", "generative-ai", "google", "groq", "litellm", "mistral", "ollama", "openrouter",
    "perplexity", "together", "vertexai", "writer", "xai",
)  # fmt: skip


def _constructor_keywords(kind: type[Any]) -> frozenset[str]:
    return frozenset(inspect.signature(kind.__init__).parameters) - {"self", "api_key"}


# Read once from the real SDK classes (not at call time: a test may replace `openai.OpenAI`).
_OPENAI_CLIENT_KEYWORDS = _constructor_keywords(OpenAI) | _constructor_keywords(AsyncOpenAI)
#: Keywords that build the client (the SDK's own, and from_azure's sign-in settings), not call defaults.
_AZURE_CLIENT_KEYWORDS = (
    _constructor_keywords(AzureOpenAI)
    | _constructor_keywords(AsyncAzureOpenAI)
    | (
        frozenset(inspect.signature(from_azure).parameters)
        - {"api_key", "mode", "use_async", "after_completion", "model", "client_kwargs"}
    )
)


def _split(kwargs: dict[str, Any], client_keywords: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the SDK client's constructor keywords, every call's defaults)."""
    if kwargs.get("cache") is not None:
        raise ConfigurationError("from_provider(cache=...): response caching is not part of instructor-az")
    kwargs = {k: v for k, v in kwargs.items() if k != "cache"}
    client = {k: v for k, v in kwargs.items() if k in client_keywords}
    defaults = {k: v for k, v in kwargs.items() if k not in client_keywords}
    return client, defaults


def _wrap(client: Any, model_name: str, mode: Mode | str | None, defaults: dict[str, Any]) -> Any:
    import instructor_az  # looked up at call time: `instructor.from_openai` is the public one

    return instructor_az.from_openai(client, mode=mode or Mode.TOOLS, model=model_name, **defaults)


def _build_openai(
    *,
    provider: str,
    model_name: str,
    async_client: bool,
    mode: Mode | str | None,
    api_key: str | None,
    kwargs: dict[str, Any],
    provider_info: dict[str, str],
) -> Any:
    """`openai/<model>`: `OpenAI` / `AsyncOpenAI` (e.g. on Azure's v1 routes with `base_url=`)."""
    import openai  # at call time: the `openai` module as it is now

    client_kwargs, defaults = _split(kwargs, _OPENAI_CLIENT_KEYWORDS)
    if not (api_key or os.environ.get("OPENAI_API_KEY")):
        # Said here, typed, before the SDK's own untyped "Missing credentials".
        raise ConfigurationError(
            f"from_provider('{provider}/{model_name}') needs credentials: api_key=... or the OPENAI_API_KEY "
            "environment variable (with base_url= / OPENAI_BASE_URL for Azure's v1 routes)"
        )
    factory = openai.AsyncOpenAI if async_client else openai.OpenAI
    client = factory(api_key=api_key, **client_kwargs)
    return _wrap(client, model_name, mode, defaults)


def _build_azure_openai(
    *,
    provider: str,
    model_name: str,
    async_client: bool,
    mode: Mode | str | None,
    api_key: str | None,
    kwargs: dict[str, Any],
    provider_info: dict[str, str],
) -> Any:
    """`azure_openai/<deployment>`: `AzureOpenAI` / `AsyncAzureOpenAI` through `from_azure` (arguments
    or `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY` / `AZURE_OPENAI_AD_TOKEN` /
    `azure_ad_token_provider=` / `credential=` / `auth=` and its settings, `OPENAI_API_VERSION`, else
    `DEFAULT_AZURE_API_VERSION`; `api_version="v1"` for the v1 API)."""
    client_kwargs, defaults = _split(kwargs, _AZURE_CLIENT_KEYWORDS)
    api_version = (
        client_kwargs.pop("api_version", None)
        or os.environ.get("OPENAI_API_VERSION")
        or DEFAULT_AZURE_API_VERSION
    )
    if api_version in V1_NAMES:
        pass  # the v1 API: the deployment is each call's model=
    elif "azure_deployment" not in client_kwargs and os.environ.get("AZURE_OPENAI_DEPLOYMENT"):
        # the string names the deployment: an AZURE_OPENAI_DEPLOYMENT variable must not reroute it
        client_kwargs["azure_deployment"] = model_name
    try:
        wrapped = from_azure(
            api_key=api_key,
            api_version=api_version,
            mode=mode or Mode.TOOLS,
            use_async=async_client,
            **client_kwargs,
        )
    except ConfigurationError as exc:  # the same advice, naming the call the user made
        raise ConfigurationError(
            str(exc).replace("from_azure()", f'from_provider("{provider}/...")')
        ) from None
    return _wrap(wrapped, model_name, wrapped.mode, defaults)


_PROVIDER_BUILDERS: dict[str, ProviderBuilder] = {
    "azure_openai": _build_azure_openai,
    "openai": _build_openai,
}

# The provider prefixes from_provider() accepts here.
supported_providers = list(_PROVIDER_BUILDERS)

_FORMAT = (
    'Model string must be in format "provider/model-name" (e.g. "azure_openai/gpt-4o" or "openai/gpt-4o")'
)


@overload
def from_provider(
    model: str, async_client: Literal[False] = False, cache: Any = None, **kwargs: Any
) -> Instructor: ...
@overload
def from_provider(
    model: str, async_client: Literal[True], cache: Any = None, **kwargs: Any
) -> AsyncInstructor: ...
@overload
def from_provider(
    model: str, async_client: bool = False, cache: Any = None, **kwargs: Any
) -> InstructorType: ...


def from_provider(
    model: str,
    async_client: bool = False,
    cache: Any = None,
    mode: Mode | str | None = None,
    **kwargs: Any,
) -> InstructorType:
    """A wrapped client from `"azure_openai/<deployment>"` or `"openai/<model>"`.

    `async_client=True` gives an `AsyncInstructor`; `mode=` a `Mode` or its string (default TOOLS);
    `api_key=` and the SDK client's own keywords build the client (else the usual environment
    variables); other keywords are defaults of every call. The model / deployment is every call's
    `model=` unless it passes one. Another provider (anthropic/, google/, ...) is a `ConfigurationError`.
    """
    if cache is not None:
        kwargs["cache"] = cache  # the builders refuse it, saying why
    if not isinstance(model, str) or "/" not in model:
        raise ConfigurationError(_FORMAT)
    provider, model_name = model.split("/", 1)
    if not provider or not model_name:
        raise ConfigurationError(f"{_FORMAT}, both parts non-empty")
    builder = _PROVIDER_BUILDERS.get(provider)
    if builder is None:
        served = ", ".join(
            f"{p}/<{'deployment' if p == 'azure_openai' else 'model'}>" for p in supported_providers
        )
        what = "an instructor provider" if provider in _NOT_SERVED else "unknown"
        raise ConfigurationError(
            f"Unsupported provider: {provider} ({what}): provider not served by instructor-az, which serves the "
            f"OpenAI / Azure OpenAI path only. Supported providers are: {served}"
        )
    api_key = kwargs.pop("api_key", None)
    provider_info = {"provider": provider, "operation": "initialize"}
    log.info("Initializing %s provider with model %s", provider, model_name, extra=provider_info)
    client = builder(
        provider=provider,
        model_name=model_name,
        async_client=async_client,
        mode=mode,
        api_key=api_key,
        kwargs=kwargs,
        provider_info=provider_info,
    )
    log.info("Client initialized", extra={**provider_info, "status": "success"})
    return client  # type: ignore[no-any-return]
