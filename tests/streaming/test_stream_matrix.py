"""Every structured mode x Partial / Iterable x sync / async, streamed by a paced backend of the emulator.

The backend generates the answer a few characters at a time and holds it at chosen points until the
test has seen what must have reached it by then (a field complete, an item yielded, a string half
written). So each case shows that partials grow and items arrive while the model is still writing,
not after the fact; then it checks the completeness flags, the final object, what the completion hook
received, and the request the emulator got in that mode.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel
from stream_kit import MESSAGES, Gate, PacedBackend, end_of, render

import instructor_az
from instructor_az import ConfigurationError, Mode, PartialModel
from instructor_az.emulator import Emulator, Fault, Reply, ToolCall

STREAMED_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]
FLAVORS = ["sync", "async"]


class Line(BaseModel):
    sku: str
    qty: int


class Invoice(BaseModel):
    number: str
    lines: list[Line]
    note: str


LINES = [{"sku": "KETTLE-01", "qty": 2}, {"sku": "TEAPOT-07", "qty": 1}, {"sku": "MUG-22", "qty": 6}]
INVOICE = {"number": "INV-2041", "lines": LINES, "note": "Deliver after six, ring twice."}


@pytest.fixture
def paced() -> Iterator[tuple[Emulator, PacedBackend]]:
    backend = PacedBackend(piece=5)
    emulator = Emulator(backend=backend)
    try:
        yield emulator, backend
    finally:
        emulator.close()


@pytest.fixture
async def make(paced: tuple[Emulator, PacedBackend]) -> AsyncIterator[Callable[[str, Mode], Any]]:
    emulator, _ = paced
    raws: list[Any] = []

    def build(flavor: str, mode: Mode) -> Any:
        raw: Any = (
            emulator.client(max_retries=0) if flavor == "sync" else emulator.async_client(max_retries=0)
        )
        raws.append(raw)
        return instructor_az.from_openai(raw, mode=mode)

    yield build
    for raw in raws:
        closed = raw.close()
        if closed is not None:
            await closed


async def drain(stream: Any, on_item: Callable[[Any], None]) -> None:
    """Consume a sync or async stream, calling `on_item` as each item is yielded."""
    if isinstance(stream, Iterator):
        for item in stream:
            on_item(item)
    else:
        async for item in stream:
            on_item(item)


def check_request(body: dict[str, Any], mode: Mode, name: str, top: set[str]) -> None:
    """What a streamed structured request looks like in `mode`, as the emulator received it."""
    assert body["stream"] is True
    assert body["messages"][-1] == MESSAGES[-1]
    if mode.is_tools:
        (tool,) = body["tools"]
        function = tool["function"]
        assert function["name"] == name
        assert set(function["parameters"]["properties"]) == top
        assert body["tool_choice"] == {"type": "function", "function": {"name": name}}
        assert function.get("strict", False) is (mode is Mode.TOOLS_STRICT)
        if mode is Mode.TOOLS_STRICT:
            assert function["parameters"]["additionalProperties"] is False
        assert "response_format" not in body
        return
    assert "tools" not in body
    if mode is Mode.JSON_SCHEMA:
        spec = body["response_format"]["json_schema"]
        assert body["response_format"]["type"] == "json_schema"
        assert spec["name"] == name
        assert spec["strict"] is True
        assert set(spec["schema"]["properties"]) == top
        assert spec["schema"]["additionalProperties"] is False
        return
    system = body["messages"][0]
    assert system["role"] == "system"
    schema_text = system["content"][system["content"].index("{") :]
    assert set(json.loads(schema_text)["properties"]) == top
    if mode is Mode.JSON:
        assert body["response_format"] == {"type": "json_object"}
    else:
        assert "response_format" not in body
        assert "```json" in system["content"]


def check_assembled(completion: Any, mode: Mode, name: str, text: str) -> None:
    """The completion hooks receive: the stream assembled as a non-streamed call would return it."""
    (choice,) = completion.choices
    assert choice.finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-")
    if mode.is_tools:
        (call,) = choice.message.tool_calls
        assert call.function.name == name
        assert call.function.arguments == text
    else:
        assert choice.message.content == text


# --- partial objects ------------------------------------------------------------------------------


def partial_stops(text: str) -> tuple[list[int], list[Callable[[Any], bool]]]:
    """Where the generation waits, and what the partial must show when it does."""
    stops = [
        end_of(text, '"number": "INV-2041"'),
        end_of(text, json.dumps(LINES[0])),
        end_of(text, json.dumps(LINES[1])),
        end_of(text, '"note": "Deliver after'),
    ]
    shows: list[Callable[[Any], bool]] = [
        lambda p: p.is_complete("number") and p.number == "INV-2041" and p.lines == [],
        lambda p: len(p.lines) == 1 and p.lines[0].completed_fields == {"sku", "qty"},
        lambda p: len(p.lines) == 2 and p.lines[1].completed_fields == {"sku", "qty"},
        lambda p: p.note == "Deliver after" and not p.is_complete("note") and p.is_complete("lines"),
    ]
    return stops, shows


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_partials_grow_while_the_model_writes(
    paced: tuple[Emulator, PacedBackend], make: Callable[[str, Mode], Any], mode: Mode, flavor: str
) -> None:
    emulator, backend = paced
    text = render(mode, INVOICE)
    stops, shows = partial_stops(text)
    gate = backend.push(text, Gate(stops))
    client = make(flavor, mode)
    responses: list[Any] = []
    client.on("completion:response", responses.append)

    snapshots: list[tuple[dict[str, Any], frozenset[str]]] = []
    items: list[Any] = []

    def on_item(item: Any) -> None:
        items.append(item)
        done = item.completed_fields if isinstance(item, PartialModel) else frozenset(Invoice.model_fields)
        snapshots.append((item.model_dump(), done))
        while gate.released < len(stops) and shows[gate.released](item):
            gate.release()

    await drain(
        client.chat.completions.create(
            model="gpt-4o", response_model=Invoice, messages=MESSAGES, stream=True
        ),
        on_item,
    )

    # every stop was seen while the generation was held there: nothing was waiting for the end
    assert gate.stalled == []
    assert gate.seen_at == stops
    # the partials: one instance, growing; fields complete once and for good
    *partials, final = items
    assert all(isinstance(p, PartialModel) and isinstance(p, Invoice) for p in partials)
    assert len({id(p) for p in partials}) == 1
    assert snapshots[0][0] == {"number": None, "lines": [], "note": None}
    for (before, done_before), (after, done_after) in itertools.pairwise(snapshots):
        assert done_before <= done_after
        for field in ("number", "note"):
            if before[field] is not None:
                assert after[field].startswith(before[field])
        assert len(after["lines"]) >= len(before["lines"])
        assert after["lines"][: len(before["lines"]) - 1] == before["lines"][:-1]  # closed lines stay
    for field in Invoice.model_fields:
        flags = [field in done for _, done in snapshots[:-1]]
        first = flags.index(True)
        assert all(flags[first:])
        assert snapshots[first][0][field] == INVOICE[field]  # complete means final
    # numbers never show half-written
    assert all(line["qty"] in (None, 1, 2, 6) for data, _ in snapshots for line in data["lines"])
    # the last item is the validated Invoice, every field reported complete
    assert isinstance(final, Invoice)
    assert final == Invoice.model_validate(INVOICE)
    assert final.completed_fields == set(Invoice.model_fields)
    # one request, in this mode's shape; the hook saw the whole stream assembled
    assert len(emulator.requests) == 1
    check_request(emulator.last_request.body, mode, "Invoice", {"number", "lines", "note"})
    (completion,) = responses
    check_assembled(completion, mode, "Invoice", text)


# --- each item as soon as it closes ---------------------------------------------------------------


def item_stops(text: str) -> list[int]:
    stops: list[int] = []
    for line in LINES:
        stops.append(end_of(text, json.dumps(line), stops[-1] if stops else 0))
    return stops


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
@pytest.mark.parametrize("spelling", ["create_iterable", "Iterable stream=True", "iterator=True"])
async def test_each_item_is_yielded_as_it_closes(
    paced: tuple[Emulator, PacedBackend],
    make: Callable[[str, Mode], Any],
    mode: Mode,
    flavor: str,
    spelling: str,
) -> None:
    emulator, backend = paced
    text = render(mode, {"tasks": LINES})
    stops = item_stops(text)
    gate = backend.push(text, Gate(stops))
    client = make(flavor, mode)
    responses: list[Any] = []
    client.on("completion:response", responses.append)
    completions = client.chat.completions
    if spelling == "create_iterable":
        stream = completions.create_iterable(model="gpt-4o", response_model=Line, messages=MESSAGES)
    elif spelling == "Iterable stream=True":
        stream = completions.create(
            model="gpt-4o", response_model=Iterable[Line], messages=MESSAGES, stream=True
        )
    else:
        stream = completions.create(model="gpt-4o", response_model=Line, messages=MESSAGES, iterator=True)

    items: list[Any] = []

    def on_item(item: Any) -> None:
        items.append(item)
        gate.release()

    await drain(stream, on_item)

    assert gate.stalled == []
    assert gate.seen_at == stops  # item k arrived while the model was held just after writing it
    assert items == [Line(**line) for line in LINES]
    assert all(type(item) is Line for item in items)
    assert len(emulator.requests) == 1
    check_request(emulator.last_request.body, mode, "IterableLine", {"tasks"})
    (completion,) = responses
    check_assembled(completion, mode, "IterableLine", text)


# --- parallel tools: each call's object as its arguments close --------------------------------------


class Weather(BaseModel):
    city: str


class Search(BaseModel):
    query: str


CALLS = [
    ToolCall("Weather", {"city": "Lisbon"}),
    ToolCall("Search", {"query": "ferries from Lisbon to Porto"}),
    ToolCall("Weather", {"city": "Porto"}),
]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_parallel_tools_yield_each_call_before_the_stream_fails(flavor: str) -> None:
    # a scripted emulator: several tool calls in one streamed answer, cut inside the third call
    emulator = Emulator(backend="scripted", chunk_chars=6)
    raw: Any = emulator.client(max_retries=0) if flavor == "sync" else emulator.async_client(max_retries=0)
    client = instructor_az.from_openai(raw, mode=Mode.PARALLEL_TOOLS)
    # chunks: annotation, role, then per call a header and its 6-character argument pieces
    pieces = [-(-len(call.arguments_json) // 6) for call in CALLS]
    before_third = 2 + (1 + pieces[0]) + (1 + pieces[1]) + 1 + 1
    emulator.scripted.push(Fault.drop_connection(after_chunks=before_third), Reply(tool_calls=CALLS))
    got: list[Any] = []
    try:
        with pytest.raises(openai.APIConnectionError):
            await drain(
                client.chat.completions.create(
                    model="gpt-4o", response_model=Iterable[Weather | Search], messages=MESSAGES, stream=True
                ),
                got.append,
            )
        assert got == [Weather(city="Lisbon"), Search(query="ferries from Lisbon to Porto")]
        body = emulator.last_request.body
        assert body["stream"] is True
        assert body["tool_choice"] == "auto"
        assert [t["function"]["name"] for t in body["tools"]] == ["Weather", "Search"]
        assert len(emulator.requests) == 1

        emulator.scripted.push(Reply(tool_calls=CALLS))
        got.clear()
        await drain(
            client.chat.completions.create_iterable(
                model="gpt-4o", response_model=Weather | Search, messages=MESSAGES
            ),
            got.append,
        )
        assert got == [
            Weather(city="Lisbon"),
            Search(query="ferries from Lisbon to Porto"),
            Weather(city="Porto"),
        ]
    finally:
        closed = raw.close()
        if closed is not None:
            await closed
        emulator.close()


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_parallel_tools_cannot_stream_partials_and_nothing_is_sent(
    paced: tuple[Emulator, PacedBackend], make: Callable[[str, Mode], Any], flavor: str
) -> None:
    emulator, _ = paced
    client = make(flavor, Mode.PARALLEL_TOOLS)
    with pytest.raises(ConfigurationError, match="PARALLEL_TOOLS"):
        client.chat.completions.create_partial(model="gpt-4o", response_model=Weather, messages=MESSAGES)
    with pytest.raises(ConfigurationError, match="PARALLEL_TOOLS"):
        client.chat.completions.create(model="gpt-4o", response_model=Weather, messages=MESSAGES, stream=True)
    assert len(emulator.requests) == 0
