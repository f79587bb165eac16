"""The re-ask loop, written once.

`Attempts` is a sans-IO state machine for one `create` call: it hands out the kwargs of the next
request, takes the completion that came back, and either returns the validated value, raises an
error that ends the call (content filter, cut-off output, refusal), or raises a validation error that
the retry policy may answer with another attempt (the conversation then carries the model's last
answer and the errors). `run_sync` / `run_async` are the only IO: they call the SDK and let a
tenacity `Retrying` / `AsyncRetrying` decide whether and when to go again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import inspect
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openai import BadRequestError
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryAction, RetryCallState, Retrying, stop_after_attempt

from ._answer_checks import content_filter_categories
from ._errors import (
    Attempt,
    AzureResponseError,
    ConfigurationError,
    InstructorRetryException,
    PromptFilterError,
    ResponseParseError,
    Usage,
)
from ._hooks import Hooks, log
from ._inputs import check_policy
from ._plan import Plan, format_errors, validation_errors
from ._redact import scrub
from .streaming._consume import StreamConsumer, StreamKind, final_value

JSON = dict[str, Any]
REASKABLE = (ValidationError, ResponseParseError)


def retrying_for(max_retries: int | Retrying | AsyncRetrying) -> Retrying | AsyncRetrying:
    """A tenacity policy. An int is how many times an invalid answer is re-asked, as in instructor:
    `max_retries=2` allows 3 attempts, `0` one. A user's `Retrying` / `AsyncRetrying` is used as given
    (its strategies and callbacks drive re-asks in sync and async calls alike)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, (int, Retrying, AsyncRetrying)):
        raise ConfigurationError(
            f"max_retries must be an int (re-asks after the first attempt) or a tenacity Retrying / "
            f"AsyncRetrying, got {max_retries!r}"
        )
    if isinstance(max_retries, int):
        if max_retries < 0:
            raise ConfigurationError(
                f"max_retries must be 0 or more (re-asks after the first attempt), got {max_retries}"
            )
        return _default_policy(max_retries + 1)
    check_policy(max_retries)
    return max_retries


@lru_cache(maxsize=64)
def _default_policy(attempts: int) -> Retrying:
    # Only its strategy objects are read (never its per-run state), so one instance serves all calls.
    return Retrying(stop=stop_after_attempt(attempts))


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


def _error_of(exc: BadRequestError) -> Mapping[str, Any]:
    """The `error` object of an SDK error's body (the body itself when it is not wrapped)."""
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    nested = body.get("error")
    return nested if isinstance(nested, Mapping) else body


def refuses_structured_outputs(exc: BaseException) -> bool:
    """Azure's 400 for `response_format: json_schema` on a model without structured outputs."""
    if not isinstance(exc, BadRequestError):
        return False
    text = f"{_error_of(exc).get('message', '')} {exc.message}".lower()
    return "json_schema" in text and "not supported" in text and "model" in text


def prompt_filter_error(exc: BadRequestError) -> PromptFilterError | None:
    """Azure's prompt filter 400 (`code: content_filter`) as a `ContentFilterError`, else None."""
    error = _error_of(exc)
    if error.get("code") != "content_filter":
        return None
    raw_inner = error.get("innererror")
    inner: Mapping[str, Any] = raw_inner if isinstance(raw_inner, Mapping) else {}
    return PromptFilterError(exc, content_filter_categories(inner.get("content_filter_result")))


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
        replan: Callable[[BaseException], tuple[Plan, JSON] | None] | None = None,
        observer: Any = None,
    ) -> None:
        self.plan = plan
        #: the call's telemetry (`instructor_az.telemetry`), told each step; None when it is off
        self.observer = observer
        self.request = request
        #: another plan for the same call when the first request is refused (`Mode.AUTO`), or None
        self.replan = replan
        self.context = context
        self.hooks = hooks
        self.after_completion = after_completion
        self.attempts: list[Attempt] = []
        self.usage = Usage()
        self.last_completion: Any = None
        #: items an iterable stream has yielded so far, over all attempts (a re-ask asks for the rest)
        self.yielded_items: list[Any] = []

    def next_request(self, **extra: Any) -> JSON:
        """The kwargs of the next request (with `extra`, e.g. `stream=True`), as hooks see them."""
        request = {**self.request, **extra} if extra else self.request
        if self.observer is not None:  # first: the hooks and the SDK call run inside the attempt's span
            self.observer.attempt_started(request)
        if self.hooks:
            self.hooks.emit("completion:kwargs", **redacted(request))
        return request

    def sent(self) -> None:
        """The request is out (answered, failed, or its stream begun)."""
        if self.observer is not None:
            self.observer.sent()

    def replanned(self, exc: BaseException) -> bool:
        """Whether a refused request is sent again under another plan (once, before any answer)."""
        if self.replan is None or self.attempts:
            return False
        found = self.replan(exc)
        self.replan = None
        if found is None:
            return False
        self.plan, self.request = found
        log.info("the deployment refused structured outputs; asking with tools (%s)", type(exc).__name__)
        return True

    def request_failed(self, exc: BaseException) -> BaseException:
        """The error to raise for a failed request (the SDK's own, or a prompt `ContentFilterError`),
        with the credentials in its HTTP request (and its cause / context) redacted first."""
        scrub(exc)
        if self.hooks:
            self.hooks.emit("completion:error", exc)
        if isinstance(exc, BadRequestError):
            filtered = prompt_filter_error(exc)
            if filtered is not None:
                filtered.usage = self.usage
                exc = scrub(filtered)
        if self.observer is not None:
            self.observer.failed(exc)
        return exc

    def receive(self, completion: Any) -> Any:
        """Validate a completion: the value, or raise (re-askable validation error, or final error)."""
        self.last_completion = completion
        usage = Usage.reported(completion, self.request)
        self.usage = self.usage + usage
        number = len(self.attempts) + 1
        if self.hooks:
            self.hooks.emit("completion:response", completion)
            # The running total, a frozen snapshot (estimated parts say so: `Usage.estimated_requests`).
            self.hooks.emit("completion:usage", self.usage, attempt_number=number)
        if self.observer is not None:
            self.observer.answered(completion, usage)
        try:
            self.plan.check_answer(completion, usage, self.usage)
            value = self.plan.parse(completion, self.context)
        except REASKABLE as exc:
            self.reject(completion, exc, usage=usage)
            raise
        except AzureResponseError as exc:
            self.attempts.append(Attempt(number, completion, exc, usage))
            exc.usage = self.usage
            if self.observer is not None:
                self.observer.failed(exc)
            raise
        self.attempts.append(Attempt(number, completion, None, usage))
        if self.observer is not None:
            self.observer.succeeded()
        if number > 1:  # a copy: the completion hooks saw keeps the usage Azure reported for it
            completion = self.last_completion = _with_total_usage(completion, self.usage)
        for callback in self.after_completion:
            try:
                callback(completion, value)
            except Exception:
                log.exception("after_completion callback raised; the call goes on")
        return value

    def reject(self, completion: Any, exc: BaseException, *, usage: Usage | None = None) -> None:
        """Record a failed answer and extend the conversation with the re-ask (also mid-stream)."""
        if usage is None:  # a stream stopped early: Azure's usage chunk never came, so it is estimated
            usage = Usage.reported(completion, self.request)
            self.usage = self.usage + usage
            self.last_completion = completion
            if self.hooks:
                self.hooks.emit("completion:usage", self.usage, attempt_number=len(self.attempts) + 1)
            if self.observer is not None:
                self.observer.answered(completion, usage)
        self.attempts.append(Attempt(len(self.attempts) + 1, completion, exc, usage))
        if self.hooks:
            self.hooks.emit("parse:error", exc)
        if self.observer is not None:
            self.observer.rejected(exc, validation_errors(exc), format_errors(exc))
        self.request = self.plan.reask_request(self.request, completion, exc, accepted=len(self.yielded_items))

    def last_attempt(self, last: BaseException | None) -> None:
        """No attempt is left (whether the call then raises or the policy supplies a value)."""
        if self.hooks:
            self.hooks.emit("completion:last_attempt", last)

    def exhausted(self, last: BaseException | None) -> InstructorRetryException:
        self.last_attempt(last)
        return InstructorRetryException(
            response_model_name=self.plan.target.display_name,
            attempts=self.attempts,
            total_usage=self.usage,
            messages=self.request.get("messages", self.request.get("input")),
            create_kwargs=redacted(self.request),
        )


def _with_total_usage(completion: Any, total: Usage) -> Any:
    """A copy of the completion returned, reporting the tokens of every attempt (re-asks cost tokens too)."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return completion
    if hasattr(usage, "input_tokens"):  # the Responses API's names
        fields = {"input_tokens": total.prompt_tokens, "output_tokens": total.completion_tokens}
    else:
        fields = {"prompt_tokens": total.prompt_tokens, "completion_tokens": total.completion_tokens}
    usage = usage.model_copy(update={**fields, "total_tokens": total.total_tokens})
    return completion.model_copy(update={"usage": usage})


# --- the protocol: every attempt, re-ask and stream step, written once --------------------------
#
# `_call` is a generator that yields IO operations (`_Create`, `_Next`, `_Close`, `_Sleep`, `_Invoke`,
# `_Emit`) and receives their results; it never does IO itself. `_drive_sync` and `_drive_async` perform
# the operations with the sync or async SDK client. The user's tenacity policy is honoured step by
# step (before, retry, after, stop, wait, before_sleep), its callbacks run by the driver so async
# ones are awaited.


@dataclass(frozen=True, slots=True)
class _Create:
    request: JSON


@dataclass(frozen=True, slots=True)
class _Next:
    stream: Any


@dataclass(frozen=True, slots=True)
class _Close:
    stream: Any


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class _Invoke:
    fn: Callable[[RetryCallState], Any]
    retry_state: RetryCallState


@dataclass(frozen=True, slots=True)
class _Emit:
    item: Any


@dataclass(frozen=True, slots=True)
class _Done:
    value: Any


_Op = _Create | _Next | _Close | _Sleep | _Invoke | _Emit
_END = object()  # what `_Next` receives when the stream is over


class _Final(Exception):
    """An SDK error: it ends the call (the SDK already retried what it retries); never re-asked."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def _send(state: Attempts, **extra: Any) -> Generator[_Op, Any, Any]:
    """The attempt's request, sent; a request refused for its plan goes again under the new one."""
    while True:
        request = state.next_request(**extra)
        try:
            return (yield _Create(request))
        except Exception as exc:
            if state.replanned(exc):
                continue
            raise _Final(state.request_failed(exc)) from exc
        finally:
            state.sent()


def _answer(state: Attempts) -> Generator[_Op, Any, Any]:
    """One non-streamed attempt."""
    completion = yield from _send(state)
    return state.receive(completion)


def _stream(state: Attempts, kind: StreamKind) -> Generator[_Op, Any, Any]:
    """One streamed attempt: emit partial objects or items as chunks arrive, then the final value."""
    stream = yield from _send(state, stream=True)
    consumer = StreamConsumer(state.plan, kind, state.context)
    continuation = Continuation(state.yielded_items) if kind == "iterable" else None
    read = _Next(stream)  # one operation object, yielded for every chunk
    try:
        while True:
            try:
                chunk = yield read
            except Exception as exc:
                raise _Final(state.request_failed(exc)) from exc
            if chunk is _END:
                break
            try:
                found = consumer.feed(chunk)
            except REASKABLE as exc:
                state.reject(consumer.completion(), exc)  # stop reading: the answer is already wrong
                raise
            if continuation is not None:
                found = continuation.take(found)
            if found and state.observer is not None:
                state.observer.first_output()
            for item in found:
                yield _Emit(item)
        value = state.receive(consumer.completion())
        if continuation is not None:
            for item in continuation.finish():
                yield _Emit(item)
    except GeneratorExit:
        raise  # the caller stopped; the driver closes the response
    except BaseException:
        yield _Close(stream)
        raise
    yield _Close(stream)
    for item in final_value(kind, value):
        yield _Emit(item)
    return value


class Continuation:
    """The items of one streamed attempt at an iterable, given the items earlier attempts yielded.

    A re-ask after items were yielded asks the model for the items after them only ("items 1..k were
    accepted, continue from item k+1"). Models do not always comply: some send the whole list again,
    some start a few items back. So an answer that opens by repeating the last accepted items (the
    longest such overlap) has that repeat skipped, and the items after it are yielded: no item is
    yielded twice, none is dropped. While the opening items could still be such a repeat they are held
    back (at most k of them). The one ambiguity: an answer whose genuinely new first items equal the
    last accepted ones is read as a repeat.
    """

    def __init__(self, accepted: list[Any]) -> None:
        self.accepted = accepted  # shared with the call's state: what has been yielded, all attempts
        self.start = len(accepted)
        self.held: list[Any] = []
        # Overlap lengths j still possible: accepted[-j:] could be what the answer opens with.
        self.candidates: list[int] | None = list(range(1, self.start + 1)) if self.start else None

    def take(self, items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if self.candidates is None:
                out.append(item)
                continue
            m = len(self.held)  # this item's index in the answer
            self.held.append(item)
            k = self.start
            self.candidates = [j for j in self.candidates if m >= j or self.accepted[k - j + m] == item]
            if all(j <= m + 1 for j in self.candidates):  # nothing pending: decide now
                out.extend(self._release())
        self.accepted.extend(out)
        return out

    def finish(self) -> list[Any]:
        """At the end of the answer: whatever is still held back."""
        out = self._release() if self.candidates is not None else []
        self.accepted.extend(out)
        return out

    def _release(self) -> list[Any]:
        held, candidates = self.held, self.candidates or []
        overlap = max((j for j in candidates if j <= len(held)), default=0)
        self.candidates, self.held = None, []
        return held[overlap:]


def _call(
    state: Attempts, policy: Retrying | AsyncRetrying, attempt: Callable[[], Generator[_Op, Any, Any]]
) -> Generator[_Op, Any, Any]:
    """Attempts under the user's tenacity policy; re-asks on validation errors only."""
    if state.observer is None:
        return (yield from _attempts(state, policy, attempt))
    error: BaseException | None = None
    try:
        return (yield from _attempts(state, policy, attempt))
    except BaseException as exc:
        error = None if isinstance(exc, GeneratorExit) else exc
        raise
    finally:
        state.observer.ended(error, state.usage, len(state.attempts))


def _attempts(
    state: Attempts, policy: Retrying | AsyncRetrying, attempt: Callable[[], Generator[_Op, Any, Any]]
) -> Generator[_Op, Any, Any]:
    retry_state = RetryCallState(policy, None, (), {})
    while True:
        if policy.before is not None:
            yield _Invoke(policy.before, retry_state)
        failed: BaseException | None = None
        try:
            return (yield from attempt())
        except _Final as final:
            failed = final.error
        except REASKABLE as exc:
            retry_state.set_exception((type(exc), exc, exc.__traceback__))
            if not (yield _Invoke(policy.retry, retry_state)):
                raise state.exhausted(exc) from exc
            if policy.after is not None:
                yield _Invoke(policy.after, retry_state)
            # tenacity's order: the wait is known before `stop` runs (stop_before_delay reads it), and
            # `next_action` is set before `before_sleep` (before_sleep_log reads it).
            seconds = float((yield _Invoke(policy.wait, retry_state)) or 0)
            retry_state.upcoming_sleep = seconds
            if (yield _Invoke(policy.stop, retry_state)):
                if policy.retry_error_callback is not None:
                    state.last_attempt(exc)
                    return (yield _Invoke(policy.retry_error_callback, retry_state))
                raise state.exhausted(exc) from exc
            retry_state.next_action = RetryAction(seconds)
            retry_state.idle_for += seconds
            if policy.before_sleep is not None:
                yield _Invoke(policy.before_sleep, retry_state)
            if seconds > 0:
                yield _Sleep(seconds)
            retry_state.prepare_for_next_attempt()
        if failed is not None:
            # Raised outside the `except`: the SDK's error keeps its own __cause__ (the httpx error
            # of a connection failure) and gets no __context__ from the protocol's plumbing.
            raise failed


def _wait_for(awaitable: Awaitable[Any]) -> Any:
    """The result of an awaitable, from sync code (on a worker thread when a loop already runs here)."""

    async def wrapped() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrapped())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapped()).result()


def _drive_sync(protocol: Generator[_Op, Any, Any], create: Callable[..., Any]) -> Generator[Any, None, None]:
    """Perform the protocol's operations with a sync client; yields emitted items, then `_Done`."""
    streams: list[Any] = []
    result: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                op = protocol.throw(error) if error is not None else protocol.send(result)
            except StopIteration as stop:
                yield _Done(stop.value)
                return
            result, error = None, None
            try:
                if isinstance(op, _Next):  # the common operations first: a chunk, an item
                    result = next(op.stream, _END)
                elif isinstance(op, _Emit):
                    yield op.item
                elif isinstance(op, _Create):
                    result = create(**op.request)
                    if op.request.get("stream"):
                        streams.append(result)
                elif isinstance(op, _Invoke):
                    result = op.fn(op.retry_state)
                    if inspect.isawaitable(result):  # an AsyncRetrying's async callback, in a sync call
                        result = _wait_for(result)
                elif isinstance(op, _Close):
                    op.stream.close()
                    streams.remove(op.stream)
                else:
                    time.sleep(op.seconds)
            except Exception as exc:
                error = exc
    finally:
        for stream in streams:  # the caller stopped early: close the HTTP response
            stream.close()
        protocol.close()


async def _drive_async(
    protocol: Generator[_Op, Any, Any], create: Callable[..., Any]
) -> AsyncGenerator[Any, None]:
    """The same operations with an async client (and tenacity callbacks awaited when they are async)."""
    streams: list[Any] = []
    result: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                op = protocol.throw(error) if error is not None else protocol.send(result)
            except StopIteration as stop:
                yield _Done(stop.value)
                return
            result, error = None, None
            try:
                if isinstance(op, _Next):  # the common operations first: a chunk, an item
                    result = await anext(op.stream, _END)
                elif isinstance(op, _Emit):
                    yield op.item
                elif isinstance(op, _Create):
                    result = await create(**op.request)
                    if op.request.get("stream"):
                        streams.append(result)
                elif isinstance(op, _Invoke):
                    result = op.fn(op.retry_state)
                    if inspect.isawaitable(result):
                        result = await result
                elif isinstance(op, _Close):
                    await op.stream.close()
                    streams.remove(op.stream)
                else:
                    await asyncio.sleep(op.seconds)
            except Exception as exc:
                error = exc
    finally:
        for stream in streams:
            await stream.close()
        protocol.close()


def run_sync(create: Callable[..., Any], state: Attempts, policy: Retrying | AsyncRetrying) -> Any:
    for item in _drive_sync(_call(state, policy, lambda: _answer(state)), create):
        if isinstance(item, _Done):
            return item.value
    raise AssertionError("the protocol ended without a value")  # pragma: no cover


async def run_async(create: Callable[..., Any], state: Attempts, policy: Retrying | AsyncRetrying) -> Any:
    async for item in _drive_async(_call(state, policy, lambda: _answer(state)), create):
        if isinstance(item, _Done):
            return item.value
    raise AssertionError("the protocol ended without a value")  # pragma: no cover


def stream_sync(
    create: Callable[..., Any], state: Attempts, policy: Retrying | AsyncRetrying, kind: StreamKind
) -> Iterator[Any]:
    """Partial objects or complete items as the answer streams in; closing it closes the response."""
    with contextlib.closing(_drive_sync(_call(state, policy, lambda: _stream(state, kind)), create)) as items:
        for item in items:
            if not isinstance(item, _Done):
                yield item


async def stream_async(
    create: Callable[..., Any], state: Attempts, policy: Retrying | AsyncRetrying, kind: StreamKind
) -> AsyncIterator[Any]:
    # Closed here, not by the loop's async-generator finalizer: aclose() on this stream closes the
    # HTTP response before it returns.
    async with contextlib.aclosing(
        _drive_async(_call(state, policy, lambda: _stream(state, kind)), create)
    ) as items:
        async for item in items:
            if not isinstance(item, _Done):
                yield item
