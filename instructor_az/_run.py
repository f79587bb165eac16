"""The re-ask loop, written once.

`Attempts` is a sans-IO state machine for one `create` call: it hands out the kwargs of the next
request, takes the completion that came back, and either returns the validated value, raises an
error that ends the call (content filter, cut-off output, refusal), or raises a validation error that
the retry policy may answer with another attempt (the conversation then carries the model's last
answer and the errors). `run_sync` / `run_async` are the only IO: they call the SDK and let a
tenacity `Retrying` / `AsyncRetrying` decide whether and when to go again.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from typing import Any

from openai import BadRequestError
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryError, Retrying, stop_after_attempt

from ._errors import (
    Attempt,
    AzureResponseError,
    CategoryResult,
    ConfigurationError,
    ContentFilterError,
    IncompleteOutputException,
    InstructorRetryException,
    PromptFilterError,
    ResponseParseError,
    Usage,
)
from ._hooks import Hooks, log
from ._plan import Plan
from .streaming._consume import StreamConsumer, StreamKind, final_value

JSON = dict[str, Any]
REASKABLE = (ValidationError, ResponseParseError)


def retrying_for(max_retries: int | Retrying | AsyncRetrying, *, is_async: bool) -> Retrying | AsyncRetrying:
    """A tenacity policy: an int is the number of attempts; a user's policy is kept (sync/async matched)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, (int, Retrying, AsyncRetrying)):
        raise ConfigurationError(
            f"max_retries must be an int (attempts) or a tenacity Retrying / AsyncRetrying, got {max_retries!r}"
        )
    if isinstance(max_retries, int):
        if max_retries < 1:
            raise ConfigurationError(
                f"max_retries must be at least 1 (the number of attempts), got {max_retries}"
            )
        stop = stop_after_attempt(max_retries)
        return AsyncRetrying(stop=stop, reraise=False) if is_async else Retrying(stop=stop, reraise=False)
    if is_async and not isinstance(max_retries, AsyncRetrying):
        return AsyncRetrying(**_policy(max_retries))
    if not is_async and isinstance(max_retries, AsyncRetrying):
        return Retrying(**_policy(max_retries))
    return max_retries


def _policy(retrying: Retrying | AsyncRetrying) -> dict[str, Any]:
    return {
        "stop": retrying.stop,
        "wait": retrying.wait,
        "retry": retrying.retry,
        "before": retrying.before,
        "after": retrying.after,
        "before_sleep": retrying.before_sleep,
        "reraise": retrying.reraise,
        "retry_error_callback": retrying.retry_error_callback,
    }


_SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key"})


def redacted(request: Mapping[str, Any]) -> JSON:
    """A copy of the SDK kwargs for hooks, with credentials in `extra_headers` hidden."""
    payload = copy.deepcopy(dict(request))
    headers = payload.get("extra_headers")
    if isinstance(headers, Mapping):
        payload["extra_headers"] = {
            k: ("<redacted>" if str(k).lower() in _SECRET_HEADERS else v) for k, v in headers.items()
        }
    return payload


def content_filter_categories(raw: Any) -> dict[str, CategoryResult]:
    if not isinstance(raw, Mapping):
        return {}
    return {name: CategoryResult.parse(value) for name, value in raw.items() if isinstance(value, Mapping)}


def prompt_filter_error(exc: BadRequestError) -> PromptFilterError | None:
    """Azure's prompt filter 400 (`code: content_filter`) as a `ContentFilterError`, else None."""
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    nested = body.get("error")
    error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    if error.get("code") != "content_filter":
        return None
    raw_inner = error.get("innererror")
    inner: Mapping[str, Any] = raw_inner if isinstance(raw_inner, Mapping) else {}
    return PromptFilterError(exc, content_filter_categories(inner.get("content_filter_result")))


def _extra(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


class Attempts:
    """The state of one call across its attempts (no IO)."""

    def __init__(
        self,
        plan: Plan,
        request: JSON,
        *,
        context: Mapping[str, Any] | None,
        hooks: Hooks,
        after_completion: list[Callable[[Any, Any], Any]],
    ) -> None:
        self.plan = plan
        self.request = request
        self.context = context
        self.hooks = hooks
        self.after_completion = after_completion
        self.attempts: list[Attempt] = []
        self.usage = Usage()
        self.last_completion: Any = None

    def next_request(self) -> JSON:
        if self.hooks:
            self.hooks.emit("completion:kwargs", **redacted(self.request))
        return self.request

    def request_failed(self, exc: BaseException) -> BaseException:
        """The error to raise for a failed request (the SDK's own, or a prompt `ContentFilterError`)."""
        if self.hooks:
            self.hooks.emit("completion:error", exc)
        if isinstance(exc, BadRequestError):
            filtered = prompt_filter_error(exc)
            if filtered is not None:
                filtered.usage = self.usage
                return filtered
        return exc

    def receive(self, completion: Any) -> Any:
        """Validate a completion: the value, or raise (re-askable validation error, or final error)."""
        self.last_completion = completion
        usage = Usage.of(completion)
        self.usage = self.usage + usage
        if self.hooks:
            self.hooks.emit("completion:response", completion)
        number = len(self.attempts) + 1
        try:
            self._azure_checks(completion)
            value = self.plan.parse(completion, self.context)
        except REASKABLE as exc:
            self.reject(completion, exc, usage=usage)
            raise
        except AzureResponseError as exc:
            self.attempts.append(Attempt(number, completion, exc, usage))
            exc.usage = self.usage
            raise
        self.attempts.append(Attempt(number, completion, None, usage))
        if number > 1:
            _set_total_usage(completion, self.usage)
        for callback in self.after_completion:
            try:
                callback(completion, value)
            except Exception:
                log.exception("after_completion callback raised; the call goes on")
        return value

    def reject(self, completion: Any, exc: BaseException, *, usage: Usage | None = None) -> None:
        """Record a failed answer and extend the conversation with the re-ask (also mid-stream)."""
        if usage is None:  # a stream stopped early: count what it reported, if anything
            usage = Usage.of(completion)
            self.usage = self.usage + usage
            self.last_completion = completion
        self.attempts.append(Attempt(len(self.attempts) + 1, completion, exc, usage))
        if self.hooks:
            self.hooks.emit("parse:error", exc)
        reask = self.plan.reask_messages(completion, exc)
        self.request = {**self.request, "messages": [*self.request["messages"], *reask]}

    def _azure_checks(self, completion: Any) -> None:
        choices = getattr(completion, "choices", None) or []
        if not choices:
            return
        choice = choices[0]
        reason = choice.finish_reason
        if reason == "content_filter":
            message = choice.message
            raise ContentFilterError(
                source="completion",
                categories=content_filter_categories(_extra(choice, "content_filter_results")),
                completion=completion,
                usage=self.usage,
                partial_text=message.content or _arguments(message),
            )
        if reason == "length":
            raise IncompleteOutputException(
                partial_text=choice.message.content or _arguments(choice.message),
                completion=completion,
                usage=self.usage,
            )

    def exhausted(self, last: BaseException | None) -> InstructorRetryException:
        if self.hooks:
            self.hooks.emit("completion:last_attempt", last)
        return InstructorRetryException(
            response_model_name=self.plan.target.display_name,
            attempts=self.attempts,
            total_usage=self.usage,
            messages=self.request["messages"],
        )


def _set_total_usage(completion: Any, total: Usage) -> None:
    """Report the tokens of every attempt on the completion returned (re-asks cost tokens too)."""
    if getattr(completion, "usage", None) is None:
        return
    completion.usage = completion.usage.model_copy(
        update={
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "total_tokens": total.total_tokens,
        }
    )


def _arguments(message: Any) -> str:
    calls = getattr(message, "tool_calls", None) or []
    return "".join(c.function.arguments for c in calls if getattr(c, "function", None))


class _Outcome:
    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


def run_sync(create: Callable[..., Any], state: Attempts, retrying: Retrying) -> Any:
    outcome: _Outcome | None = None
    try:
        for attempt in retrying:
            with attempt:
                request = state.next_request()
                try:
                    completion = create(**request)
                except Exception as exc:
                    outcome = _Outcome(error=state.request_failed(exc))
                else:
                    try:
                        outcome = _Outcome(state.receive(completion))
                    except AzureResponseError as exc:
                        outcome = _Outcome(error=exc)
            if outcome is not None:
                break
    except RetryError as exc:
        raise state.exhausted(exc.last_attempt.exception()) from exc.last_attempt.exception()
    except REASKABLE as exc:
        raise state.exhausted(exc) from exc
    return _settle(outcome)


async def run_async(create: Callable[..., Awaitable[Any]], state: Attempts, retrying: AsyncRetrying) -> Any:
    outcome: _Outcome | None = None
    try:
        async for attempt in retrying:
            with attempt:
                request = state.next_request()
                try:
                    completion = await create(**request)
                except Exception as exc:
                    outcome = _Outcome(error=state.request_failed(exc))
                else:
                    try:
                        outcome = _Outcome(state.receive(completion))
                    except AzureResponseError as exc:
                        outcome = _Outcome(error=exc)
            if outcome is not None:
                break
    except RetryError as exc:
        raise state.exhausted(exc.last_attempt.exception()) from exc.last_attempt.exception()
    except REASKABLE as exc:
        raise state.exhausted(exc) from exc
    return _settle(outcome)


def _settle(outcome: _Outcome | None) -> Any:
    if outcome is None:  # pragma: no cover - tenacity always runs one attempt
        raise RuntimeError("no attempt was made")
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


# --- streaming ------------------------------------------------------------------------------------


def _stream_request(state: Attempts) -> JSON:
    return {**state.next_request(), "stream": True}


def stream_sync(
    create: Callable[..., Any], state: Attempts, retrying: Retrying, kind: StreamKind
) -> Iterator[Any]:
    """Partial objects or complete items as the answer streams in, re-asking like `run_sync`.

    Closing the iterator closes the HTTP response and ends the call (never re-asked).
    """
    error: BaseException | None = None
    finished = False
    try:
        for attempt in retrying:
            with attempt:
                try:
                    stream = create(**_stream_request(state))
                except Exception as exc:
                    error = state.request_failed(exc)
                else:
                    consumer = StreamConsumer(state.plan, kind, state.context)
                    chunks = _guarded(stream, state)
                    try:
                        for chunk in chunks:
                            try:
                                found = consumer.feed(chunk)
                            except REASKABLE as exc:
                                state.reject(consumer.completion(), exc)
                                raise
                            for item in found:
                                yield item
                        try:
                            value = state.receive(consumer.completion())
                        except AzureResponseError as exc:
                            error = exc
                        else:
                            for item in final_value(kind, value):
                                yield item
                            finished = True
                    except _SDKFailure as failure:
                        error = failure.error
                    except GeneratorExit:
                        finished = True  # the caller stopped: no re-ask, no error
                    finally:
                        chunks.close()
                        stream.close()
            if error is not None or finished:
                break
    except RetryError as exc:
        raise state.exhausted(exc.last_attempt.exception()) from exc.last_attempt.exception()
    except REASKABLE as exc:
        raise state.exhausted(exc) from exc
    if error is not None:
        raise error


async def stream_async(
    create: Callable[..., Awaitable[Any]], state: Attempts, retrying: AsyncRetrying, kind: StreamKind
) -> AsyncIterator[Any]:
    """The async twin of `stream_sync`: the same steps, awaiting the SDK."""
    error: BaseException | None = None
    finished = False
    try:
        async for attempt in retrying:
            with attempt:
                try:
                    stream = await create(**_stream_request(state))
                except Exception as exc:
                    error = state.request_failed(exc)
                else:
                    consumer = StreamConsumer(state.plan, kind, state.context)
                    achunks = _aguarded(stream, state)
                    try:
                        async for chunk in achunks:
                            try:
                                found = consumer.feed(chunk)
                            except REASKABLE as exc:
                                state.reject(consumer.completion(), exc)
                                raise
                            for item in found:
                                yield item
                        try:
                            value = state.receive(consumer.completion())
                        except AzureResponseError as exc:
                            error = exc
                        else:
                            for item in final_value(kind, value):
                                yield item
                            finished = True
                    except _SDKFailure as failure:
                        error = failure.error
                    except GeneratorExit:
                        finished = True
                    finally:
                        await achunks.aclose()
                        await stream.close()
            if error is not None or finished:
                break
    except RetryError as exc:
        raise state.exhausted(exc.last_attempt.exception()) from exc.last_attempt.exception()
    except REASKABLE as exc:
        raise state.exhausted(exc) from exc
    if error is not None:
        raise error


class _SDKFailure(Exception):
    """An SDK error while reading a stream: ends the call, never re-asked."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _guarded(stream: Any, state: Attempts) -> Generator[Any, None, None]:
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _SDKFailure(state.request_failed(exc)) from exc
        yield chunk


async def _aguarded(stream: Any, state: Attempts) -> AsyncGenerator[Any, None]:
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except Exception as exc:
            raise _SDKFailure(state.request_failed(exc)) from exc
        yield chunk
