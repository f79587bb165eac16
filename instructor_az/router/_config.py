"""A router from a gateway-style config (the shape Portkey's docs show Azure users; seed 002).

```python
router = from_config({
    "strategy": {"mode": "fallback"},
    "targets": [
        {"strategy": {"mode": "loadbalance"}, "targets": [
            {"provider": "azure-openai", "resource_name": "eastus-res", "deployment_id": "gpt-4o",
             "api_key": "...", "api_version": "2024-10-21", "weight": 0.7},
            {"provider": "azure-openai", "resource_name": "westus-res", "deployment_id": "gpt-4o",
             "api_key": "...", "api_version": "2024-10-21", "weight": 0.3},
        ]},
        {"provider": "openai", "api_key": "sk-...", "override_params": {"model": "gpt-4o"}},
    ],
})
```

`loadbalance` is the `weighted` strategy, `fallback` the `ordered` one; `on_status_codes` adds 4xx
codes to the ones that move a request on (429, 5xx and connection errors always do); `retry.attempts`
is the router's `max_retries`. Azure targets are built by `from_azure` (keys, tokens and the
`azure_auth_mode` sign-ins), OpenAI ones by `OpenAI(...)`; a target may instead carry a ready
`"client"`. A key this module does not know is an error, never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError
from ._client import AsyncRouter, Router
from ._target import Group, Strategy, Target

_MODES: dict[str, Strategy] = {
    "loadbalance": "weighted",
    "fallback": "ordered",
    "least-busy": "least-busy",
    "latency": "latency",
}
_GROUP_KEYS = frozenset({"strategy", "targets", "weight", "name", "retry"})
_CONNECTION_KEYS = frozenset(
    {
        "provider",
        "api_key",
        "resource_name",
        "deployment_id",
        "api_version",
        "azure_endpoint",
        "custom_host",
        "azure_ad_token",
        "azure_auth_mode",
        "azure_entra_tenant_id",
        "azure_entra_client_id",
        "azure_entra_client_secret",
        "azure_managed_client_id",
        "azure_workload_client_id",
        "azure_entra_scope",
    }
)
_TARGET_KEYS = _CONNECTION_KEYS | {"weight", "name", "override_params", "spillover", "client"}
_AUTH_MODES = {"entra": "service_principal", "managed": "managed_identity", "workload": "workload_identity"}


def from_config(
    config: Mapping[str, Any], *, use_async: bool = False, http_client: Any = None, **router_options: Any
) -> Router | AsyncRouter:
    """A `Router` (`use_async=True`: an `AsyncRouter`) from a config dict; `http_client=` goes to every
    client it builds; other keywords are `Router(...)`'s (`cooldown=`, `seed=`, ...)."""
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"a router config is a dict, got {type(config).__name__}")
    codes: set[int] = set()
    retries: list[int] = []
    root = _group(config, "config", use_async, http_client, codes, retries)
    options = dict(router_options)
    if codes:
        options["fallback_on"] = frozenset(options.get("fallback_on", ())) | codes
    if retries and "max_retries" not in options:
        options["max_retries"] = retries[0]
    kind = AsyncRouter if use_async else Router
    return kind([root], **options)


def _group(
    node: Mapping[str, Any],
    where: str,
    use_async: bool,
    http_client: Any,
    codes: set[int],
    retries: list[int],
) -> Group:
    unknown = sorted(set(node) - _GROUP_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)} in a router group (it takes "
            f"{', '.join(sorted(_GROUP_KEYS))})"
        )
    strategy = node.get("strategy") or {"mode": "loadbalance"}
    if not isinstance(strategy, Mapping) or strategy.get("mode") not in _MODES:
        raise ConfigurationError(
            f"{where}: strategy must be {{'mode': one of {', '.join(_MODES)}}}, got {strategy!r}"
        )
    extra = sorted(set(strategy) - {"mode", "on_status_codes"})
    if extra:
        raise ConfigurationError(f"{where}: unknown strategy key(s) {', '.join(extra)}")
    for code in strategy.get("on_status_codes") or ():
        if isinstance(code, int) and not isinstance(code, bool) and (code == 429 or code >= 500):
            continue  # these always move a request on
        if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 499:
            raise ConfigurationError(f"{where}: on_status_codes takes HTTP status codes, got {code!r}")
        codes.add(code)
    retry = node.get("retry")
    if retry is not None:
        attempts = retry.get("attempts") if isinstance(retry, Mapping) else None
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ConfigurationError(f"{where}: retry must be {{'attempts': N}} with N >= 0, got {retry!r}")
        retries.append(attempts)
    targets = node.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ConfigurationError(f"{where}: targets must be a non-empty list")
    members: list[Target | Group] = []
    for i, item in enumerate(targets):
        here = f"{where}.targets[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{here}: a target is a dict, got {type(item).__name__}")
        if "targets" in item:
            members.append(_group(item, here, use_async, http_client, codes, retries))
        else:
            members.append(_target(item, here, use_async, http_client))
    return Group(
        members,
        _MODES[strategy["mode"]],
        weight=node.get("weight", 1.0),
        name=node.get("name"),
    )


def _target(item: Mapping[str, Any], where: str, use_async: bool, http_client: Any) -> Target:
    unknown = sorted(set(item) - _TARGET_KEYS)
    if unknown:
        hint = (
            " (Portkey's virtual keys live in its vault: give api_key here)"
            if "virtual_key" in unknown
            else ""
        )
        raise ConfigurationError(f"{where}: unknown target key(s) {', '.join(unknown)}{hint}")
    params = dict(item.get("override_params") or {})
    model = params.pop("model", None)
    if "client" in item:
        given = sorted(set(item) & _CONNECTION_KEYS)
        if given:
            raise ConfigurationError(f"{where}: a target with a ready client takes no {', '.join(given)}")
        client = item["client"]
    else:
        provider = item.get("provider")
        if provider == "azure-openai":
            client = _azure_client(item, where, use_async, http_client)
            model = model or item.get("deployment_id")
        elif provider == "openai":
            client = _openai_client(item, where, use_async, http_client)
        else:
            raise ConfigurationError(
                f"{where}: provider must be 'azure-openai' or 'openai', got {provider!r}"
            )
    name = item.get("name") or item.get("resource_name")
    if name is not None and model and "name" not in item:
        name = f"{name}/{model}"
    return Target(
        client,
        name=name,
        model=model,
        weight=item.get("weight", 1.0),
        spillover=item.get("spillover"),
        params=params,
    )


def _azure_client(item: Mapping[str, Any], where: str, use_async: bool, http_client: Any) -> Any:
    from .._azure import from_azure

    endpoint = item.get("azure_endpoint") or item.get("custom_host")
    if endpoint is None:
        resource = item.get("resource_name")
        if not isinstance(resource, str) or not resource:
            raise ConfigurationError(
                f"{where}: an azure-openai target needs resource_name (or azure_endpoint)"
            )
        endpoint = f"https://{resource}.openai.azure.com"
    token = item.get("azure_ad_token")
    if isinstance(token, str) and token.lower().startswith("bearer "):
        token = token[len("bearer ") :]
    mode = item.get("azure_auth_mode")
    if mode is not None and mode not in _AUTH_MODES:
        raise ConfigurationError(
            f"{where}: azure_auth_mode must be one of {', '.join(_AUTH_MODES)}, got {mode!r}"
        )
    client_id = (
        item.get("azure_entra_client_id")
        or item.get("azure_managed_client_id")
        or item.get("azure_workload_client_id")
    )
    extra = {"http_client": http_client} if http_client is not None else {}
    wrapped = from_azure(
        azure_endpoint=endpoint,
        api_key=item.get("api_key"),
        api_version=item.get("api_version"),
        azure_ad_token=token,
        auth=_AUTH_MODES[mode] if mode else None,
        tenant_id=item.get("azure_entra_tenant_id"),
        client_id=client_id,
        client_secret=item.get("azure_entra_client_secret"),
        scope=item.get("azure_entra_scope"),
        use_async=use_async,
        **extra,
    )
    return wrapped.client


def _openai_client(item: Mapping[str, Any], where: str, use_async: bool, http_client: Any) -> Any:
    from openai import AsyncOpenAI, OpenAI

    azure_only = sorted(
        k for k in item if k.startswith("azure_") or k in ("resource_name", "deployment_id", "api_version")
    )
    if azure_only:
        raise ConfigurationError(
            f"{where}: {', '.join(azure_only)} belong to azure-openai targets, not openai"
        )
    kwargs: dict[str, Any] = {"api_key": item.get("api_key")}
    if item.get("custom_host"):
        kwargs["base_url"] = item["custom_host"]
    if http_client is not None:
        kwargs["http_client"] = http_client
    factory = AsyncOpenAI if use_async else OpenAI
    return factory(**kwargs)
