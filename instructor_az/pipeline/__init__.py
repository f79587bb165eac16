"""Extraction pipelines: one `response_model`, many inputs, one quota.

```python
for outcome in instructor_az.extract_many(client, texts, response_model=Invoice, model="gpt-4o",
                                          output="invoices.jsonl", resume=True):
    print(outcome.id, outcome.value if outcome.ok else outcome.error)
```

See docs/pipelines.md. `extract_many` is the sync form, `aextract_many` the async one; both run the
same engine (`_engine.Engine`) on an event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from .._client import DEFAULT_MAX_RETRIES
from ._engine import DEFAULT_TRANSPORT_RETRIES, Engine
from ._pacing import AUTO_MAX, AUTO_START
from ._rows import InvalidInputError, Outcome, PipelineInterrupted, TransportRetriesExhausted
from ._summary import Summary

__all__ = [
    "AUTO_MAX",
    "AUTO_START",
    "DEFAULT_TRANSPORT_RETRIES",
    "AsyncResults",
    "InvalidInputError",
    "Outcome",
    "PipelineInterrupted",
    "Results",
    "Summary",
    "TransportRetriesExhausted",
    "aextract_many",
    "extract_many",
]

_END = object()


class AsyncResults:
    """`async for outcome in results`: outcomes as rows finish; `summary` once it is exhausted (and
    updated while it runs). Iterate it once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._iterator: AsyncIterator[Outcome] | None = None

    @property
    def summary(self) -> Summary:
        return self._engine.summary

    def __aiter__(self) -> AsyncIterator[Outcome]:
        if self._iterator is None:
            self._iterator = self._engine.run()
        return self._iterator

    async def collect(self) -> list[Outcome]:
        """Every outcome, as a list (in input order with `ordered=True`)."""
        return [outcome async for outcome in self]


class Results:
    """`for outcome in results`: outcomes as rows finish; `summary` once it is exhausted.

    The engine runs on a private event loop in a background thread. Stopping early (`break`, an
    exception, Ctrl-C) stops the pipeline: no new requests; requests in flight finish, and rows caught
    between requests end as interrupted (not written to the output file: a resumed run does them)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._started = False

    @property
    def summary(self) -> Summary:
        return self._engine.summary

    def collect(self) -> list[Outcome]:
        """Every outcome, as a list (in input order with `ordered=True`)."""
        return list(self)

    def __iter__(self) -> Iterator[Outcome]:
        if self._started:
            raise RuntimeError("a pipeline's results can be iterated once")
        self._started = True
        return self._iterate(contextvars.copy_context())

    def _iterate(self, caller: contextvars.Context) -> Iterator[Outcome]:
        handoff: queue.Queue[Any] = queue.Queue()
        ready = threading.Event()
        loop_box: list[asyncio.AbstractEventLoop] = []

        async def pump() -> None:
            loop_box.append(asyncio.get_running_loop())
            ready.set()
            try:
                async for outcome in self._engine.run():
                    handoff.put(outcome)
            except BaseException as exc:
                handoff.put(exc)
            finally:
                handoff.put(_END)

        # The context of `iter()`'s caller goes along (telemetry: a run started in a span is its child).
        thread = threading.Thread(
            target=caller.run,
            args=(asyncio.run, pump()),
            name="instructor-az-pipeline",
            daemon=True,
        )
        thread.start()
        ready.wait()
        finished = False
        try:
            while True:
                try:
                    item = handoff.get(timeout=0.1)  # a timeout, so Ctrl-C is seen while waiting
                except queue.Empty:
                    continue
                if item is _END:
                    finished = True
                    return
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                yield item
        finally:
            if not finished:
                pacer = self._engine.pacer
                if pacer is not None:
                    loop_box[0].call_soon_threadsafe(pacer.stop)
            thread.join()


def _engine(client: Any, inputs: Iterable[Any], response_model: Any, options: dict[str, Any]) -> Engine:
    return Engine(client, inputs, response_model=response_model, **options)


def extract_many(
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
    **kwargs: Any,
) -> Results:
    """Extract `response_model` from every input; iterate the result for one `Outcome` per input.

    `client`: from `instructor_az.from_openai(...)` (its mode, hooks and defaults apply to every row),
    sync or async; a bare `AzureOpenAI` / `AsyncAzureOpenAI` is wrapped in the default mode. A sync
    client's requests run in a thread pool, an async client's on the pipeline's event loop.
    `inputs`: texts, message lists, `{"id": ..., "text": ...}` / `{"id": ..., "messages": [...]}`
    records or `(id, text)` pairs (ids must be unique; a bare text's id is its index), read lazily;
    `prompt=` is a system message put before each. `ordered=True` yields outcomes in input order.
    Pacing: `concurrency=N` requests in flight at most, or `"auto"` (from `AUTO_START`, grown on the
    `x-ratelimit-remaining-*` headers up to `max_concurrency`, halved on a 429);
    `tokens_per_minute=` caps the tokens sent. A 429 pauses every row for its `retry-after-ms`;
    429 / 5xx / connection errors are retried by the pipeline (the SDK's own retries are off) up to
    `transport_retries` times per request, waiting `retry_backoff * 2**n` seconds (jittered) unless
    told. `output=` appends each finished row to a JSONL file (flushed per row; failures to `errors=`
    when given); `resume=True` skips the ids already in them. `max_retries`, `context`, `validation_context` and any other keyword
    (`model=`, `temperature=`...) are `create`'s, per row.
    """
    options = {k: v for k, v in locals().items() if k not in {"client", "inputs", "response_model", "kwargs"}}
    return Results(_engine(client, inputs, response_model, {**options, **kwargs}))


def aextract_many(
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
    **kwargs: Any,
) -> AsyncResults:
    """`extract_many` for async code: `async for outcome in aextract_many(...)`, on the running loop.
    Cancelling the task that iterates stops the pipeline as Ctrl-C does in the sync form."""
    options = {k: v for k, v in locals().items() if k not in {"client", "inputs", "response_model", "kwargs"}}
    return AsyncResults(_engine(client, inputs, response_model, {**options, **kwargs}))
