"""`Router` / `AsyncRouter`: client-shaped objects that send each request to one of several targets.

They have the SDK's surface where requests are made (`router.chat.completions.create`, its
`with_raw_response`, `router.embeddings.create`, `with_options`, `copy`), so `from_openai(router)`
routes every attempt, re-ask and stream, and the pipeline runs over a router as over a client. The
routing itself is `_protocol.route`, driven by `drive_sync` or `drive_async`; the health it reads and
writes (`_health.Pool`) is shared by a router and all its views.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx2 as httpx

from .._errors import ConfigurationError
from .._hooks import Handler, HookName, Hooks
from ._health import RATE_HEADERS, Pool, TargetHealth
from ._protocol import Options, Routed, drive_async, drive_sync, route
from ._stream import AsyncRoutedStream, RoutedStream
from ._target import Group, Strategy, Target, capabilities, check_tree, kind_of

DEFAULT_COOLDOWN = 10.0
DEFAULT_FAILURES_TO_COOL = 3
#: A failed probe doubles the cooldown up to this: a region that recovers is back within a minute.
DEFAULT_MAX_COOLDOWN = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_WAIT = 60.0


def _number(name: str, value: Any, *, minimum: float = 0.0, whole: bool = False) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (whole and not isinstance(value, int))
    ):
        kind = "a whole number" if whole else "a number"
        raise ConfigurationError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ConfigurationError(f"{name} must be finite and >= {minimum:g}, got {value!r}")


def _root(
    targets: Iterable[Target | Group], strategy: Strategy, fallbacks: Iterable[Target | Group]
) -> Group:
    if isinstance(targets, (Target, Group)):
        targets = [targets]
    members = list(targets)
    group = Group(members, strategy)
    extra = list(fallbacks) if not isinstance(fallbacks, (Target, Group)) else [fallbacks]
    return Group([group, *extra], "ordered") if extra else group


class RoutedResponse:
    """`with_raw_response.create(...)` through a router: the serving target's response. Its headers
    carry the rate limits of the whole router: `x-ratelimit-remaining-*` summed over the targets
    available now (what the pipeline's pacer reads), and `x-instructor-az-target` names the target."""

    def __init__(self, routed: Routed, pool: Pool, parsed: Any) -> None:
        self.target = routed.target.label
        self.http_response = getattr(routed.raw, "http_response", None)
        headers = httpx.Headers(routed.raw.headers)
        totals = pool.remaining()
        for name in RATE_HEADERS:
            if name in totals:
                headers[name] = str(totals[name])
        headers["x-instructor-az-target"] = self.target
        self.headers = headers
        self._parsed = parsed

    def parse(self, **_: Any) -> Any:
        return self._parsed


class _Raw:
    def __init__(self, resource: _Resource) -> None:
        self._resource = resource

    def create(self, **kwargs: Any) -> Any:
        return self._resource._router._create(self._resource._path, kwargs, raw=True)


class _Resource:
    """`router.chat.completions`, `router.embeddings`: `create` and `with_raw_response.create`."""

    def __init__(self, router: _RouterBase, path: tuple[str, ...]) -> None:
        self._router, self._path = router, path
        self.with_raw_response = _Raw(self)

    def create(self, **kwargs: Any) -> Any:
        return self._router._create(self._path, kwargs, raw=False)


class _Chat:
    def __init__(self, router: _RouterBase) -> None:
        self.completions = _Resource(router, ("chat", "completions"))


class _RouterBase:
    _kind = "sync"

    def __init__(
        self,
        targets: Iterable[Target | Group] | Target | Group,
        *,
        strategy: Strategy = "weighted",
        fallbacks: Iterable[Target | Group] | Target | Group = (),
        cooldown: float = DEFAULT_COOLDOWN,
        failures_to_cool: int = DEFAULT_FAILURES_TO_COOL,
        max_cooldown: float = DEFAULT_MAX_COOLDOWN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_wait: float = DEFAULT_MAX_WAIT,
        fallback_on: Iterable[int] = (),
        fallback_on_content_filter: bool = False,
        latency_buffer: float = 0.2,
        quota_pause: float = 1.0,
        seed: int | None = None,
        clock: Any = None,
    ) -> None:
        """See docs/azure.md "Routing". `targets` are balanced by `strategy`; `fallbacks` are tried in
        order when every target failed or sits out a cooldown."""
        root = _root(targets, strategy, fallbacks)  # type: ignore[arg-type]
        leaves = check_tree(root)
        if kind_of(leaves) != self._kind:
            other = "AsyncRouter" if self._kind == "sync" else "Router"
            raise ConfigurationError(
                f"{type(self).__name__} needs {self._kind} clients (AzureOpenAI / OpenAI"
                f"{'' if self._kind == 'sync' else ' async twins'}); these targets are {kind_of(leaves)}: "
                f"use {other}"
            )
        _number("cooldown", cooldown)
        _number("max_cooldown", max_cooldown)
        _number("failures_to_cool", failures_to_cool, minimum=1, whole=True)
        _number("max_retries", max_retries, whole=True)
        _number("max_wait", max_wait)
        _number("latency_buffer", latency_buffer)
        _number("quota_pause", quota_pause)
        codes = frozenset(fallback_on)
        for code in codes:
            if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 499:
                raise ConfigurationError(
                    f"fallback_on takes HTTP 4xx status codes to fall back on (429, 5xx and connection "
                    f"errors always do), got {code!r}"
                )
        if clock is not None and not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds (like time.monotonic)")
        self._pool = Pool(
            root,
            cooldown=float(cooldown),
            failures_to_cool=failures_to_cool,
            max_cooldown=float(max(max_cooldown, cooldown)),
            latency_buffer=float(latency_buffer),
            quota_pause=float(quota_pause),
            clock=clock,
            seed=seed,
        )
        # The router retries: each target's own SDK retries are off, so a 429 moves on at once.
        self._clients: dict[str, Any] = {t.label: t.client.with_options(max_retries=0) for t in leaves}
        self._options = Options(
            max_retries=max_retries,
            max_wait=float(max_wait),
            fallback_on=codes,
            fallback_on_content_filter=bool(fallback_on_content_filter),
        )
        self.hooks = Hooks()
        self._bound: tuple[Hooks, ...] = ()
        self.capabilities = capabilities(leaves)
        self._build_resources()

    def _build_resources(self) -> None:
        self.chat = _Chat(self)
        self.embeddings = _Resource(self, ("embeddings",))
        self.responses = _Resource(self, ("responses",))

    # --- views -------------------------------------------------------------------------------------

    def _view(self, **changes: Any) -> Any:
        view = copy.copy(self)
        for name, value in changes.items():
            setattr(view, name, value)
        view._build_resources()
        return view

    def with_options(self, *, max_retries: int | None = None, **options: Any) -> Any:
        """A view of this router (same targets, same health): `max_retries` is the router's (rounds
        over the targets after the first); other options (`timeout`, `default_headers`, ...) go to
        every target's client."""
        changes: dict[str, Any] = {}
        if max_retries is not None:
            _number("max_retries", max_retries, whole=True)
            changes["_options"] = replace(self._options, max_retries=max_retries)
        if options:
            changes["_clients"] = {name: c.with_options(**options) for name, c in self._clients.items()}
        return self._view(**changes)

    copy = with_options

    def with_hooks(self, hooks: Hooks) -> Any:
        """A view that also reports `route:*` events to `hooks` (how `from_openai(router)` hears them)."""
        if any(h is hooks for h in self._bound):
            return self
        return self._view(_bound=(*self._bound, hooks))

    # --- hooks and health --------------------------------------------------------------------------

    def on(self, name: HookName | str, handler: Handler) -> None:
        self.hooks.on(name, handler)

    def off(self, name: HookName | str, handler: Handler) -> None:
        self.hooks.off(name, handler)

    def _notify(self, name: str, payload: Any) -> None:
        self.hooks.emit(name, payload)
        for hooks in self._bound:
            hooks.emit(name, payload)

    def health(self) -> list[TargetHealth]:
        """Each target's state now: cooling or not (and why), in flight, latency, counts."""
        return self._pool.snapshot()

    @property
    def targets(self) -> list[Target]:
        return list(self._pool.root.leaves())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} routes chat.completions, responses and embeddings, not {name!r}: use one target's "
            f"client for it (router.targets[i].client.{name})"
        )

    def __repr__(self) -> str:
        names = ", ".join(t.label for t in self.targets)
        return f"{type(self).__name__}(targets=[{names}])"

    def _protocol(self, kwargs: Mapping[str, Any]) -> Any:
        return route(self._pool, kwargs, self._options, self._notify, stream=bool(kwargs.get("stream")))

    def _result(self, routed: Routed, stream: bool, raw: bool, stream_type: type) -> Any:
        parsed = stream_type(routed, self._pool) if stream else routed.parsed
        return RoutedResponse(routed, self._pool, parsed) if raw else parsed

    def _create(self, path: tuple[str, ...], kwargs: dict[str, Any], *, raw: bool) -> Any:
        raise NotImplementedError


class Router(_RouterBase):
    """Routes each request over sync clients (`AzureOpenAI`, `OpenAI`); see docs/azure.md "Routing".

    ```python
    router = Router(
        [Target(east, name="eastus", model="gpt-4o", weight=3), Target(west, name="westus", model="gpt-4o")],
        fallbacks=[Target(OpenAI(), name="openai", model="gpt-4o-2024-08-06")],
    )
    client = instructor_az.from_openai(router)
    ```
    """

    _kind = "sync"

    def _create(self, path: tuple[str, ...], kwargs: dict[str, Any], *, raw: bool) -> Any:
        routed = drive_sync(self._protocol(kwargs), self._clients, path)
        return self._result(routed, bool(kwargs.get("stream")), raw, RoutedStream)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRouter(_RouterBase):
    """`Router` over async clients (`AsyncAzureOpenAI`, `AsyncOpenAI`): `await router.chat.completions.create(...)`."""

    _kind = "async"

    async def _create(self, path: tuple[str, ...], kwargs: dict[str, Any], *, raw: bool) -> Any:
        routed = await drive_async(self._protocol(kwargs), self._clients, path)
        return self._result(routed, bool(kwargs.get("stream")), raw, AsyncRoutedStream)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    async def __aenter__(self) -> AsyncRouter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def is_router(client: Any) -> bool:
    return isinstance(client, _RouterBase)


__all__: Sequence[str] = ("AsyncRouter", "RoutedResponse", "Router", "is_router")
