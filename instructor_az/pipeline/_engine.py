"""The pipeline engine: many rows, one quota, one event loop.

Each row is its own protocol instance (`Attempts` + the re-ask protocol of `_run`, driven by
`run_async`), so re-asks, hooks, `context=` and every response-model kind behave as in `create`. What
the engine changes is how a request travels: it goes through the `Pacer` (admission), with the SDK's
own retries off, and transport failures (429, 5xx, dropped connections, timeouts) are retried here, so
every 429 is seen and slows the whole pipeline. A sync SDK client's requests run in a worker thread
pool; an async client's on the loop itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from openai import APIConnectionError, APIStatusError, AsyncOpenAI, OpenAI, RateLimitError

from .. import telemetry
from .._client import DEFAULT_MAX_RETRIES, AsyncInstructor, Instructor, from_openai
from .._errors import ConfigurationError
from .._mode import Mode
from .._plan import compile_plan
from .._run import Attempts, retrying_for, run_async
from ..router._client import AsyncRouter, Router, is_router
from ._checkpoint import Checkpoint
from ._pacing import (
    AUTO_MAX,
    Pacer,
    StopPipeline,
    estimate_tokens,
    prompt_estimate,
    reserved_tokens,
    retry_after,
)
from ._rows import Outcome, PipelineInterrupted, Row, TransportRetriesExhausted, rows
from ._summary import Summary

DEFAULT_TRANSPORT_RETRIES = 6
#: How a row begun elsewhere goes on: its final `Outcome`, or (its protocol state, the re-ask policy
#: for the attempts it has left, the requests already spent on it).
Start = Callable[[Row], "Outcome | tuple[Attempts, Any, int]"]
_SKIPPED = object()


def _wrap(client: Any) -> Instructor | AsyncInstructor:
    if isinstance(client, (Instructor, AsyncInstructor)):
        return client
    if isinstance(client, (OpenAI, AsyncOpenAI, Router, AsyncRouter)):
        return from_openai(client)
    raise ConfigurationError(
        "extract_many() needs a client from instructor_az.from_openai(...) (or an AzureOpenAI / "
        f"AsyncAzureOpenAI or a Router, wrapped in the default mode), got {type(client).__name__}"
    )


def compile_plan_name(response_model: Any) -> str:
    return compile_plan(response_model, Mode.TOOLS).target.display_name


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError):  # APITimeoutError too
        return True
    return isinstance(exc, APIStatusError) and (exc.status_code >= 500 or exc.status_code == 408)


def _limit_of(exc: RateLimitError) -> str | None:
    """Which of Azure's limits a 429 names: "exceeded call rate limit" or "exceeded token rate limit"."""
    text = str(exc.message).lower()
    if "token rate limit" in text:
        return "token"
    if "call rate limit" in text or "request rate limit" in text:
        return "call"
    return None


class Engine:
    """One run of the pipeline (see `extract_many` for the arguments)."""

    def __init__(
        self,
        client: Any,
        inputs: Iterable[Any],
        *,
        response_model: Any,
        prompt: str | None = None,
        ordered: bool = False,
        concurrency: int | str = "auto",
        max_concurrency: int = AUTO_MAX,
        tokens_per_minute: int | None = None,
        transport_retries: int = DEFAULT_TRANSPORT_RETRIES,
        retry_backoff: float = 0.5,
        output: Any = None,
        errors: Any = None,
        resume: bool = False,
        max_retries: Any = DEFAULT_MAX_RETRIES,
        context: Mapping[str, Any] | None = None,
        validation_context: Mapping[str, Any] | None = None,
        start: Start | None = None,
        **kwargs: Any,
    ) -> None:
        if response_model is None:
            raise ConfigurationError("extract_many() needs a response_model")
        if resume and output is None:
            raise ConfigurationError("resume=True needs output= (the file to resume from)")
        if errors is not None and output is None:
            raise ConfigurationError("errors= is where failures go beside output=: give output= too")
        if (
            isinstance(transport_retries, bool)
            or not isinstance(transport_retries, int)
            or transport_retries < 0
        ):
            raise ConfigurationError(
                f"transport_retries must be a whole number >= 0, got {transport_retries!r}"
            )
        if "messages" in kwargs or kwargs.get("stream"):
            raise ConfigurationError("extract_many() builds messages from the inputs and does not stream")
        self.wrapped = _wrap(client)
        compile_plan(response_model, self.wrapped.mode_for(kwargs.get("model")))  # a bad model fails here
        self.policy = retrying_for(max_retries)
        self.response_model = response_model
        self.context, self.validation_context = context, validation_context
        self.start = start
        self.kwargs = kwargs
        self.inputs, self.prompt, self.ordered = inputs, prompt, ordered
        self.concurrency, self.max_concurrency = concurrency, max_concurrency
        self.tokens_per_minute = tokens_per_minute
        self.transport_retries, self.retry_backoff = transport_retries, retry_backoff
        self.output, self.errors, self.resume = output, errors, resume
        Pacer(concurrency, tokens_per_minute=tokens_per_minute, max_concurrency=max_concurrency)  # checks
        self.summary = Summary()
        self.pacer: Pacer | None = None
        self.is_async = isinstance(self.wrapped, AsyncInstructor)
        raw = self.wrapped.client.with_options(max_retries=0)  # the pipeline sees (and paces) every 429
        if is_router(raw):
            # A router moves a 429 to another target itself; the pipeline sees its `NoTargetAvailable`
            # (a 429 until the first target is back) and headers summed over the targets.
            raw = raw.with_hooks(self.wrapped.hooks)  # type: ignore[union-attr]
        # `extract_many(client.responses, ...)`: the rows go to the Responses API
        responses = self.wrapped._api == "responses" or self.wrapped.mode.is_responses
        resource = raw.responses if responses else raw.chat.completions
        self._raw_create: Callable[..., Any] = resource.with_raw_response.create

    # --- one request, paced and retried in transport --------------------------------------------

    async def _send(self, request: dict[str, Any], executor: concurrent.futures.Executor | None) -> Any:
        """`(headers, completion)`; an SDK error carries `sent_at` (when it left, on `time.monotonic`),
        which places a 429's window end more exactly than the moment the loop sees the error."""
        if self.is_async:
            sent_at = time.monotonic()
            try:
                raw = await self._raw_create(**request)
            except Exception as exc:
                exc.sent_at = sent_at  # type: ignore[attr-defined]
                raise
            return raw.headers, raw.parse()

        def call() -> Any:
            sent_at = time.monotonic()
            try:
                raw = self._raw_create(**request)
            except Exception as exc:
                exc.sent_at = sent_at  # type: ignore[attr-defined]
                raise
            return raw.headers, raw.parse()

        # In the caller's context (telemetry: the attempt's span stays the parent of the HTTP call).
        return await asyncio.get_running_loop().run_in_executor(
            executor, contextvars.copy_context().run, call
        )

    def _paced_create(
        self, pacer: Pacer, executor: concurrent.futures.Executor | None, counts: dict[str, Any]
    ) -> Callable[..., Any]:
        async def create(**request: Any) -> Any:
            estimate, reserve = estimate_tokens(request), reserved_tokens(request)
            prompt = prompt_estimate(request)
            retries = 0
            while True:
                ticket = await pacer.acquire(estimate, reserve, prompt=prompt)
                self.summary.in_flight = pacer.in_flight
                counts["sends"] += 1
                if counts["start"] is None:
                    counts["start"] = time.monotonic()
                try:
                    headers, completion = await self._send(request, executor)
                except RateLimitError as exc:
                    pacer.release(ticket, used=0, headers=None)
                    pacer.rate_limited_for(
                        retry_after(exc.response.headers),
                        ticket,
                        limit=_limit_of(exc),
                        sent_at=getattr(exc, "sent_at", None),
                    )
                    error: BaseException = exc
                    wait = 0.0  # the pause holds every row, this one included
                except Exception as exc:
                    pacer.release(ticket, used=None, headers=None)
                    if not _transient(exc):
                        raise
                    error = exc
                    hinted = retry_after(exc.response.headers) if isinstance(exc, APIStatusError) else None
                    wait = pacer.backoff_for(retries + 1, hinted)
                except BaseException:
                    pacer.release(ticket, used=None, headers=None)
                    raise
                else:
                    usage = getattr(completion, "usage", None)
                    used = getattr(usage, "total_tokens", None)
                    prompt_used = getattr(usage, "prompt_tokens", None)
                    pacer.release(
                        ticket,
                        used=used if isinstance(used, int) else None,
                        headers=headers,
                        prompt_used=prompt_used if isinstance(prompt_used, int) else None,
                    )
                    return completion
                finally:
                    self.summary.in_flight = pacer.in_flight
                retries += 1
                if retries > self.transport_retries:
                    raise TransportRetriesExhausted(error, counts["sends"]) from error
                self.summary.transport_retries += 1
                if wait > 0:
                    await asyncio.sleep(wait)

        return create

    # --- one row ---------------------------------------------------------------------------------

    async def _row(self, row: Row, pacer: Pacer, executor: concurrent.futures.Executor | None) -> Outcome:
        if row.error is not None:
            return Outcome(row.id, row.index, error=row.error)
        counts: dict[str, Any] = {"sends": 0, "start": None}
        policy, earlier = self.policy, 0
        if self.start is not None:  # a row begun elsewhere (a batch's answers): go on from its state
            begun = self.start(row)
            if isinstance(begun, Outcome):
                return begun
            state, policy, earlier = begun
        else:
            state = self.wrapped._attempts(
                self.response_model,
                {**self.kwargs, "messages": row.messages},
                self.context,
                self.validation_context,
            )
        outcome = Outcome(row.id, row.index)
        try:
            outcome.value = await run_async(self._paced_create(pacer, executor, counts), state, policy)
        except StopPipeline:
            outcome.error = PipelineInterrupted(f"row {row.id!r} was not finished: the pipeline stopped")
        except Exception as exc:
            outcome.error = exc
        outcome.attempts = len(state.attempts)
        outcome.requests = earlier + counts["sends"]
        outcome.usage = state.usage
        if counts["start"] is not None:
            outcome.latency = time.monotonic() - counts["start"]
        return outcome

    # --- the run -----------------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[Outcome]:
        """Outcomes as rows finish (in input order with `ordered=True`)."""
        started = time.monotonic()
        pacer = self.pacer = Pacer(
            self.concurrency,
            tokens_per_minute=self.tokens_per_minute,
            max_concurrency=self.max_concurrency,
            backoff=self.retry_backoff,
        )
        checkpoint = (
            Checkpoint(self.output, resume=self.resume, errors=self.errors)
            if self.output is not None
            else None
        )
        done = checkpoint.done if checkpoint is not None else {}
        executor = (
            None
            if self.is_async
            else concurrent.futures.ThreadPoolExecutor(pacer.max_concurrency, "instructor-az")
        )
        source: Iterator[Row] = rows(self.inputs, self.prompt)
        finished: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        failure: list[BaseException] = []

        async def worker() -> None:
            while not pacer.stopping:
                try:
                    row = next(source, None)
                except Exception as exc:  # a malformed input: the run stops, the caller gets it
                    failure.append(exc)
                    pacer.stop()
                    return
                if row is None:
                    return
                if row.key in done:
                    self.summary.skipped += 1
                    self.summary.skipped_failed += not done[row.key]
                    finished.put_nowait((row.index, _SKIPPED))
                    continue
                outcome = await self._row(row, pacer, executor)
                if checkpoint is not None:
                    checkpoint.write(outcome)
                self.summary.add(outcome)
                self._update(pacer, started)
                finished.put_nowait((row.index, outcome))

        run_span = telemetry.start_run(
            "instructor_az.pipeline",
            **{
                "instructor_az.response_model": compile_plan_name(self.response_model),
                "gen_ai.request.model": self.kwargs.get("model"),
            },
        )
        with telemetry.parent_of(run_span):  # the rows' tasks copy it: their calls are its children
            workers = [asyncio.create_task(worker()) for _ in range(pacer.max_concurrency)]
        all_done: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*workers))
        pending: dict[int, Any] = {}
        next_index = 0
        try:
            while True:
                if finished.empty() and all_done.done():
                    break
                getter: asyncio.Future[Any] = asyncio.ensure_future(finished.get())
                await asyncio.wait([getter, all_done], return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                index, item = getter.result()
                if not self.ordered:
                    if item is not _SKIPPED:
                        yield item
                    continue
                pending[index] = item
                while next_index in pending:
                    item = pending.pop(next_index)
                    next_index += 1
                    if item is not _SKIPPED:
                        yield item
            if failure:
                raise failure[0]
        finally:
            pacer.stop()
            await asyncio.gather(all_done, return_exceptions=True)
            if checkpoint is not None:
                checkpoint.close()
            if executor is not None:
                executor.shutdown(wait=False)
            self._update(pacer, started)
            telemetry.end_run(
                run_span,
                failure[0] if failure else None,
                **{
                    "instructor_az.rows.ok": self.summary.succeeded,
                    "instructor_az.rows.failed": self.summary.failed,
                    "instructor_az.requests": self.summary.requests,
                    "instructor_az.rate_limited": self.summary.rate_limited,
                },
            )

    def _update(self, pacer: Pacer, started: float) -> None:
        s = self.summary
        s.requests, s.rate_limited, s.pauses = pacer.requests, pacer.rate_limited, pacer.pauses
        s.peak_concurrency, s.final_concurrency = pacer.peak_in_flight, pacer.limit
        s.wall_time = time.monotonic() - started
