"""`Instructor` / `AsyncInstructor`: an openai client that also takes `response_model=`.

The classes are thin IO shells over the shared plan (`_plan`) and re-ask state machine (`_run`):
everything but the SDK call itself is written once.
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

from openai import AsyncOpenAI, AzureOpenAI, OpenAI
from tenacity import AsyncRetrying, Retrying

from ._errors import ConfigurationError
from ._hooks import Handler, HookName, Hooks
from ._inputs import check_context
from ._mode import Mode
from ._plan import compile_plan
from ._redact import scrub
from ._run import (
    Attempts,
    refuses_structured_outputs,
    retrying_for,
    run_async,
    run_sync,
    stream_async,
    stream_sync,
)
from ._versions import capabilities_of
from .dsl._multimodal import to_content_parts
from .dsl.iterable import IterableBase
from .router._client import AsyncRouter, Router, is_router
from .streaming._consume import StreamKind, check_streamable
from .streaming._partial_class import partial_target
from .telemetry import observer_for, with_headers

T = TypeVar("T")
ClientT = TypeVar("ClientT", OpenAI, AsyncOpenAI)

#: Re-asks after the first attempt (so 3 attempts in all), unless `max_retries=` says otherwise.
DEFAULT_MAX_RETRIES = 2


def _passthrough(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The SDK kwargs for `response_model=None`: untouched, but `Image` / `Audio` parts converted."""
    messages = kwargs.get("messages")
    if isinstance(messages, list):
        kwargs = {**kwargs, "messages": to_content_parts(messages)}
    return kwargs


def _passthrough_sync(create: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """The SDK's own call and result; its error, if any, with the request's credentials redacted."""
    try:
        return create(**_passthrough(kwargs))
    except Exception as exc:
        scrub(exc)
        raise


async def _passthrough_async(create: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
    try:
        return await create(**_passthrough(kwargs))
    except Exception as exc:
        scrub(exc)
        raise


class _Completions:
    """`client.chat.completions`: the same methods as the client itself."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner
        self.create = owner.create
        self.create_with_completion = owner.create_with_completion
        self.create_partial = owner.create_partial
        self.create_iterable = owner.create_iterable

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.client.chat.completions, name)


class _Chat:
    def __init__(self, owner: Any) -> None:
        self.completions = _Completions(owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.completions._owner.client.chat, name)


class _Base(Generic[ClientT]):
    client: ClientT
    _is_async = False

    def __init__(
        self,
        client: ClientT,
        *,
        mode: Mode | str = Mode.TOOLS,
        hooks: Hooks | None = None,
        after_completion: list[Callable[[Any, Any], Any]] | None = None,
        create: Callable[..., Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.mode = Mode.coerce(mode)
        self.capabilities = capabilities_of(client)
        #: deployments that refused structured outputs under `Mode.AUTO` (asked with tools from then on)
        self._without_structured_outputs: set[str] = set()
        self.hooks = hooks if hooks is not None else Hooks()
        self._after_completion = list(after_completion or [])
        # `create`: the SDK call to drive instead of `client.chat.completions.create` (`patch()` keeps the
        # unpatched one here); `defaults`: keywords every call gets unless it passes them (`model=`).
        self._raw_create = create
        self.defaults: dict[str, Any] = dict(defaults or {})
        #: "chat" (`client.chat.completions`), or "responses" in the view `client.responses` gives
        self._api = "chat"
        self.chat = _Chat(self)
        #: the azure-identity credential `from_azure` built for this client: closed with it
        self._owned_credential: Any = None

    @property
    def responses(self) -> Any:
        """The Responses API with `response_model=`: `client.responses.create(response_model=..., input=...)`,
        `create_with_completion`, `create_partial`, `create_iterable`, `stream=True`; the same client
        (hooks, defaults, mode: tools stay tools, other modes ask with `text.format` json_schema). The
        SDK's other `responses` methods (`retrieve`, `delete`, ...) are the raw client's."""
        view = copy.copy(self)
        view._api = "responses"
        return view

    @property
    def default_model(self) -> str | None:
        """The `model=` (deployment) a call gets when it passes none (`from_openai(..., model=)`)."""
        model = self.defaults.get("model")
        return model if isinstance(model, str) else None

    @property
    def _sdk_create(self) -> Callable[..., Any]:
        return self._create_for(self._api)

    def _create_for(self, api: str, state: Attempts | None = None) -> Callable[..., Any]:
        """The SDK call a request of `api` ("chat" or "responses") goes to. With telemetry on
        (`state.observer`), the SDK's raw response is asked for, so the attempt's span gets Azure's
        region and deployment headers."""
        client: Any = self.client
        if api == "chat" and self._raw_create is not None:
            return self._raw_create
        if is_router(client):  # its `route:*` events reach this client's hooks too
            client = client.with_hooks(self.hooks)
        resource = client.responses if api == "responses" else client.chat.completions
        # (Not beside openai-v2's instrumentation: it reads the parsed object the SDK call returns.)
        if state is not None and state.observer is not None and not state.observer.inner_spans:
            traced: Callable[..., Any] = with_headers(
                resource.with_raw_response.create, state.observer, self._is_async
            )
            return traced
        create: Callable[..., Any] = resource.create
        return create

    def _with_defaults(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        for key, value in self.defaults.items():
            kwargs.setdefault(key, value)
        return kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client={type(self.client).__name__}, mode={self.mode.value!r})"

    def __getattr__(self, name: str) -> Any:
        # embeddings, images, audio, completions, files, batches...: the raw client's own; in the
        # `responses` view, the SDK's `responses` methods (retrieve, delete, input_items, ...).
        if name.startswith("__") or "_api" not in self.__dict__:
            raise AttributeError(name)
        if self.__dict__["_api"] == "responses":
            return getattr(self.client.responses, name)
        return getattr(self.client, name)

    # hooks
    def on(self, name: HookName | str, handler: Handler) -> None:
        """Call `handler` at every `name` event (see `instructor_az.HOOK_NAMES`)."""
        self.hooks.on(name, handler)

    def off(self, name: HookName | str, handler: Handler) -> None:
        self.hooks.off(name, handler)

    def clear(self, name: HookName | str | None = None) -> None:
        self.hooks.clear(name)

    def _rewrap(self, client: ClientT) -> Any:
        wrapped = type(self)(
            client,
            mode=self.mode,
            hooks=self.hooks.copy(),
            after_completion=self._after_completion,
            defaults=self.defaults,
        )
        wrapped._without_structured_outputs = self._without_structured_outputs
        wrapped._api = self._api
        return wrapped

    def with_options(self, **options: Any) -> Any:
        """The SDK's `with_options` (max_retries, timeout, ...), still wrapped."""
        return self._rewrap(self.client.with_options(**options))

    def copy(self, **options: Any) -> Any:
        return self._rewrap(self.client.copy(**options))

    def _attempts(
        self,
        response_model: Any,
        kwargs: dict[str, Any],
        context: Mapping[str, Any] | None,
        validation_context: Mapping[str, Any] | None,
        stream: StreamKind | None = None,
        *,
        observe: bool = True,
    ) -> Attempts:
        """One call's protocol state. `observe=False`: no telemetry for it (a batch row's request,
        written to a file: no call runs; `_observer` gives it one if it goes on online)."""
        if context is not None and validation_context is not None:
            raise ConfigurationError("pass context= or validation_context= (the same thing), not both")
        check_context(context, "context")
        check_context(validation_context, "validation_context")
        kwargs.pop("stream", None)
        self._with_defaults(kwargs)
        mode = self.mode_for(kwargs.get("model"))
        if self._api == "responses" or mode.is_responses:
            mode = mode.on_responses()  # `client.responses`, or a Responses mode on chat's spelling
        self.capabilities.check_mode(mode)  # before any request: the api-version must serve the mode
        plan = compile_plan(response_model, mode)
        if stream is not None:
            check_streamable(plan, stream)
        request = plan.request(kwargs)
        replan = None
        if self.mode is Mode.AUTO and mode in (Mode.JSON_SCHEMA, Mode.RESPONSES_JSON_SCHEMA):
            tools = Mode.RESPONSES_TOOLS if mode.is_responses else Mode.TOOLS
            replan = self._tools_instead(response_model, dict(kwargs), stream, tools)
        observer = self._observer(plan, kwargs, stream) if observe else None
        return Attempts(
            plan,
            request,
            context=context if context is not None else validation_context,
            hooks=self.hooks,
            after_completion=self._after_completion,
            replan=replan,
            observer=observer,
        )

    def _observer(self, plan: Any, kwargs: Mapping[str, Any], stream: StreamKind | None) -> Any:
        """The telemetry of a call (None when it is off)."""
        return observer_for(
            response_model=plan.target.display_name,
            mode=plan.mode.value,
            api=plan.api,
            model=kwargs.get("model"),
            client=self.client,
            stream=stream,
        )

    def mode_for(self, deployment: Any) -> Mode:
        """The mode a call to `deployment` uses: the client's, or what `Mode.AUTO` picks for it."""
        if self.mode is not Mode.AUTO:
            return self.mode
        if isinstance(deployment, str) and deployment in self._without_structured_outputs:
            return Mode.TOOLS
        return self.capabilities.auto_mode()

    def _tools_instead(
        self, response_model: Any, kwargs: dict[str, Any], stream: StreamKind | None, mode: Mode = Mode.TOOLS
    ) -> Callable[[BaseException], tuple[Any, dict[str, Any]] | None]:
        """`Mode.AUTO`'s way back: when the deployment refuses structured outputs (Azure's 400 before
        any answer), the same call planned with tools, and the deployment remembered."""

        def replan(exc: BaseException) -> tuple[Any, dict[str, Any]] | None:
            if not refuses_structured_outputs(exc):
                return None
            deployment = kwargs.get("model")
            if isinstance(deployment, str):
                self._without_structured_outputs.add(deployment)
            tools = compile_plan(response_model, mode)
            if stream is not None:
                check_streamable(tools, stream)
            return tools, tools.request(kwargs)

        return replan


def _stream_kind(response_model: Any, kwargs: dict[str, Any]) -> tuple[Any, StreamKind | None]:
    """What `create(...)` streams, from the spellings users know: the model to plan, and the kind."""
    iterator = kwargs.pop("iterator", False)
    partial_of = partial_target(response_model)
    if partial_of is not None:
        return partial_of, "partial"
    is_iterable = _is_iterable_model(response_model)
    if iterator:
        return (response_model if is_iterable else Iterable[response_model]), "iterable"
    if kwargs.get("stream"):
        return response_model, ("iterable" if is_iterable else "partial")
    return response_model, None


def _is_iterable_model(response_model: Any) -> bool:
    """`Iterable[T]`, or an `IterableModel(T)` class: a response model whose items stream one by one."""
    if typing.get_origin(response_model) in (Iterable, typing.Iterable):
        return True
    return (
        isinstance(response_model, type)
        and issubclass(response_model, IterableBase)
        and response_model.task_type is not None
    )


def _as_iterable(response_model: Any) -> Any:
    return response_model if _is_iterable_model(response_model) else Iterable[response_model]


class Instructor(_Base[OpenAI]):
    """A sync openai client (`AzureOpenAI` or `OpenAI`) whose chat completions take `response_model=`."""

    def close(self) -> None:
        """Close the SDK client's connections and the Entra ID credential `from_azure(auth=...)` built
        for it (a credential you passed as `credential=` stays yours to close). Also `with client:`."""
        self.client.close()
        owned, self._owned_credential = self._owned_credential, None
        if owned is not None:
            owned.close()

    def __enter__(self) -> Instructor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @overload
    def create(
        self,
        *,
        response_model: type[T],
        max_retries: int | Retrying = ...,
        context: Mapping[str, Any] | None = ...,
        validation_context: Mapping[str, Any] | None = ...,
        **kwargs: Any,
    ) -> T: ...

    @overload
    def create(self, *, response_model: Any = ..., **kwargs: Any) -> Any: ...

    def create(
        self,
        *,
        response_model: Any = None,
        max_retries: int | Retrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chat completion validated into `response_model` (with re-asks), or the SDK's own object
        when `response_model` is None. Every other keyword goes to the SDK unchanged."""
        if response_model is None:
            return _passthrough_sync(self._sdk_create, self._with_defaults(kwargs))
        planned, kind = _stream_kind(response_model, kwargs)
        if kind is not None:
            return self._stream(planned, kind, max_retries, context, validation_context, kwargs)
        return self.create_with_completion(
            response_model=response_model,
            max_retries=max_retries,
            context=context,
            validation_context=validation_context,
            **kwargs,
        )[0]

    def _stream(
        self,
        response_model: Any,
        kind: StreamKind,
        max_retries: int | Retrying | AsyncRetrying,
        context: Mapping[str, Any] | None,
        validation_context: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> Iterator[Any]:
        state = self._attempts(response_model, kwargs, context, validation_context, stream=kind)
        policy = retrying_for(max_retries)
        return stream_sync(self._create_for(state.plan.api, state), state, policy, kind)

    def create_with_completion(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        """`(value, completion)`: the validated value and the raw completion it came from."""
        state = self._attempts(response_model, kwargs, context, validation_context)
        policy = retrying_for(max_retries)
        value = run_sync(self._create_for(state.plan.api, state), state, policy)
        return value, state.last_completion

    def create_partial(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Partial `response_model` objects as the answer streams in, then the validated object.

        The partial object is the same instance, updated in place (`partial.is_complete("field")` tells
        which fields are final); the last item is the complete, validated `response_model` (a new
        object, with the same accessors, every field complete).
        """
        model = partial_target(response_model) or response_model
        return self._stream(model, "partial", max_retries, context, validation_context, kwargs)

    def create_iterable(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Each object of a list, validated, as soon as its JSON closes in the stream."""
        return self._stream(
            _as_iterable(response_model), "iterable", max_retries, context, validation_context, kwargs
        )


class AsyncInstructor(_Base[AsyncOpenAI]):
    """An async openai client (`AsyncAzureOpenAI` or `AsyncOpenAI`) taking `response_model=`."""

    _is_async = True

    async def close(self) -> None:
        """Close the SDK client's connections and the Entra ID credential `from_azure(auth=...)` built
        for it (an `azure.identity.aio` credential holds its own HTTP session; one you passed as
        `credential=` stays yours to close). Also `async with client:`."""
        await self.client.close()
        owned, self._owned_credential = self._owned_credential, None
        if owned is not None:
            await owned.close()

    async def __aenter__(self) -> AsyncInstructor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def create(
        self,
        *,
        response_model: Any = None,
        max_retries: int | Retrying | AsyncRetrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Awaitable: the validated value (or the SDK's object when `response_model` is None).

        With `stream=True` (or `Partial[Model]`, or `iterator=True`) it returns an async iterator
        instead, used with `async for` (no `await`), as in instructor's guide.
        """
        if response_model is None:
            return _passthrough_async(self._sdk_create, self._with_defaults(kwargs))
        planned, kind = _stream_kind(response_model, kwargs)
        if kind is not None:
            return self._stream(planned, kind, max_retries, context, validation_context, kwargs)  # type: ignore[return-value]
        return self._create(
            response_model, max_retries, context, validation_context, kwargs, with_completion=False
        )

    def create_with_completion(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying | AsyncRetrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Awaitable[tuple[Any, Any]]:
        return self._create(
            response_model, max_retries, context, validation_context, kwargs, with_completion=True
        )

    async def _create(
        self,
        response_model: Any,
        max_retries: int | Retrying | AsyncRetrying,
        context: Mapping[str, Any] | None,
        validation_context: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
        *,
        with_completion: bool,
    ) -> Any:
        state = self._attempts(response_model, kwargs, context, validation_context)
        policy = retrying_for(max_retries)
        value = await run_async(self._create_for(state.plan.api, state), state, policy)
        return (value, state.last_completion) if with_completion else value

    def _stream(
        self,
        response_model: Any,
        kind: StreamKind,
        max_retries: int | Retrying | AsyncRetrying,
        context: Mapping[str, Any] | None,
        validation_context: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[Any]:
        state = self._attempts(response_model, kwargs, context, validation_context, stream=kind)
        policy = retrying_for(max_retries)
        return stream_async(self._create_for(state.plan.api, state), state, policy, kind)

    def create_partial(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying | AsyncRetrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """`async for` partial objects as the answer streams in, then the validated object."""
        model = partial_target(response_model) or response_model
        return self._stream(model, "partial", max_retries, context, validation_context, kwargs)

    def create_iterable(
        self,
        *,
        response_model: Any,
        max_retries: int | Retrying | AsyncRetrying = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """`async for` each object of a list, validated, as soon as it is complete."""
        return self._stream(
            _as_iterable(response_model), "iterable", max_retries, context, validation_context, kwargs
        )


def _client_only_keywords() -> frozenset[str]:
    """Keywords of the SDK clients' constructors that no chat completion takes (api_key, base_url...)."""
    from openai.resources.chat.completions import Completions

    constructor: set[str] = set()
    for kind in (OpenAI, AzureOpenAI):
        constructor.update(inspect.signature(kind.__init__).parameters)
    return frozenset(constructor - set(inspect.signature(Completions.create).parameters) - {"self"})


_CLIENT_ONLY_KEYWORDS = _client_only_keywords()


@overload
def from_openai(
    client: OpenAI, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> Instructor: ...
@overload
def from_openai(
    client: AsyncOpenAI, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> AsyncInstructor: ...
@overload
def from_openai(
    client: Router, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> Instructor: ...
@overload
def from_openai(
    client: AsyncRouter, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> AsyncInstructor: ...
@overload
def from_openai(
    client: Instructor, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> Instructor: ...
@overload
def from_openai(
    client: AsyncInstructor, mode: Mode | str = ..., model: str | None = ..., **kwargs: Any
) -> AsyncInstructor: ...


def from_openai(
    client: Any, mode: Mode | str = Mode.TOOLS, model: str | None = None, **kwargs: Any
) -> Instructor | AsyncInstructor:
    """Wrap an `AzureOpenAI` / `AsyncAzureOpenAI` (or `OpenAI` / `AsyncOpenAI` on Azure's v1 routes).

    `mode` is a `Mode` or its string ("tools", "json_schema", ...). `model=` is the model (on Azure, the
    deployment) every call gets unless it passes its own. `after_completion=f` calls `f(completion, value)`
    after each successful call; `hooks=` a `Hooks` to start from. Any other keyword is a default of every
    call (as in instructor: `from_openai(client, temperature=0)`). Wrapping an already wrapped client
    re-wraps its raw client (keeping its hooks and defaults).
    """
    misplaced = sorted(set(kwargs) & _CLIENT_ONLY_KEYWORDS)
    if misplaced:  # named, never echoed: the value may be a credential
        raise ConfigurationError(
            f"from_openai() got {', '.join(misplaced)}: the SDK client's own setting(s); pass them to "
            "AzureOpenAI(...) / OpenAI(...), or use from_azure() / from_provider()"
        )
    mode = Mode.coerce(mode)
    after_completion = kwargs.pop("after_completion", None)
    hooks = kwargs.pop("hooks", None)
    if hooks is not None and not isinstance(hooks, Hooks):
        raise ConfigurationError(f"from_openai(hooks=...) takes a Hooks, got {type(hooks).__name__}")
    after = [after_completion] if after_completion is not None else []
    defaults = {**kwargs, **({"model": model} if model is not None else {})}
    if isinstance(client, (Instructor, AsyncInstructor)):
        kind = type(client)
        return kind(
            client.client,  # type: ignore[arg-type]
            mode=mode,
            hooks=(hooks if hooks is not None else client.hooks).copy(),
            after_completion=[*client._after_completion, *after],
            defaults={**client.defaults, **defaults},
        )
    if isinstance(client, (OpenAI, Router)):
        return Instructor(
            client,  # type: ignore[arg-type]  # a Router has the client's surface where requests go
            mode=mode,
            hooks=hooks,
            after_completion=after,
            defaults=defaults,
        )
    if isinstance(client, (AsyncOpenAI, AsyncRouter)):
        return AsyncInstructor(
            client,  # type: ignore[arg-type]
            mode=mode,
            hooks=hooks,
            after_completion=after,
            defaults=defaults,
        )
    raise ConfigurationError(
        f"from_openai() needs an openai client (AzureOpenAI, AsyncAzureOpenAI, OpenAI, AsyncOpenAI) or an "
        f"instructor_az.router Router / AsyncRouter, got "
        f"{type(client).__name__}"
    )
