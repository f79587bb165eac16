"""Each completed field is checked on its own, as its model would check it.

A field with nothing in its model that can change its verdict is checked by its declared type,
constraints and the model's config alone; fields with validators, and models with validators that
run before the fields, are checked through the whole model. Either way the verdict is the model's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pytest
from openai import AzureOpenAI
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

import instructor_az
from instructor_az.emulator import Emulator
from instructor_az.streaming._field_checks import field_check

MESSAGES = [{"role": "user", "content": "Describe it."}]


@pytest.fixture
def azure_emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=["test-key"], chunk_chars=4)
    try:
        yield emulator
    finally:
        emulator.close()


def partials(client: AzureOpenAI, model: type[BaseModel]) -> list[dict[str, Any]]:
    wrapped = instructor_az.from_openai(client)
    stream = wrapped.chat.completions.create_partial(model="gpt-4o", response_model=model, messages=MESSAGES)
    return [p.model_dump() for p in stream]


def test_a_string_with_a_default_streams_from_its_first_characters(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    class Note(BaseModel):
        title: str
        body: str = "(no body)"

    answer = {"title": "Minutes", "body": "We agreed on the budget for the spring."}
    azure_emulator.scripted.push(answer)

    shown = [p["body"] for p in partials(azure_openai_client, Note)]

    # before the body arrives: its default; once it does: prefixes of the answer, never glued to the default
    arriving = [b for b in shown if b != "(no body)"]
    assert arriving
    assert all(answer["body"].startswith(b) for b in arriving), arriving
    assert shown[-1] == answer["body"]


def test_the_models_config_applies_to_a_completed_field(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    class Tag(BaseModel):
        model_config = ConfigDict(str_max_length=8)

        label: str
        description: str

    azure_emulator.scripted.push(
        {"label": "much-too-long-label", "description": "never streamed " * 10},
        {"label": "short", "description": "ok"},
    )

    shown = partials(azure_openai_client, Tag)

    assert all(p["description"] is None for p in shown if (p["label"] or "").startswith("much"))
    assert len(azure_emulator.requests) == 2
    assert "at most 8 characters" in json.dumps(azure_emulator.requests[1].body["messages"])
    assert shown[-1] == {"label": "short", "description": "ok"}


def test_an_annotated_validator_runs_when_its_field_completes(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    seen: list[str] = []

    def no_digits(value: str) -> str:
        seen.append(value)
        if any(c.isdigit() for c in value):
            raise ValueError("no digits in a city name")
        return value

    class Place(BaseModel):
        city: Annotated[str, AfterValidator(no_digits)]
        country: str

    azure_emulator.scripted.push(
        {"city": "Paris 75", "country": "never streamed " * 10}, {"city": "Paris", "country": "France"}
    )

    shown = partials(azure_openai_client, Place)

    assert "Paris 75" in seen  # the completed value, not its prefixes
    assert not any(len(v) < 5 for v in seen)
    assert all(p["country"] is None for p in shown if p["city"] == "Paris 75")
    assert "no digits in a city name" in json.dumps(azure_emulator.requests[1].body["messages"])
    assert shown[-1] == {"city": "Paris", "country": "France"}


class Shouting(BaseModel):
    code: Literal["ABC", "XYZ"]
    note: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def upper(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            return {**data, "code": data["code"].upper()}
        return data


def test_a_before_validator_that_rewrites_the_input_is_honoured_on_completion(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    # "abc" alone is not a valid code; the model's before validator makes it one: no re-ask.
    azure_emulator.scripted.push({"code": "abc", "note": "fine"})

    shown = partials(azure_openai_client, Shouting)

    assert len(azure_emulator.requests) == 1
    assert shown[-1] == {"code": "ABC", "note": "fine"}


def test_which_fields_take_the_whole_model_check() -> None:
    class Plain(BaseModel):
        name: str
        score: Annotated[int, Field(ge=0)]

    assert field_check(Plain, "name")[1] is False
    assert field_check(Plain, "score")[1] is False
    assert field_check(Shouting, "code")[1] is True  # a before validator may rewrite any field
