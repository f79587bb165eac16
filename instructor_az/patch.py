"""`patch(client)`: the openai client itself, its `chat.completions.create` taking `response_model=`.

instructor's oldest spelling, kept for code written against it:

```python
from openai import AzureOpenAI
import instructor_az as instructor

client = instructor.patch(AzureOpenAI(...))          # the same client object, patched in place
user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=[...])
```

The patched `create` is a thin shell over `Instructor` / `AsyncInstructor` driving the client's own,
unpatched `create`: the same plan, re-asks and streaming as `from_openai`, nothing else. It takes
`response_model=`, `max_retries=` (re-asks after the first attempt; default 1 as in instructor's patch), `context=` /
`validation_context=`, `strict=` and `hooks=` (a `Hooks` for this call only); `response_model=None`
(or absent) is the SDK's own call. Patching again re-patches the original `create`, never wraps twice.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from openai import AsyncOpenAI, OpenAI

from ._client import AsyncInstructor, Instructor
from ._errors import ConfigurationError
from ._hooks import Hooks
from ._mode import Mode

__all__ = ["apatch", "is_async", "patch"]

ClientT = TypeVar("ClientT", OpenAI, AsyncOpenAI)

PATCH_MAX_RETRIES = 1  # instructor's patched create makes one attempt unless told otherwise

_ORIGINAL = "__instructor_az_original__"
_SERVED_PROVIDERS = ("openai", "azure_openai")


def is_async(func: Callable[..., Any]) -> bool:
    """Whether `func` is a coroutine function, looking through `functools.wraps` wrappers."""
    while True:
        if inspect.iscoroutinefunction(func) or asyncio.iscoroutinefunction(func):
            return True
        wrapped = getattr(func, "__wrapped__", None)
        if not callable(wrapped):
            return False
        func = wrapped


def _check_provider(provider: Any) -> None:
    if provider is None:
        return
    name = str(getattr(provider, "value", provider)).lower()
    if name not in _SERVED_PROVIDERS:
        raise ConfigurationError(
            f"patch(provider={name!r}): provider not served by instructor-az, which patches OpenAI / Azure "
            f"OpenAI clients only ({', '.join(_SERVED_PROVIDERS)})"
        )


def _merged(base: Hooks, extra: Hooks | None) -> Hooks:
    if extra is None:
        return base
    if not isinstance(extra, Hooks):
        raise ConfigurationError(f"hooks= takes a Hooks, got {type(extra).__name__}")
    merged = base.copy()
    for name, handlers in extra._handlers.items():
        for handler in handlers:
            merged.on(name, handler)
    return merged


_PARAMETERS: dict[type[Any], frozenset[str]] = {}


def _create_parameters(kind: type[Any]) -> frozenset[str]:
    found = _PARAMETERS.get(kind)
    if found is None:
        found = _PARAMETERS[kind] = frozenset(inspect.signature(kind.create).parameters)
    return found


def _call_options(
    wrapper: Instructor | AsyncInstructor, strict: bool, hooks: Hooks | None, kwargs: dict[str, Any]
) -> tuple[Instructor | AsyncInstructor, dict[str, Any]]:
    """The client for this call (the patch's own, or one with the per-call hooks added) and the
    keywords `create` takes (`strict=` / `hooks=` are forwarded when the client's `create` has them)."""
    accepted = _create_parameters(type(wrapper))
    if "strict" in accepted:
        kwargs["strict"] = strict
    if "hooks" in accepted:
        if hooks is not None:
            kwargs["hooks"] = hooks
        return wrapper, kwargs
    if hooks is None:
        return wrapper, kwargs
    per_call = type(wrapper)(
        wrapper.client,  # type: ignore[arg-type]
        mode=wrapper.mode,
        hooks=_merged(wrapper.hooks, hooks),
        after_completion=wrapper._after_completion,
        create=wrapper._raw_create,
        defaults=wrapper.defaults,
    )
    return per_call, kwargs


def _patched_create(raw: Callable[..., Any], wrapper: Instructor | AsyncInstructor) -> Callable[..., Any]:
    if isinstance(wrapper, AsyncInstructor):

        @functools.wraps(raw)
        async def create_async(
            response_model: Any = None,
            *,
            max_retries: Any = PATCH_MAX_RETRIES,
            strict: bool = True,
            hooks: Hooks | None = None,
            **kwargs: Any,
        ) -> Any:
            client, options = _call_options(wrapper, strict, hooks, kwargs)
            result = client.create(response_model=response_model, max_retries=max_retries, **options)
            # a stream is an async iterator (awaiting the patched create gives it, as in instructor)
            return await result if inspect.isawaitable(result) else result

        setattr(create_async, _ORIGINAL, raw)
        return create_async

    @functools.wraps(raw)
    def create(
        response_model: Any = None,
        *,
        max_retries: Any = PATCH_MAX_RETRIES,
        strict: bool = True,
        hooks: Hooks | None = None,
        **kwargs: Any,
    ) -> Any:
        client, options = _call_options(wrapper, strict, hooks, kwargs)
        return client.create(response_model=response_model, max_retries=max_retries, **options)

    setattr(create, _ORIGINAL, raw)
    return create


@overload
def patch(client: ClientT, create: None = ..., mode: Mode | str = ..., provider: Any = ...) -> ClientT: ...
@overload
def patch(
    client: None = ..., *, create: Callable[..., Any], mode: Mode | str = ..., provider: Any = ...
) -> Callable[..., Any]: ...


def patch(
    client: Any = None,
    create: Callable[..., Any] | None = None,
    mode: Mode | str = Mode.TOOLS,
    provider: Any = None,
) -> Any:
    """Patch an `AzureOpenAI` / `OpenAI` client (sync or async) in place and return it: its
    `chat.completions.create` then takes `response_model=`, `max_retries=`, `context=`, `strict=`,
    `hooks=` as in instructor. With `create=` (an SDK `create` function) instead, the patched function
    is returned. `mode` is a `Mode` or its string; `provider`, if given, must be openai / azure_openai.
    """
    _check_provider(provider)
    mode = Mode.coerce(mode)
    if create is None:
        if client is None:
            raise ConfigurationError("patch() needs a client (AzureOpenAI, OpenAI, ...) or create=")
        # duck-typed as in instructor: anything with an openai-shaped `chat.completions.create`
        create = getattr(getattr(getattr(client, "chat", None), "completions", None), "create", None)
        if not callable(create):
            raise ConfigurationError(
                f"patch() needs an openai client (AzureOpenAI, AsyncAzureOpenAI, OpenAI, AsyncOpenAI) or an "
                f"object with chat.completions.create, got {type(client).__name__}"
            )
    raw = cast(Callable[..., Any], getattr(create, _ORIGINAL, create))
    run_async = isinstance(client, AsyncOpenAI) or (not isinstance(client, OpenAI) and is_async(raw))
    kind = AsyncInstructor if run_async else Instructor
    wrapper = kind(cast(Any, client), mode=mode, create=raw)
    patched = _patched_create(raw, wrapper)
    if client is None:
        return patched
    client.chat.completions.create = patched
    return client


def apatch(client: AsyncOpenAI, mode: Mode | str = Mode.TOOLS, provider: Any = None) -> AsyncOpenAI:
    """Deprecated (as in instructor): `patch(client)` patches async clients too."""
    warnings.warn("apatch is deprecated, use patch instead", DeprecationWarning, stacklevel=2)
    return patch(client, mode=mode, provider=provider)
