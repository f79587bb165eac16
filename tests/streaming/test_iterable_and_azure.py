"""Iterables in every mode, sync and async, and Azure's stream behaviours (filters, drops, cut-offs, early exit)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az import ContentFilterError, IncompleteOutputException, Mode
from instructor_az.emulator import ChatRequest, Emulator, Fault, Reply, ToolCall

MESSAGES = [{"role": "user", "content": "List the items."}]
ITEMS = [{"name": "Kettle", "price": 24.5}, {"name": "Teapot", "price": 18.0}, {"name": "Mug", "price": 6.0}]


class Item(BaseModel):
    name: str
    price: float


def wrapped(items: list[dict[str, Any]], *, fenced: bool = False) -> Any:
    """An answer putting `items` in whatever list wrapper the request's schema declares."""

    def reply(request: ChatRequest) -> Reply:
        schema = request.response_schema or request.prompt_schema or {}
        (field,) = schema["properties"]
        text = json.dumps({field: items})
        if request.answer_tool:
            return Reply(tool_calls=[ToolCall(request.answer_tool, text)])
        return Reply(content=f"```json\n{text}\n```" if fenced else text)

    return reply


MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]


@pytest.mark.parametrize("mode", MODES)
def test_iterable_yields_each_item_in_every_mode(azure_emulator: Emulator, azure_openai_client: Any, mode: Mode) -> None:
    azure_emulator.scripted.push(wrapped(ITEMS, fenced=mode is Mode.MD_JSON))
    client = instructor_az.from_openai(azure_openai_client, mode=mode)
    items = list(client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES))
    assert items == [Item(**i) for i in ITEMS]
    body = azure_emulator.last_request.body
    assert body["stream"] is True
    if mode.is_tools:
        assert body["tool_choice"]["type"] == "function"
    elif mode is Mode.JSON_SCHEMA:
        assert body["response_format"]["type"] == "json_schema"
    elif mode is Mode.JSON:
        assert body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("mode", MODES)
async def test_async_iterable_yields_each_item_in_every_mode(
    azure_emulator: Emulator, async_azure_openai_client: Any, mode: Mode
) -> None:
    azure_emulator.scripted.push(wrapped(ITEMS, fenced=mode is Mode.MD_JSON))
    client = instructor_az.from_openai(async_azure_openai_client, mode=mode)
    items = [i async for i in client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES)]
    assert items == [Item(**i) for i in ITEMS]


def test_iterable_marker_and_iterator_flag_and_non_streamed_list(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    from collections.abc import Iterable

    client = instructor_az.from_openai(azure_openai_client)
    azure_emulator.scripted.push(wrapped(ITEMS), wrapped(ITEMS), wrapped(ITEMS))
    streamed = client.chat.completions.create(
        model="gpt-4o", response_model=Iterable[Item], messages=MESSAGES, stream=True
    )
    assert list(streamed) == [Item(**i) for i in ITEMS]
    flagged = client.chat.completions.create(model="gpt-4o", response_model=Item, messages=MESSAGES, iterator=True)
    assert [i.name for i in flagged] == ["Kettle", "Teapot", "Mug"]
    whole = client.chat.completions.create(model="gpt-4o", response_model=Iterable[Item], messages=MESSAGES)
    assert whole == [Item(**i) for i in ITEMS]
    assert "stream" not in azure_emulator.last_request.body or not azure_emulator.last_request.body["stream"]


class Weather(BaseModel):
    city: str


class Search(BaseModel):
    query: str


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tools_stream_each_call(azure_emulator: Emulator, azure_openai_client: Any, stream: bool) -> None:
    from collections.abc import Iterable

    azure_emulator.scripted.push(
        Reply(
            tool_calls=[
                ToolCall("Weather", {"city": "Paris"}),
                ToolCall("Search", {"query": "museums in Paris"}),
                ToolCall("Weather", {"city": "Tokyo"}),
            ]
        )
    )
    client = instructor_az.from_openai(azure_openai_client, mode=Mode.PARALLEL_TOOLS)
    result = client.chat.completions.create(
        model="gpt-4o",
        response_model=Iterable[Weather | Search],
        messages=MESSAGES,
        stream=stream,
    )
    assert list(result) == [Weather(city="Paris"), Search(query="museums in Paris"), Weather(city="Tokyo")]
    assert azure_emulator.last_request.body["tool_choice"] == "auto"


# --- Azure's stream behaviours ----------------------------------------------------------------------


def test_completion_filter_mid_stream_after_the_items_that_passed(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    text = json.dumps({"tasks": ITEMS})
    cut = text.index("Mug") - 5  # the filter strikes inside the third item
    azure_emulator.scripted.push(
        Fault.completion_filter(after_chars=cut, violence="medium"), wrapped(ITEMS), wrapped(ITEMS)
    )
    client = instructor_az.from_openai(azure_openai_client)
    got: list[Item] = []
    with pytest.raises(ContentFilterError) as caught:
        for item in client.chat.completions.create_iterable(
            model="gpt-4o", response_model=Item, messages=MESSAGES, max_retries=3
        ):
            got.append(item)
    assert got == [Item(**ITEMS[0]), Item(**ITEMS[1])]  # yielded before the filter arrived
    assert caught.value.source == "completion"
    assert caught.value.filtered_categories == ["violence"]
    assert len(azure_emulator.requests) == 1  # never re-asked


async def test_async_completion_filter_mid_stream_in_a_partial(
    azure_emulator: Emulator, async_azure_openai_client: Any
) -> None:
    azure_emulator.scripted.push(Fault.completion_filter(after_chars=20, hate="high"), {"name": "Kettle", "price": 1})
    client = instructor_az.from_openai(async_azure_openai_client)
    seen: list[dict[str, Any]] = []
    with pytest.raises(ContentFilterError):
        async for partial in client.chat.completions.create_partial(
            model="gpt-4o", response_model=Item, messages=MESSAGES
        ):
            seen.append(partial.model_dump())
    assert seen  # partials arrived before the filter
    assert seen[-1]["price"] is None  # the filtered answer never completed
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize("kind", ["partial", "iterable"])
def test_dropped_connection_is_a_typed_error_not_a_truncated_object(
    azure_emulator: Emulator, azure_openai_client: Any, kind: str
) -> None:
    answer = ITEMS[0] if kind == "partial" else wrapped(ITEMS)
    azure_emulator.scripted.push(Fault.drop_connection(after_chunks=6), answer, answer)
    client = instructor_az.from_openai(azure_openai_client.with_options(max_retries=0))
    yielded: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        if kind == "partial":
            for partial in client.chat.completions.create_partial(
                model="gpt-4o", response_model=Item, messages=MESSAGES, max_retries=3
            ):
                yielded.append((partial.model_dump(), set(partial.completed_fields)))
        else:
            for item in client.chat.completions.create_iterable(
                model="gpt-4o", response_model=Item, messages=MESSAGES, max_retries=3
            ):
                yielded.append(item)
    if kind == "partial":
        assert all(done != {"name", "price"} for _, done in yielded)  # never shown as complete
    else:
        assert yielded == []  # six chunks do not close any item
    assert len(azure_emulator.requests) == 1  # a transport failure is not re-asked


def test_length_mid_stream_is_incomplete_output(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    text = json.dumps({"tasks": ITEMS})
    azure_emulator.scripted.push(Fault.length(after_chars=text.index("Teapot") + 3), wrapped(ITEMS))
    client = instructor_az.from_openai(azure_openai_client)
    got: list[Item] = []
    with pytest.raises(IncompleteOutputException):
        for item in client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES):
            got.append(item)
    assert got == [Item(**ITEMS[0])]
    assert len(azure_emulator.requests) == 1


def test_leaving_early_closes_the_stream_and_sends_nothing_more(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    azure_emulator.scripted.push(wrapped(ITEMS), wrapped(ITEMS))
    client = instructor_az.from_openai(azure_openai_client)
    stream = client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES)
    first = next(iter(stream))
    assert first == Item(**ITEMS[0])
    stream.close()  # type: ignore[attr-defined]
    assert len(azure_emulator.requests) == 1
    assert azure_emulator.scripted.pending == 1  # the second answer was never asked for


# --- partials in every mode, sync and async ---------------------------------------------------------


class Order(BaseModel):
    customer: str
    items: list[Item]
    note: str


ORDER = {"customer": "Ada Lovelace", "items": ITEMS, "note": "deliver after six, ring twice"}


def order_answer(mode: Mode) -> Any:
    text = json.dumps(ORDER)
    if mode.is_tools:
        return Reply(tool_calls=[ToolCall("Order", text)])
    return f"```json\n{text}\n```" if mode is Mode.MD_JSON else text


def check_partials(snapshots: list[tuple[dict[str, Any], frozenset[str]]], final: Any) -> None:
    assert len(snapshots) > 10  # it filled in as chunks arrived
    assert snapshots[0][0]["note"] is None
    lengths = [len(s["items"] or []) for s, _ in snapshots]
    assert lengths == sorted(lengths)  # the list only grows
    done: frozenset[str] = frozenset()
    for snapshot, complete in snapshots:
        assert done <= complete  # completeness never goes back
        done = complete
        if "customer" not in complete and snapshot["customer"] is not None:
            assert ORDER["customer"].startswith(snapshot["customer"])  # a growing prefix
    assert "customer" in snapshots[len(snapshots) // 2][1]  # complete long before the end
    assert isinstance(final, Order)
    assert final.model_dump() == ORDER


@pytest.mark.parametrize("mode", MODES)
def test_partial_in_every_mode(azure_emulator: Emulator, azure_openai_client: Any, mode: Mode) -> None:
    azure_emulator.scripted.push(order_answer(mode))
    client = instructor_az.from_openai(azure_openai_client, mode=mode)
    snapshots = []
    final: Any = None
    for partial in client.chat.completions.create_partial(model="gpt-4o", response_model=Order, messages=MESSAGES):
        # the last yield is the validated Order itself: every field complete
        snapshots.append((partial.model_dump(), frozenset(getattr(partial, "completed_fields", Order.model_fields))))
        final = partial
    check_partials(snapshots, final)
    assert azure_emulator.last_request.body["stream"] is True


@pytest.mark.parametrize("mode", MODES)
async def test_async_partial_in_every_mode(
    azure_emulator: Emulator, async_azure_openai_client: Any, mode: Mode
) -> None:
    azure_emulator.scripted.push(order_answer(mode))
    client = instructor_az.from_openai(async_azure_openai_client, mode=mode)
    snapshots = []
    final: Any = None
    async for partial in client.chat.completions.create_partial(
        model="gpt-4o", response_model=Order, messages=MESSAGES
    ):
        # the last yield is the validated Order itself: every field complete
        snapshots.append((partial.model_dump(), frozenset(getattr(partial, "completed_fields", Order.model_fields))))
        final = partial
    check_partials(snapshots, final)


def test_items_yielded_before_a_reask_are_not_yielded_again(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    bad = [ITEMS[0], ITEMS[1], {"name": "Mug", "price": "six"}]  # the third item fails validation
    fixed = [ITEMS[0], ITEMS[1], {"name": "Mug", "price": 6.0}, {"name": "Jug", "price": 9.0}]
    azure_emulator.scripted.push(wrapped(bad), wrapped(fixed))
    client = instructor_az.from_openai(azure_openai_client)
    items = list(client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES))
    assert items == [Item(**i) for i in fixed]  # Kettle and Teapot once each, though both answers had them
    assert len(azure_emulator.requests) == 2


def test_a_reasked_item_that_changed_is_yielded(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    bad = [ITEMS[0], {"name": "Mug", "price": "six"}]
    fixed = [{"name": "Kettle", "price": 25.0}, {"name": "Mug", "price": 6.0}]
    azure_emulator.scripted.push(wrapped(bad), wrapped(fixed))
    client = instructor_az.from_openai(azure_openai_client)
    items = list(client.chat.completions.create_iterable(model="gpt-4o", response_model=Item, messages=MESSAGES))
    assert items == [Item(**ITEMS[0]), Item(name="Kettle", price=25.0), Item(name="Mug", price=6.0)]
