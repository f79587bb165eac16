"""Partial objects streamed from the emulator through the real SDK: every mode, sync and async, every spelling.

The partial object is one instance updated in place, so each step is snapshotted (`model_dump()`,
`completed_fields`) as it is yielded; the assertions run on the snapshots.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel, Field, field_validator, model_validator

import instructor_az
from instructor_az import Mode, Partial, PartialModel
from instructor_az.emulator import Emulator, Reply, ToolCall
from instructor_az.streaming import partial_class

MESSAGES = [{"role": "user", "content": "Tell me about Ada Lovelace."}]
STREAMED_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]
SPELLINGS = ["create_partial", "Partial[M]", "Partial[M] stream=True", "M stream=True"]


@pytest.fixture
def azure_emulator() -> Iterator[Emulator]:
    """The plugin's scripted emulator, answering in 4-character deltas (many partials per small object)."""
    emulator = Emulator(backend="scripted", api_keys=["test-key"], chunk_chars=4)
    try:
        yield emulator
    finally:
        emulator.close()


class Address(BaseModel):
    city: str
    postcode: str


class Person(BaseModel):
    name: str
    tags: list[str]
    address: Address
    age: int


ANSWER: dict[str, Any] = {
    "name": "Ada Lovelace",
    "tags": ["mathematician", "writer"],
    "address": {"city": "London", "postcode": "W1J 7NT"},
    "age": 36,
}


def fenced(value: Any) -> str:
    """How a chatty model answers in MD_JSON: text, a ```json fence, more text."""
    return f"Here is the JSON you asked for:\n```json\n{json.dumps(value, indent=2)}\n```\nAnything else?"


def push_answer(emulator: Emulator, mode: Mode, *values: Any) -> None:
    for value in values:
        emulator.scripted.push(fenced(value) if mode is Mode.MD_JSON else value)


def open_stream(client: Any, spelling: str, model: type[BaseModel], **kwargs: Any) -> Any:
    """The partial stream, spelled one of the ways users know (sync or async alike)."""
    completions = client.chat.completions
    kwargs.setdefault("model", "gpt-4o")
    kwargs.setdefault("messages", MESSAGES)
    if spelling == "create_partial":
        return completions.create_partial(response_model=model, **kwargs)
    if spelling == "Partial[M]":
        return completions.create(response_model=Partial[model], **kwargs)
    if spelling == "Partial[M] stream=True":
        return completions.create(response_model=Partial[model], stream=True, **kwargs)
    assert spelling == "M stream=True"
    return completions.create(response_model=model, stream=True, **kwargs)


@dataclass(frozen=True)
class Snap:
    """One yielded item, copied at the moment it was yielded."""

    item: Any
    kind: type
    data: dict[str, Any]
    complete: frozenset[str] | None
    nested: dict[str, tuple[type, frozenset[str] | None]]


def snap(item: Any) -> Snap:
    nested = {
        name: (type(value), value.completed_fields if isinstance(value, PartialModel) else None)
        for name, value in item.__dict__.items()
        if isinstance(value, BaseModel)
    }
    complete = item.completed_fields if isinstance(item, PartialModel) else None
    return Snap(item, type(item), item.model_dump(), complete, nested)


def collect(stream: Any) -> list[Snap]:
    return [snap(item) for item in stream]


async def acollect(stream: Any) -> list[Snap]:
    return [snap(item) async for item in stream]


def consistent(value: Any, answer: Any) -> bool:
    """`value` is what a partial may show of `answer`: nothing yet, or a prefix of it."""
    if isinstance(answer, str):
        return value is None or (isinstance(value, str) and answer.startswith(value))
    if isinstance(answer, list):
        return (
            isinstance(value, list)
            and len(value) <= len(answer)
            and all(consistent(v, a) for v, a in zip(value, answer, strict=False))
        )
    if isinstance(answer, dict):
        return value is None or (
            isinstance(value, dict)
            and value.keys() == answer.keys()
            and all(consistent(value[k], answer[k]) for k in answer)
        )
    return value is None or value == answer


def grows(before: Any, after: Any) -> bool:
    """`after` extends `before`: strings and lists only grow, values once set never change."""
    if before is None:
        return True
    if isinstance(before, str):
        return isinstance(after, str) and after.startswith(before)
    if isinstance(before, list):
        return (
            isinstance(after, list)
            and len(after) >= len(before)
            and all(grows(b, a) for b, a in zip(before, after, strict=False))
        )
    if isinstance(before, dict):
        return isinstance(after, dict) and all(grows(before[k], after.get(k)) for k in before)
    return before == after


def flips_once(states: list[bool]) -> bool:
    """False ... False True ... True: goes True exactly once and never back."""
    return bool(states) and not states[0] and states[-1] and states == sorted(states)


def check_partial_stream(snaps: list[Snap], model: type[BaseModel], answer: dict[str, Any]) -> None:
    *partials, last = snaps
    # the last item: the complete, validated model (an instance of it, equal to it, dumping the same)
    assert isinstance(last.item, model)
    assert last.item == model.model_validate(answer)
    assert model.model_validate(answer) == last.item
    assert last.data == model.model_validate(answer).model_dump()
    # partials after the deltas that change them: many for a small object in 4-character deltas
    assert len(partials) > 3
    assert all(isinstance(s.item, PartialModel) and s.kind is partial_class(model) for s in partials)
    assert all(isinstance(s.item, model) for s in partials)
    # unseen fields are None, lists []
    assert partials[0].data == {
        name: ([] if isinstance(value, list) else None) for name, value in answer.items()
    }
    for s in partials:
        assert consistent(s.data, answer), s.data
    # strings (and lists) only grow; values never change once shown
    for before, after in itertools.pairwise(snaps):
        assert grows(before.data, after.data), (before.data, after.data)
    # each field completes exactly once, with its final value, and stays complete
    for field in answer:
        states = [field in (s.complete or ()) for s in partials]
        assert flips_once(states), (field, states)
        first = states.index(True)
        assert partials[first].data[field] == answer[field]


def check_nested_partials(snaps: list[Snap]) -> None:
    *partials, _ = snaps
    with_address = [s for s in partials if s.data["address"] is not None]
    assert with_address
    for s in with_address:
        kind, complete = s.nested["address"]
        assert kind is partial_class(Address)
        assert issubclass(kind, PartialModel)
        assert kind is not Address
        assert complete is not None
    city_states = ["city" in (s.nested["address"][1] or ()) for s in with_address]
    assert flips_once(city_states)


def stream_client(client: Any, mode: Mode) -> Any:
    return instructor_az.from_openai(client, mode=mode)


# --- 1. partial objects: each mode x sync/async x spelling ----------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
def test_sync_partials_grow_complete_once_and_end_with_the_validated_model(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI, mode: Mode, spelling: str
) -> None:
    push_answer(azure_emulator, mode, ANSWER)
    client = stream_client(azure_openai_client, mode)

    snaps = collect(open_stream(client, spelling, Person))

    check_partial_stream(snaps, Person, ANSWER)
    check_nested_partials(snaps)
    assert len(azure_emulator.requests) == 1
    assert azure_emulator.last_request.body["stream"] is True


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_async_partials_grow_complete_once_and_end_with_the_validated_model(
    azure_emulator: Emulator, async_azure_openai_client: AsyncAzureOpenAI, mode: Mode, spelling: str
) -> None:
    push_answer(azure_emulator, mode, ANSWER)
    client = stream_client(async_azure_openai_client, mode)

    snaps = await acollect(open_stream(client, spelling, Person))

    check_partial_stream(snaps, Person, ANSWER)
    check_nested_partials(snaps)
    assert len(azure_emulator.requests) == 1
    assert azure_emulator.last_request.body["stream"] is True


def test_partial_is_exported_at_top_level_and_names_the_partial_class() -> None:
    from instructor_az.streaming._partial_class import Partial as InternalPartial

    assert instructor_az.Partial is InternalPartial
    assert "Partial" in instructor_az.__all__
    assert Partial[Person] is partial_class(Person)
    assert issubclass(Partial[Person], Person)
    assert issubclass(Partial[Person], PartialModel)


def test_partial_of_something_other_than_a_model_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="pydantic model"):
        Partial[int]  # type: ignore[type-var]


def test_yielded_partial_is_one_instance_updated_in_place(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_openai(azure_openai_client)

    items = list(client.chat.completions.create_partial(model="gpt-4o", response_model=Person, messages=MESSAGES))

    *partials, final = items
    assert len({id(p) for p in partials}) == 1
    assert partials[0].model_dump() == {**ANSWER}  # the instance holds the last state it reached
    assert final is not partials[0]


def test_partial_fields_become_complete_in_the_order_they_close(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_openai(azure_openai_client)

    snaps = collect(client.chat.completions.create_partial(model="gpt-4o", response_model=Person, messages=MESSAGES))

    order: list[str] = []
    for s in snaps[:-1]:
        order.extend(sorted(f for f in (s.complete or ()) if f not in order))
    assert order == ["name", "tags", "address", "age"]
    # a half-written number is never shown: age appears only when complete
    assert all(s.data["age"] in (None, 36) for s in snaps)
    assert all(s.data["age"] is None or "age" in (s.complete or ()) for s in snaps[:-1])


@pytest.mark.parametrize("last", ["address", "tags"])
def test_a_delta_that_only_closes_a_field_yields_the_partial_showing_it_complete(last: str) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=1)  # every character is its own delta
    try:
        client = instructor_az.from_openai(emulator.client())
        answer = {k: v for k, v in ANSWER.items() if k != last} | {last: ANSWER[last]}
        emulator.scripted.push(Reply(tool_calls=[ToolCall("Person", json.dumps(answer))]))

        snaps = collect(
            client.chat.completions.create_partial(model="gpt-4o", response_model=Person, messages=MESSAGES)
        )

        *partials, final = snaps
        assert isinstance(final.item, Person)
        assert final.item == Person.model_validate(answer)
        assert any(last in (s.complete or ()) for s in partials)
    finally:
        emulator.close()


# --- 2. validation by completeness ----------------------------------------------------------------


class Headline(BaseModel):
    title: str = Field(min_length=20)
    score: int = Field(ge=0)


@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
def test_constraint_is_not_applied_to_a_string_prefix(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI, mode: Mode
) -> None:
    answer = {"title": "Streaming without early failures", "score": 7}
    push_answer(azure_emulator, mode, answer)
    client = stream_client(azure_openai_client, mode)

    snaps = collect(client.chat.completions.create_partial(model="gpt-4o", response_model=Headline, messages=MESSAGES))

    short_prefixes = [s.data["title"] for s in snaps if s.data["title"] and len(s.data["title"]) < 20]
    assert short_prefixes  # the stream went on past prefixes that would fail min_length
    assert snaps[-1].item == Headline(**answer)
    assert len(azure_emulator.requests) == 1


class Entry(BaseModel):
    name: str
    price: int = Field(ge=0)


class Catalog(BaseModel):
    items: list[Entry]


BAD_CATALOG = {"items": [{"name": f"bad-{i}", "price": -1 if i == 0 else i} for i in range(50)]}
GOOD_CATALOG = {"items": [{"name": f"good-{i}", "price": i} for i in range(3)]}


def check_stopped_early_and_reasked(emulator: Emulator, snaps: list[Snap]) -> None:
    names = [[item["name"] for item in s.data["items"] if item["name"]] for s in snaps]
    bad = [n for n in names if any(x.startswith("bad") for x in n)]
    assert bad  # the first answer did stream
    assert all(len(n) <= 1 for n in bad)  # ...but no partial ever held its second item
    assert all(not x.startswith("bad-1") for n in bad for x in n)
    # re-asked once; the second request carries the error and only what the first stream had sent
    assert len(emulator.requests) == 2
    sent = json.dumps(emulator.requests[1].body["messages"])
    assert "greater than or equal to 0" in sent
    assert "items.0.price" in sent
    assert "bad-2" not in sent
    assert "bad-49" not in sent
    # the final object comes from the second answer
    assert isinstance(snaps[-1].item, Catalog)
    assert snaps[-1].item == Catalog.model_validate(GOOD_CATALOG)


@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
def test_invalid_completed_value_stops_the_stream_and_reasks(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI, mode: Mode
) -> None:
    push_answer(azure_emulator, mode, BAD_CATALOG, GOOD_CATALOG)
    client = stream_client(azure_openai_client, mode)

    snaps = collect(client.chat.completions.create_partial(model="gpt-4o", response_model=Catalog, messages=MESSAGES))

    check_stopped_early_and_reasked(azure_emulator, snaps)


@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_async_invalid_completed_value_stops_the_stream_and_reasks(
    azure_emulator: Emulator, async_azure_openai_client: AsyncAzureOpenAI, mode: Mode
) -> None:
    push_answer(azure_emulator, mode, BAD_CATALOG, GOOD_CATALOG)
    client = stream_client(async_azure_openai_client, mode)

    snaps = await acollect(
        client.chat.completions.create(model="gpt-4o", response_model=Catalog, stream=True, messages=MESSAGES)
    )

    check_stopped_early_and_reasked(azure_emulator, snaps)


def test_field_validator_runs_when_its_field_completes(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    timeline: list[tuple[str, Any]] = []

    class Signup(BaseModel):
        username: str
        bio: str

        @field_validator("username")
        @classmethod
        def record(cls, value: str) -> str:
            timeline.append(("validated", value))
            return value

    answer = {"username": "ada_lovelace", "bio": "Wrote the first published algorithm for a machine."}
    azure_emulator.scripted.push(answer)
    client = instructor_az.from_openai(azure_openai_client)

    for partial in client.chat.completions.create_partial(model="gpt-4o", response_model=Signup, messages=MESSAGES):
        timeline.append(("partial", partial.model_dump()))

    validated = [value for what, value in timeline if what == "validated"]
    assert validated
    assert set(validated) == {"ada_lovelace"}
    first = next(i for i, (what, _) in enumerate(timeline) if what == "validated")
    before = [v for what, v in timeline[:first] if what == "partial"]
    after = [v for what, v in timeline[first:] if what == "partial"]
    assert before
    assert all(v["bio"] is None for v in before)
    assert before[-1]["username"] != "ada_lovelace"  # ran as the field completed...
    assert any(v["bio"] and v["bio"] != answer["bio"] for v in after)  # ...while the rest still streamed


def test_field_validator_failure_on_completion_stops_the_stream_and_reasks(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    class Signup(BaseModel):
        username: str
        bio: str

        @field_validator("username")
        @classmethod
        def lowercase(cls, value: str) -> str:
            if value != value.lower():
                raise ValueError("username must be lowercase")
            return value

    azure_emulator.scripted.push(
        {"username": "Ada", "bio": "A long biography that must never stream out: " + "x" * 200},
        {"username": "ada", "bio": "Short."},
    )
    client = instructor_az.from_openai(azure_openai_client)

    snaps = collect(client.chat.completions.create_partial(model="gpt-4o", response_model=Signup, messages=MESSAGES))

    first_attempt = [s for s in snaps if s.data["username"] in ("A", "Ad", "Ada")]
    assert first_attempt
    assert all(s.data["bio"] is None for s in first_attempt)
    assert len(azure_emulator.requests) == 2
    assert "username must be lowercase" in json.dumps(azure_emulator.requests[1].body["messages"])
    assert snaps[-1].item == Signup(username="ada", bio="Short.")


def test_nested_model_validator_runs_when_the_nested_object_closes(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    class Span(BaseModel):
        start: int
        end: int

        @model_validator(mode="after")
        def ordered(self) -> Span:
            if self.start > self.end:
                raise ValueError("start must not be after end")
            return self

    class Event(BaseModel):
        span: Span
        description: str

    azure_emulator.scripted.push(
        {"span": {"start": 9, "end": 1}, "description": "never streamed " * 20},
        {"span": {"start": 1, "end": 9}, "description": "ok"},
    )
    client = instructor_az.from_openai(azure_openai_client)

    snaps = collect(client.chat.completions.create_partial(model="gpt-4o", response_model=Event, messages=MESSAGES))

    first_attempt = [s for s in snaps if s.data["span"] and s.data["span"]["start"] == 9]
    assert first_attempt
    assert all(s.data["description"] is None for s in first_attempt)
    assert len(azure_emulator.requests) == 2
    assert "start must not be after end" in json.dumps(azure_emulator.requests[1].body["messages"])
    assert snaps[-1].item == Event(span=Span(start=1, end=9), description="ok")


def test_md_json_stream_reads_the_fenced_block_after_prose_with_brackets(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    answer = "Sure [see the notes below]:\n```json\n" + json.dumps({"title": "Brackets in prose are fine", "score": 3}) + "\n```\n"
    client = instructor_az.from_openai(azure_openai_client, mode=Mode.MD_JSON)
    azure_emulator.scripted.push(answer)
    assert client.chat.completions.create(model="gpt-4o", response_model=Headline, messages=MESSAGES).score == 3

    azure_emulator.scripted.push(answer)
    snaps = collect(
        client.chat.completions.create_partial(
            model="gpt-4o", response_model=Headline, messages=MESSAGES, max_retries=1
        )
    )

    assert snaps[-1].item == Headline(title="Brackets in prose are fine", score=3)
    assert all(isinstance(s.item, Headline) for s in snaps)
    assert len(azure_emulator.requests) == 2  # one plain call, one stream: no re-ask


# --- 6. a long object -----------------------------------------------------------------------------


class Ledger(BaseModel):
    title: str
    entries: list[Entry]


LONG = {"title": "Year-end ledger", "entries": [{"name": f"entry number {i}", "price": i * 7} for i in range(300)]}


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA, Mode.MD_JSON], ids=str)
def test_long_object_streams_to_the_exact_answer(mode: Mode) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=8)
    try:
        client = instructor_az.from_openai(emulator.client(), mode=mode)
        push_answer(emulator, mode, LONG)

        count = 0
        last_len = 0
        final: Any = None
        for item in client.chat.completions.create_partial(model="gpt-4o", response_model=Ledger, messages=MESSAGES):
            count += 1
            assert len(item.entries) >= last_len
            last_len = len(item.entries)
            final = item

        assert isinstance(final, Ledger)
        assert final == Ledger.model_validate(LONG)
        assert final.model_dump() == LONG
        assert count > 300
        assert len(emulator.requests) == 1
    finally:
        emulator.close()


async def test_async_long_object_streams_to_the_exact_answer() -> None:
    emulator = Emulator(backend="scripted", chunk_chars=8)
    client = instructor_az.from_openai(emulator.async_client())
    try:
        emulator.scripted.push(LONG)
        items = [
            item
            async for item in client.chat.completions.create(
                model="gpt-4o", response_model=Ledger, stream=True, messages=MESSAGES
            )
        ]
        assert isinstance(items[-1], Ledger)
        assert items[-1] == Ledger.model_validate(LONG)
        assert items[-1].model_dump() == LONG
    finally:
        await client.client.close()
        emulator.close()
