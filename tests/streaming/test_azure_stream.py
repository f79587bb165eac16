"""Azure's stream behaviour under structured streaming, in every mode, Partial and Iterable, sync and async.

- the first chunk (no choices, only `prompt_filter_results`) is skipped, and its results reach the
  assembled completion as a non-streamed call would carry them;
- per-chunk `content_filter_results` are merged, a blocking result never overwritten;
- a completion filtered mid-stream raises `ContentFilterError` after what passed was yielded;
- a dropped connection raises the SDK's `APIConnectionError` (docs/streaming.md) and never shows a
  truncated object as the final one;
- the usage chunk (`stream_options.include_usage`) reaches the completion hook and the totals;
- a consumer that leaves early closes the HTTP response and makes no further request;
- Azure's asynchronous filter: annotation chunks whose choice has no `delta` (content_filter_offsets),
  interleaved with the answer and after its finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from typing import Any

import httpx2
import openai
import pytest
from openai import AsyncAzureOpenAI
from pydantic import BaseModel, model_validator
from stream_kit import MESSAGES, Gate, PacedBackend, Tap, end_of, render

import instructor_az
from instructor_az import (
    ContentFilterError,
    IncompleteOutputException,
    InstructorRetryException,
    Mode,
    PartialModel,
    PromptFilterError,
    Usage,
)
from instructor_az.emulator import (
    DEFAULT_ENDPOINT,
    LATEST_GA,
    AsyncEmulatorTransport,
    Emulator,
    Fault,
    Reply,
    ToolCall,
)

STREAMED_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]
FLAVORS = ["sync", "async"]
KINDS = ["partial", "iterable"]
CHUNK = 8  # characters per streamed delta


class Line(BaseModel):
    sku: str
    qty: int


class Invoice(BaseModel):
    number: str
    lines: list[Line]
    note: str


LINES = [{"sku": "KETTLE-01", "qty": 2}, {"sku": "TEAPOT-07", "qty": 1}, {"sku": "MUG-22", "qty": 6}]
INVOICE = {"number": "INV-2041", "lines": LINES, "note": "Deliver after six, ring twice."}
SAFE = {"filtered": False, "severity": "safe"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", chunk_chars=CHUNK)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
async def make(emulator: Emulator) -> AsyncIterator[Callable[..., Any]]:
    """`make(flavor, mode, **sdk_kwargs)`: a wrapped client on the emulator; SDK retries off by default."""
    raws: list[Any] = []

    def build(flavor: str, mode: Mode = Mode.TOOLS, **kwargs: Any) -> Any:
        kwargs.setdefault("max_retries", 0)
        raw: Any = emulator.client(**kwargs) if flavor == "sync" else emulator.async_client(**kwargs)
        raws.append(raw)
        return instructor_az.from_openai(raw, mode=mode)

    yield build
    for raw in raws:
        closed = raw.close()
        if closed is not None:
            await closed


class Events:
    """Every hook, in order, with its payload."""

    def __init__(self, client: Any) -> None:
        self.log: list[tuple[str, Any]] = []
        client.on("completion:kwargs", lambda **kwargs: self.log.append(("completion:kwargs", kwargs)))
        for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
            client.on(name, lambda payload, name=name: self.log.append((name, payload)))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def payloads(self, name: str) -> list[Any]:
        return [payload for n, payload in self.log if n == name]


def model_for(kind: str) -> tuple[str, Any]:
    """The tool / schema name and the value the model answers, for `kind`."""
    if kind == "partial":
        return "Invoice", INVOICE
    return "IterableLine", {"tasks": LINES}


def answer(mode: Mode, name: str, text: str) -> Any:
    """A scripted answer carrying `text` where `mode` reads it."""
    return Reply(tool_calls=[ToolCall(name, text)]) if mode.is_tools else text


def open_stream(client: Any, kind: str, **kwargs: Any) -> Any:
    completions = client.chat.completions
    if kind == "partial":
        return completions.create_partial(model="gpt-4o", response_model=Invoice, messages=MESSAGES, **kwargs)
    return completions.create_iterable(model="gpt-4o", response_model=Line, messages=MESSAGES, **kwargs)


async def drain(stream: Any, on_item: Callable[[Any], None]) -> None:
    if isinstance(stream, Iterator):
        for item in stream:
            on_item(item)
    else:
        async for item in stream:
            on_item(item)


async def raw_chunks(client: Any, kwargs: dict[str, Any]) -> list[Any]:
    """The SDK's own chunks for the same request kwargs, read through the wrapped client's passthrough."""
    stream = client.chat.completions.create(**kwargs)
    if isinstance(stream, openai.Stream):
        return list(stream)
    return [chunk async for chunk in await stream]


def header_chunks(mode: Mode) -> int:
    """Chunks before the first piece of the answer: Azure's annotation chunk, the role chunk, and in
    tool modes the chunk naming the call."""
    return 3 if mode.is_tools else 2


# --- the first chunk: no choices, only the prompt's filter results ---------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON], ids=str)
async def test_first_chunk_is_skipped_and_its_prompt_filter_results_reach_the_completion(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, kind: str, flavor: str
) -> None:
    name, value = model_for(kind)
    text = render(mode, value)
    emulator.scripted.push(answer(mode, name, text), answer(mode, name, text))
    client = make(flavor, mode)
    events = Events(client)
    items: list[Any] = []
    await drain(open_stream(client, kind), items.append)
    assert items[-1] == (Invoice(**INVOICE) if kind == "partial" else Line(**LINES[-1]))

    (completion,) = events.payloads("completion:response")
    (sent,) = events.payloads("completion:kwargs")
    chunks = await raw_chunks(client, sent)  # the same request, read raw
    first = chunks[0]
    assert first.choices == []  # Azure's annotation chunk: no choices, empty id and model...
    assert (first.id, first.model, first.created) == ("", "", 0)
    # ...not taken for the answer: the completion's identity is the answer chunks'
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == chunks[1].model == "gpt-4o-2024-08-06"
    assert completion.created > 0
    # a non-streamed completion carries prompt_filter_results; the assembled one does too
    expected = first.model_extra["prompt_filter_results"]
    assert expected[0]["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    assert completion.model_extra["prompt_filter_results"] == expected


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_api_version_without_the_annotation_chunk_streams_too(
    emulator: Emulator, make: Callable[..., Any], flavor: str
) -> None:
    # 2023-05-15 predates the prompt annotation chunk (and tools / response_format): fenced JSON
    emulator.scripted.push(render(Mode.MD_JSON, INVOICE))
    client = make(flavor, Mode.MD_JSON, api_version="2023-05-15")
    events = Events(client)
    items: list[Any] = []
    await drain(open_stream(client, "partial"), items.append)
    assert items[-1] == Invoice(**INVOICE)
    assert len(items) > 5
    (completion,) = events.payloads("completion:response")
    assert completion.id.startswith("chatcmpl-")
    assert "prompt_filter_results" not in (completion.model_extra or {})


# --- per-chunk content filter results ---------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", [Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON], ids=str)
async def test_per_chunk_content_filter_results_reach_the_completion(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, flavor: str
) -> None:
    text = render(mode, INVOICE)
    emulator.scripted.push(text, text)
    client = make(flavor, mode)
    events = Events(client)
    await drain(open_stream(client, "partial"), lambda item: None)
    (completion,) = events.payloads("completion:response")
    chunks = await raw_chunks(client, events.payloads("completion:kwargs")[0])
    answer_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    annotations = [c.choices[0].model_extra["content_filter_results"] for c in answer_chunks]
    assert len(annotations) > 5
    assert all(annotations)  # every content delta is annotated
    merged = completion.choices[0].model_extra["content_filter_results"]
    assert merged == annotations[-1]
    assert {k: merged[k] for k in ("hate", "self_harm", "sexual", "violence")} == dict.fromkeys(
        ("hate", "self_harm", "sexual", "violence"), SAFE
    )


# --- a completion filtered mid-stream ---------------------------------------------------------------


def cut_point(kind: str, text: str) -> int:
    """Where the filter strikes: inside the third line (iterable), inside the note (partial)."""
    if kind == "iterable":
        return end_of(text, '"sku": "MUG')
    return end_of(text, '"note": "Deliver after')


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_completion_filter_mid_stream_raises_after_what_passed(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, kind: str, flavor: str
) -> None:
    name, value = model_for(kind)
    text = render(mode, value)
    cut = cut_point(kind, text)
    emulator.scripted.push(
        Fault.completion_filter(after_chars=cut, violence="medium"), answer(mode, name, text)
    )
    emulator.scripted.push(answer(mode, name, text))  # a re-ask would get this one: there must be none
    client = make(flavor, mode)
    events = Events(client)
    timeline: list[Any] = []

    def on_item(item: Any) -> None:
        timeline.append(item.model_dump() if isinstance(item, PartialModel) else item)

    with pytest.raises(ContentFilterError) as caught:
        await drain(open_stream(client, kind, max_retries=3), on_item)

    error = caught.value
    if kind == "iterable":
        assert timeline == [Line(**LINES[0]), Line(**LINES[1])]  # yielded before the filter arrived
    else:
        assert len(timeline) > 5
        last = timeline[-1]
        assert last["note"] is not None
        assert last["note"] != INVOICE["note"]  # the note never completed
        assert INVOICE["note"].startswith(last["note"])
        assert last["lines"] == LINES
    assert error.source == "completion"
    assert error.filtered_categories == ["violence"]
    assert error.categories["violence"].severity == "medium"
    assert error.categories["hate"].filtered is False
    assert error.partial_text == text[:cut]
    assert error.completion.choices[0].finish_reason == "content_filter"
    # one request, never re-asked; the completion hook saw the filtered answer
    assert len(emulator.requests) == 1
    assert emulator.scripted.pending == 1
    assert events.names == ["completion:kwargs", "completion:response"]
    assert events.payloads("completion:response") == [error.completion]


# --- a connection dropped mid-stream ---------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_dropped_connection_is_the_sdks_connection_error_and_nothing_truncated_is_final(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, kind: str, flavor: str
) -> None:
    name, value = model_for(kind)
    text = render(mode, value)
    # the drop comes inside the second line: the first has closed, the object has not
    inside_second = end_of(text, '"sku": "TEA')
    pieces = -(-inside_second // CHUNK)
    emulator.scripted.push(
        Fault.drop_connection(after_chunks=header_chunks(mode) + pieces), answer(mode, name, text)
    )
    emulator.scripted.push(answer(mode, name, text))
    client = make(flavor, mode, max_retries=2)  # the SDK's retries are on: a body cut mid-way is not retried
    events = Events(client)
    items: list[Any] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        await drain(open_stream(client, kind, max_retries=3), items.append)

    if kind == "iterable":
        assert items == [Line(**LINES[0])]
    else:
        assert items  # partials arrived...
        assert all(isinstance(item, PartialModel) for item in items)  # ...but never the final Invoice
        assert not items[-1].is_complete("lines")
        assert items[-1].note is None
    assert len(emulator.requests) == 1
    assert emulator.scripted.pending == 1
    assert events.names == ["completion:kwargs", "completion:error"]
    assert events.payloads("completion:error") == [caught.value]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_length_mid_stream_ends_partials_with_incomplete_output(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, flavor: str
) -> None:
    text = render(mode, INVOICE)
    cut = end_of(text, '"note": "Deliver')
    emulator.scripted.push(Fault.length(after_chars=cut), answer(mode, "Invoice", text))
    client = make(flavor, mode)
    items: list[Any] = []
    with pytest.raises(IncompleteOutputException) as caught:
        await drain(open_stream(client, "partial"), items.append)
    assert all(isinstance(item, PartialModel) for item in items)
    assert items[-1].note == "Deliver"
    assert caught.value.partial_text == text[:cut]
    assert len(emulator.requests) == 1


# --- the usage chunk ----------------------------------------------------------------------------------


def usage_of(chunks: list[Any]) -> Usage:
    (last,) = [c for c in chunks if c.usage is not None]
    assert last is chunks[-1]  # Azure's usage chunk: last, without choices
    assert last.choices == []
    return Usage(last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA], ids=str)
async def test_usage_chunk_reaches_the_completion_hook(
    emulator: Emulator, make: Callable[..., Any], mode: Mode, kind: str, flavor: str
) -> None:
    name, value = model_for(kind)
    text = render(mode, value)
    emulator.scripted.push(answer(mode, name, text), answer(mode, name, text))
    client = make(flavor, mode)
    events = Events(client)
    await drain(open_stream(client, kind, stream_options={"include_usage": True}), lambda item: None)
    (completion,) = events.payloads("completion:response")
    (sent,) = events.payloads("completion:kwargs")
    assert sent["stream_options"] == {"include_usage": True}
    expected = usage_of(await raw_chunks(client, sent))  # the emulator's own count for the same request
    assert Usage.of(completion) == expected
    assert expected.completion_tokens > 0


class Booking(BaseModel):
    """Nights must match the dates: checked on the whole object, so only once the stream has ended."""

    arrive: int
    leave: int
    nights: int

    @model_validator(mode="after")
    def consistent(self) -> Booking:
        if self.leave - self.arrive != self.nights:
            raise ValueError("nights must equal leave - arrive")
        return self


WRONG = {"arrive": 3, "leave": 7, "nights": 3}
RIGHT = {"arrive": 3, "leave": 7, "nights": 4}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_usage_of_every_streamed_attempt_is_totalled(
    emulator: Emulator, make: Callable[..., Any], flavor: str
) -> None:
    emulator.scripted.push(WRONG, RIGHT)
    totals: list[Any] = []
    client = make(flavor)
    client = instructor_az.from_openai(
        client, after_completion=lambda completion, value: totals.append(completion)
    )
    events = Events(client)
    items: list[Any] = []
    await drain(
        client.chat.completions.create_partial(
            model="gpt-4o", response_model=Booking, messages=MESSAGES, stream_options={"include_usage": True}
        ),
        items.append,
    )
    assert items[-1] == Booking(**RIGHT)
    assert events.names == [
        "completion:kwargs",
        "completion:response",
        "parse:error",
        "completion:kwargs",
        "completion:response",
    ]
    per_attempt = [Usage.of(c) for c in events.payloads("completion:response")]
    # each hook payload keeps the usage its own stream reported; the emulator's count for each request
    emulator.scripted.push(WRONG, RIGHT)
    expected = [usage_of(await raw_chunks(client, kw)) for kw in events.payloads("completion:kwargs")]
    assert per_attempt == expected
    (final,) = totals
    assert Usage.of(final) == expected[0] + expected[1]  # after_completion: the call's total

    emulator.scripted.push(WRONG, WRONG)
    events.log.clear()
    with pytest.raises(InstructorRetryException) as caught:
        await drain(
            client.chat.completions.create_partial(
                model="gpt-4o",
                response_model=Booking,
                messages=MESSAGES,
                stream_options={"include_usage": True},
                max_retries=1,
            ),
            lambda item: None,
        )
    emulator.scripted.push(WRONG, WRONG)
    spent = [usage_of(await raw_chunks(client, kw)) for kw in events.payloads("completion:kwargs")]
    assert len(spent) == 2
    assert caught.value.total_usage == spent[0] + spent[1]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_without_include_usage_the_completion_has_no_usage(
    emulator: Emulator, make: Callable[..., Any], flavor: str
) -> None:
    emulator.scripted.push(RIGHT)
    client = make(flavor)
    events = Events(client)
    await drain(
        client.chat.completions.create_partial(model="gpt-4o", response_model=Booking, messages=MESSAGES),
        lambda item: None,
    )
    (completion,) = events.payloads("completion:response")
    assert completion.usage is None
    assert "stream_options" not in emulator.last_request.body


# --- leaving early ------------------------------------------------------------------------------------


@pytest.fixture
def paced() -> Iterator[tuple[Emulator, PacedBackend]]:
    backend = PacedBackend(piece=5)
    emulator = Emulator(backend=backend)
    try:
        yield emulator, backend
    finally:
        emulator.close()


def tapped_client(emulator: Emulator, tap: Tap, flavor: str, mode: Mode) -> Any:
    if flavor == "sync":
        raw: Any = openai.AzureOpenAI(
            azure_endpoint=DEFAULT_ENDPOINT,
            api_key="emulator-key",
            api_version=LATEST_GA,
            http_client=tap.sync_http(emulator.http_client()),
        )
    else:
        raw = AsyncAzureOpenAI(
            azure_endpoint=DEFAULT_ENDPOINT,
            api_key="emulator-key",
            api_version=LATEST_GA,
            http_client=tap.async_http(emulator.async_http_client()),
        )
    return instructor_az.from_openai(raw, mode=mode)


def first_stop(kind: str, text: str) -> int:
    return end_of(text, json.dumps(LINES[0]))


def first_line_seen(item: Any) -> bool:
    """The first line has arrived: as an item, or complete in the partial."""
    return isinstance(item, Line) or (
        isinstance(item, PartialModel) and bool(item.lines) and bool(item.lines[0].qty)
    )


@pytest.mark.parametrize("how", ["break", "closing"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA, Mode.MD_JSON], ids=str)
def test_break_closes_the_response_and_stops_the_generation(
    paced: tuple[Emulator, PacedBackend], mode: Mode, kind: str, how: str
) -> None:
    emulator, backend = paced
    _, value = model_for(kind)
    text = render(mode, value)
    stop = first_stop(kind, text)
    gate = backend.push(text, Gate([stop]))
    tap = Tap()
    client = tapped_client(emulator, tap, "sync", mode)

    if how == "break":
        for item in open_stream(client, kind):
            if first_line_seen(item):
                break
    else:  # a stream kept in a variable, closed explicitly
        with contextlib.closing(open_stream(client, kind)) as stream:
            for item in stream:
                if first_line_seen(item):
                    break
            assert not tap.all_closed  # still held: the response is open until the stream is closed

    assert tap.all_closed  # the HTTP response was closed as the loop was left
    assert gate.wait_closed()  # the emulator saw the client go and stopped generating
    assert gate.produced == stop  # not one more piece was generated
    assert gate.stalled == []
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_async_break_closes_the_response(paced: tuple[Emulator, PacedBackend], kind: str) -> None:
    emulator, backend = paced
    _, value = model_for(kind)
    text = render(Mode.TOOLS, value)
    gate = backend.push(text, Gate([first_stop(kind, text)]))
    tap = Tap()
    client = tapped_client(emulator, tap, "async", Mode.TOOLS)

    async for item in open_stream(client, kind):
        if first_line_seen(item):
            break
    # a plain `async for ... break` leaves the async generator to the event loop's finalizer, which
    # closes it (and the response) within a few turns of the loop
    for _ in range(100):
        if tap.all_closed:
            break
        await asyncio.sleep(0)
    assert tap.all_closed
    assert await asyncio.to_thread(gate.wait_closed)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_async_aclosing_closes_the_response_at_once(
    paced: tuple[Emulator, PacedBackend], kind: str
) -> None:
    emulator, backend = paced
    _, value = model_for(kind)
    text = render(Mode.JSON, value)
    gate = backend.push(text, Gate([first_stop(kind, text)]))
    tap = Tap()
    client = tapped_client(emulator, tap, "async", Mode.JSON)

    async with contextlib.aclosing(open_stream(client, kind)) as stream:
        async for item in stream:
            if isinstance(item, Line) or (
                isinstance(item, PartialModel) and item.lines and item.lines[0].qty
            ):
                break
    assert tap.all_closed
    assert await asyncio.to_thread(gate.wait_closed)
    assert gate.produced == first_stop(kind, text)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_prompt_filter_on_a_stream_fails_before_anything_is_yielded(
    emulator: Emulator, make: Callable[..., Any], flavor: str
) -> None:
    emulator.scripted.push(Fault.prompt_filter(jailbreak="detected"), INVOICE, INVOICE)
    client = make(flavor)
    items: list[Any] = []
    with pytest.raises(PromptFilterError) as caught:
        await drain(open_stream(client, "partial"), items.append)
    assert items == []
    assert caught.value.source == "prompt"
    assert caught.value.filtered_categories == ["jailbreak"]
    assert isinstance(caught.value, openai.BadRequestError)
    assert len(emulator.requests) == 1


# --- Azure's asynchronous filter: annotation chunks without a delta --------------------------------

ASGI = Callable[[MutableMapping[str, Any], Callable[..., Any], Callable[..., Any]], Any]


def annotation(offset: int, results: dict[str, Any], finish_reason: str | None = None) -> bytes:
    """An asynchronous-filter annotation as Azure streams it: a choice with the filter results and the
    offsets they cover, and no delta, in a chunk with empty id, model and object."""
    event = {
        "choices": [
            {
                "content_filter_offsets": {
                    "check_offset": offset,
                    "start_offset": offset,
                    "end_offset": offset + 40,
                },
                "content_filter_results": results,
                "finish_reason": finish_reason,
                "index": 0,
            }
        ],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
    }
    return f"data: {json.dumps(event)}\n\n".encode()


def with_async_filter(app: ASGI, *, block: dict[str, Any] | None = None) -> ASGI:
    """The emulator's app, with annotation chunks added after each answer chunk (as Azure's
    asynchronous filter interleaves them) and, with `block`, a blocking one after the finish."""

    async def wrapped(
        scope: MutableMapping[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        seen = 0

        async def relay(message: MutableMapping[str, Any]) -> None:
            nonlocal seen
            await send(message)
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if not body.startswith(b"data: {"):
                return
            event = json.loads(body[len(b"data: ") :])
            if not event.get("choices"):
                return
            seen += 1
            results = {name: SAFE for name in ("hate", "self_harm", "sexual", "violence")}
            await send(
                {"type": "http.response.body", "body": annotation(seen * 40, results), "more_body": True}
            )
            if block is not None and event["choices"][0].get("finish_reason"):
                verdict = {**results, **block}
                await send(
                    {
                        "type": "http.response.body",
                        "body": annotation(seen * 40, verdict, "content_filter"),
                        "more_body": True,
                    }
                )

        await app(scope, receive, relay)

    return wrapped


def async_filter_client(emulator: Emulator, mode: Mode, block: dict[str, Any] | None = None) -> Any:
    http = httpx2.AsyncClient(transport=AsyncEmulatorTransport(with_async_filter(emulator.app, block=block)))
    raw = AsyncAzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT, api_key="emulator-key", api_version=LATEST_GA, http_client=http
    )
    return instructor_az.from_openai(raw, mode=mode)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON], ids=str)
async def test_async_filter_annotations_without_a_delta_are_read_past(
    emulator: Emulator, mode: Mode, kind: str
) -> None:
    name, value = model_for(kind)
    text = render(mode, value)
    emulator.scripted.push(answer(mode, name, text))
    client = async_filter_client(emulator, mode)
    events = Events(client)
    items: list[Any] = []
    await drain(open_stream(client, kind), items.append)
    if kind == "partial":
        assert items[-1] == Invoice(**INVOICE)
    else:
        assert items == [Line(**line) for line in LINES]
    (completion,) = events.payloads("completion:response")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-")  # not the annotations' empty id
    assert completion.choices[0].model_extra["content_filter_results"]["violence"] == SAFE
    await client.client.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_async_filter_blocking_after_the_finish_is_a_content_filter_error(
    emulator: Emulator, kind: str
) -> None:
    name, value = model_for(kind)
    text = render(Mode.TOOLS, value)
    emulator.scripted.push(answer(Mode.TOOLS, name, text), answer(Mode.TOOLS, name, text))
    client = async_filter_client(
        emulator, Mode.TOOLS, block={"violence": {"filtered": True, "severity": "high"}}
    )
    items: list[Any] = []
    with pytest.raises(ContentFilterError) as caught:
        await drain(open_stream(client, kind, max_retries=3), items.append)
    assert caught.value.source == "completion"
    assert caught.value.filtered_categories == ["violence"]
    if kind == "iterable":
        assert items == [Line(**line) for line in LINES]  # streamed unvetted, then the verdict
    else:
        assert items
        assert all(isinstance(item, PartialModel) for item in items)  # never the final Invoice
    assert len(emulator.requests) == 1
    await client.client.close()
