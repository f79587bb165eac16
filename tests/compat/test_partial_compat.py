"""instructor's `Partial[Model]` on instructor-az: the `Partial...` schema names, `get_partial_model()`
(every field optional, recursively), `model_from_chunks()` / `model_from_chunks_async()` on our
incremental parser, `PartialLiteralMixin`; and `create(response_model=Partial[M])` still streaming
one partial object updated in place. Calls go through the real openai SDK against the emulator."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

import instructor_az
from instructor_az import Partial, PartialLiteralMixin, PartialModel
from instructor_az.dsl.partial import get_partial_model
from instructor_az.emulator import Emulator

MESSAGES = [{"role": "user", "content": "An order, please."}]


class Item(BaseModel):
    name: str
    qty: int = Field(ge=1)


class Order(BaseModel):
    customer: str
    items: list[Item]
    note: str | None = None
    kind: Literal["retail", "wholesale"] = "retail"

    @model_validator(mode="after")
    def some_items(self) -> Order:
        if self.items == []:  # None: not there yet (get_partial_model)
            raise ValueError("an order has items")
        return self


ANSWER: dict[str, Any] = {
    "customer": "Ada",
    "items": [{"name": "apple", "qty": 3}, {"name": "pear", "qty": 1}],
    "note": "by noon",
    "kind": "wholesale",
}
TEXT = json.dumps(ANSWER)


def pieces(text: str, size: int = 5) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- the partial class and its all-optional twin -----------------------------------------------------


def test_partial_class_schema_names_nested_models_partial_and_keeps_requirements() -> None:
    schema = Partial[Order].model_json_schema()

    assert schema["title"] == "PartialOrder"
    assert set(schema["$defs"]) == {"PartialItem"}
    assert schema["required"] == ["customer", "items"]
    assert Partial[Order] is instructor_az.streaming.partial_class(Order)  # one class per model
    assert Partial[Order]._original_model is Order
    assert issubclass(Partial[Order], Order)
    assert issubclass(Partial[Order], PartialModel)


def test_get_partial_model_accepts_every_prefix_and_still_checks_what_is_there() -> None:
    optional = Partial[Order].get_partial_model()

    assert optional is get_partial_model(Order)
    assert optional.model_json_schema()["title"] == "PartialOrder"
    assert "required" not in optional.model_json_schema()
    assert optional.model_validate({}).customer is None
    assert optional.model_validate({"customer": "Ad"}).items is None
    nested = optional.model_validate({"customer": "Ada", "items": [{"name": "ap"}]})
    assert nested.items is not None
    assert nested.items[0].name == "ap"
    assert nested.items[0].qty is None
    with pytest.raises(ValidationError):  # a value that is there is still checked: qty >= 1
        optional.model_validate({"items": [{"name": "apple", "qty": 0}]})
    with pytest.raises(ValidationError):  # the model validator runs too (the class subclasses Order)
        optional.model_validate({"customer": "Ada", "items": []})


def test_recursive_models_get_partial_classes_without_recursing_forever() -> None:
    class Node(BaseModel):
        value: int
        children: list[Node] = []

    Node.model_rebuild()

    optional = Partial[Node].get_partial_model()
    tree = optional.model_validate({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})

    assert tree.children[0].children[0].value == 3


def test_partial_literal_mixin_is_deprecated_and_changes_nothing() -> None:
    with pytest.warns(DeprecationWarning, match="PartialLiteralMixin"):

        class Status(BaseModel, PartialLiteralMixin):
            status: Literal["active", "inactive"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once, for the user's class: not again for its partial classes
        chunks = list(Partial[Status].model_from_chunks(['{"status": "act', 'ive"}']))
        assert Partial[Status].get_partial_model().model_validate({}).status is None

    assert chunks[0].status == "act"  # a prefix is shown, not validated
    assert chunks[-1].status == "active"
    assert instructor_az.PartialLiteralMixin is PartialLiteralMixin


# --- model_from_chunks ----------------------------------------------------------------------------------


def test_model_from_chunks_yields_one_object_per_chunk_then_the_validated_model() -> None:
    chunks = pieces(TEXT)

    results = list(Partial[Order].model_from_chunks(chunks))

    assert len(results) == len(chunks)
    assert results[0].model_dump() == {"customer": None, "items": [], "note": None, "kind": "retail"}
    assert all(isinstance(r, Order) and isinstance(r, PartialModel) for r in results)
    assert results[-1] == Order.model_validate(ANSWER)
    assert results[-1].completed_fields == frozenset(Order.model_fields)


def test_model_from_chunks_snapshots_share_what_is_complete_and_copy_only_what_is_open() -> None:
    results = list(Partial[Order].model_from_chunks(pieces(TEXT, 3)))
    dumps = [r.model_dump() for r in results]

    # earlier snapshots keep their values once later chunks arrive...
    again = list(Partial[Order].model_from_chunks(pieces(TEXT, 3)))
    assert [r.model_dump() for r in again] == dumps
    names = [r.customer for r in results if r.customer]
    assert names[0] != "Ada"
    assert names[-1] == "Ada"
    # ...and an item that closed is one object in every later snapshot (never copied again)
    with_first = [r for r in results[:-1] if len(r.items) == 2]
    assert with_first
    assert len({id(r.items[0]) for r in with_first}) == 1


def test_model_from_chunks_validates_the_whole_answer_with_pydantic_errors() -> None:
    with pytest.raises(ValidationError, match="customer"):
        list(Partial[Order].model_from_chunks(['{"items": [{"name": "apple", "qty": 3}]}']))
    with pytest.raises(ValidationError, match="an order has items"):
        list(Partial[Order].model_from_chunks(['{"customer": "Ada", ', '"items": []}']))
    # a completed value is checked as soon as it closes: the rest is not read
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        list(
            Partial[Order].model_from_chunks(
                ['{"customer": "Ada", "items": [{"name": "a", "qty": 0}', "garbage"]
            )
        )


def test_model_from_chunks_passes_the_validation_context() -> None:
    class Tagged(BaseModel):
        tag: str

        @field_validator("tag")
        @classmethod
        def prefixed(cls, tag: str, info: Any) -> str:
            return f"{info.context['prefix']}{tag}"

    results = list(Partial[Tagged].model_from_chunks(['{"tag": "x"}'], context={"prefix": "p-"}))

    assert results[-1].tag == "p-x"


def test_model_from_chunks_reads_raw_sdk_completion_chunks(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push(TEXT)
    stream = azure_openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[call-overload]

    results = list(Partial[Order].model_from_chunks(stream))

    assert results[-1] == Order.model_validate(ANSWER)


async def test_model_from_chunks_async_matches_the_sync_reading() -> None:
    async def chunks() -> AsyncIterator[str | None]:
        for piece in [None, *pieces(TEXT, 4)]:
            yield piece

    results = [r async for r in Partial[Order].model_from_chunks_async(chunks())]

    assert [r.model_dump() for r in results] == [
        r.model_dump() for r in Partial[Order].model_from_chunks(pieces(TEXT, 4))
    ]


# --- create(response_model=Partial[M]) still streams in place ---------------------------------------


def test_create_with_partial_streams_one_object_in_place_and_asks_with_the_model_schema(
    azure_emulator: Emulator, azure_openai_client: AzureOpenAI
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_openai(azure_openai_client)

    items = list(
        client.chat.completions.create(model="gpt-4o", response_model=Partial[Order], messages=MESSAGES)
    )

    *partials, last = items
    assert partials
    assert len({id(p) for p in partials}) == 1
    assert last == Order.model_validate(ANSWER)
    tool = azure_emulator.requests[0].json["tools"][0]["function"]
    assert tool["name"] == "Order"
    assert "PartialItem" not in json.dumps(tool)


async def test_async_create_with_partial_streams_partials(
    azure_emulator: Emulator, async_azure_openai_client: AsyncAzureOpenAI
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_openai(async_azure_openai_client)

    stream = client.chat.completions.create(model="gpt-4o", response_model=Partial[Order], messages=MESSAGES)
    items = [item async for item in stream]

    assert isinstance(items[0], Partial[Order])
    assert items[-1] == Order.model_validate(ANSWER)
