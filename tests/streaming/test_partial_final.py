"""The last object of a partial stream: `is_complete` / `completed_fields` work on it as on the partials.

Through the real SDK against the emulator, sync and async, every mode that streams partials, every
spelling (`create_partial`, `Partial[M]`, `stream=True`). The last object is still the validated
answer: an instance of the response model, `==` to it both ways, dumping the same, validators run.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel, PrivateAttr, field_validator, model_validator

import instructor_az
from instructor_az import Mode, Partial, PartialModel
from instructor_az.emulator import Emulator

MESSAGES = [{"role": "user", "content": "Tell me about Ada Lovelace."}]
STREAMED_MODES = [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON]
SPELLINGS = ["create_partial", "Partial[M]", "M stream=True"]

@pytest.fixture
def azure_emulator() -> Iterator[Emulator]:
    """The scripted emulator answering in 4-character deltas: many partials per small object."""
    emulator = Emulator(backend="scripted", api_keys=["test-key"], chunk_chars=4)
    try:
        yield emulator
    finally:
        emulator.close()


class Address(BaseModel):
    city: str
    postcode: str


class Language(BaseModel):
    name: str


class Person(BaseModel):
    name: str
    tags: list[str]
    address: Address
    languages: list[Language]
    age: int
    _checked: bool = PrivateAttr(default=False)

    @field_validator("tags")
    @classmethod
    def lowercase(cls, tags: list[str]) -> list[str]:
        return [tag.lower() for tag in tags]

    @model_validator(mode="after")
    def mark(self) -> Person:
        self._checked = True
        return self


class Plain(BaseModel):
    """No validators: a partial's raw values are its final values."""

    name: str
    address: Address


ANSWER: dict[str, Any] = {
    "name": "Ada Lovelace",
    "tags": ["Mathematician", "Writer"],
    "address": {"city": "London", "postcode": "W1J 7NT"},
    "languages": [{"name": "English"}, {"name": "French"}],
    "age": 36,
}
EXPECTED = Person.model_validate(ANSWER)


def push(emulator: Emulator, mode: Mode, value: Any) -> None:
    if mode is Mode.MD_JSON:
        emulator.scripted.push(f"Here you are:\n```json\n{json.dumps(value, indent=2)}\n```\n")
    else:
        emulator.scripted.push(value)


def open_stream(client: Any, spelling: str, model: type[BaseModel]) -> Any:
    completions = client.chat.completions
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    if spelling == "create_partial":
        return completions.create_partial(response_model=model, **kwargs)
    if spelling == "Partial[M]":
        return completions.create(response_model=Partial[model], **kwargs)
    assert spelling == "M stream=True"
    return completions.create(response_model=model, stream=True, **kwargs)


def check_last(items: list[Any]) -> None:
    *partials, last = items
    assert partials
    assert len({id(p) for p in partials}) == 1  # still one partial object, updated in place
    # the documented accessors work on the last object too, and report everything complete
    assert isinstance(last, PartialModel)
    assert last.completed_fields == frozenset(Person.model_fields)
    assert all(last.is_complete(field) for field in Person.model_fields)
    assert last.address.completed_fields == {"city", "postcode"}
    assert all(lang.completed_fields == {"name"} for lang in last.languages)
    # ...and it is still the validated answer
    assert isinstance(last, Person)
    assert last == EXPECTED
    assert Person.model_validate(ANSWER) == last  # the model on the left: its __eq__ is asked first
    assert last.model_dump() == EXPECTED.model_dump()
    assert last.model_dump_json() == EXPECTED.model_dump_json()
    assert last.tags == ["mathematician", "writer"]  # the field validator ran
    assert last._checked is True  # the model validator ran


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
def test_sync_last_object_reports_every_field_complete_and_is_the_validated_model(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI, mode: Mode, spelling: str
) -> None:
    push(azure_emulator, mode, ANSWER)
    client = instructor_az.from_openai(azure_openai_client, mode=mode)

    items = list(open_stream(client, spelling, Person))

    check_last(items)
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("mode", STREAMED_MODES, ids=str)
async def test_async_last_object_reports_every_field_complete_and_is_the_validated_model(
    azure_emulator: Emulator, async_azure_openai_client: AsyncAzureOpenAI, mode: Mode, spelling: str
) -> None:
    push(azure_emulator, mode, ANSWER)
    client = instructor_az.from_openai(async_azure_openai_client, mode=mode)

    items = [item async for item in open_stream(client, spelling, Person)]

    check_last(items)
    assert len(azure_emulator.requests) == 1


def test_last_object_after_a_reask_reports_every_field_complete(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push({**ANSWER, "age": "thirty-six"}, ANSWER)
    client = instructor_az.from_openai(azure_openai_client)

    items = list(open_stream(client, "create_partial", Person))

    assert len(azure_emulator.requests) == 2
    last = items[-1]
    assert last.completed_fields == frozenset(Person.model_fields)
    assert last == EXPECTED


def test_last_object_pickles_and_copies_with_its_accessors(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_openai(azure_openai_client)

    last = list(open_stream(client, "create_partial", Person))[-1]

    for clone in (pickle.loads(pickle.dumps(last)), copy.deepcopy(last), last.model_copy()):
        assert clone == EXPECTED
        assert clone.completed_fields == frozenset(Person.model_fields)
        assert clone.address.is_complete("city")


def test_partial_equals_the_model_with_the_same_values_and_pickles(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    answer = {"name": "Ada", "address": {"city": "London", "postcode": "W1J 7NT"}}
    azure_emulator.scripted.push(answer)
    client = instructor_az.from_openai(azure_openai_client)

    snapshots: list[tuple[Any, frozenset[str], dict[str, Any]]] = []
    partials: list[Any] = []
    for item in client.chat.completions.create_partial(
        model="gpt-4o", response_model=Plain, messages=MESSAGES
    ):
        if isinstance(item, PartialModel):
            partials.append(item)
            snapshots.append((pickle.loads(pickle.dumps(item)), item.completed_fields, item.model_dump()))

    # a partial pickled mid-stream comes back as the partial class, with its values and completeness
    assert len(snapshots) > 3
    for restored, complete, data in snapshots:
        assert type(restored) is Partial[Plain]
        assert restored.completed_fields == complete
        assert restored.model_dump() == data
    assert snapshots[-1][1] == {"name", "address"}
    # the partial (one instance, now holding the whole answer) equals the model with those values
    partial = partials[-1]
    assert partial == Plain.model_validate(answer)
    assert Plain.model_validate(answer) == partial
    assert partial != Plain(name="Ada", address=Address(city="Paris", postcode="75001"))
    assert snapshots[0][0] != Plain.model_validate(answer)
