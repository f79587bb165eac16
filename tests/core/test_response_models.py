"""What `response_model=` can be, what schema each sends, and the value the caller gets back."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, Literal, Optional, Union

import pytest
import typing_extensions
from pydantic import BaseModel, Field, ValidationInfo, create_model, field_validator

import instructor_az
from instructor_az import (
    ConfigurationError,
    InstructorRetryException,
    Maybe,
    Mode,
    ResponseParseError,
    SchemaError,
)
from instructor_az.emulator import ChatRequest, Emulator, Reply, ToolCall

MESSAGES = [{"role": "user", "content": "Extract it"}]
STRICT_MODES = [Mode.TOOLS_STRICT, Mode.JSON_SCHEMA]


@pytest.fixture
def wrap(azure_emulator: Emulator) -> Iterator[Callable[..., Any]]:
    raws: list[Any] = []

    def build(mode: Mode | str = Mode.TOOLS) -> instructor_az.Instructor:
        raw = azure_emulator.client()
        raws.append(raw)
        return instructor_az.from_openai(raw, mode=mode)  # type: ignore[return-value]

    yield build
    for raw in raws:
        raw.close()


def answer(emulator: Emulator, mode: Mode, *values: Any) -> None:
    """Queue each value where `mode` reads the answer: a tool call, JSON content, or a fenced block."""
    for value in values:
        text = json.dumps(value)
        if mode.is_tools:
            emulator.scripted.push(value)
        elif mode is Mode.MD_JSON:
            emulator.scripted.push(Reply(content=f"```json\n{text}\n```"))
        else:
            emulator.scripted.push(Reply(content=text))


def sent_schema(emulator: Emulator, index: int = -1) -> dict[str, Any]:
    body = emulator.requests[index].body
    if "tools" in body:
        return body["tools"][0]["function"]["parameters"]
    return body["response_format"]["json_schema"]["schema"]


def sent_name(emulator: Emulator) -> str:
    body = emulator.last_request.body
    if "tools" in body:
        return body["tools"][0]["function"]["name"]
    return body["response_format"]["json_schema"]["name"]


# --- pydantic models -------------------------------------------------------------------------------


class Role(str, enum.Enum):
    ADMIN = "admin"
    USER = "user"


class Address(BaseModel):
    street: str
    city: str
    zip_code: str | None = None


class Account(BaseModel):
    """An account holder."""

    name: str
    role: Role
    tier: Literal["free", "pro"] = "free"
    addresses: list[Address]
    billing: Address | None = None
    score: Union[int, str] = 0  # noqa: UP007
    active: bool = True


ACCOUNT = {
    "name": "Ann",
    "role": "admin",
    "tier": "pro",
    "addresses": [{"street": "1 Main St", "city": "Paris"}],
    "score": "high",
}


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON, Mode.MD_JSON])
def test_nested_model_with_defs_enums_literals_unions_and_defaults(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, ACCOUNT)
    account = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Account, messages=MESSAGES)

    assert account == Account(
        name="Ann",
        role=Role.ADMIN,
        tier="pro",
        addresses=[Address(street="1 Main St", city="Paris")],
        score="high",
    )
    assert account.role is Role.ADMIN
    assert account.billing is None
    assert account.active is True
    if mode is Mode.TOOLS:
        schema = sent_schema(azure_emulator)
        assert set(schema["$defs"]) == {"Address", "Role"}
        assert schema["$defs"]["Role"]["enum"] == ["admin", "user"]
        assert schema["properties"]["tier"]["enum"] == ["free", "pro"]
        assert schema["properties"]["addresses"]["items"] == {"$ref": "#/$defs/Address"}


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_nested_model_in_strict_modes(wrap, azure_emulator, mode):
    strict_answer = {
        **ACCOUNT,
        "billing": None,
        "active": None,
        "addresses": [{"street": "1 Main St", "city": "Paris", "zip_code": None}],
    }
    answer(azure_emulator, mode, strict_answer)
    account = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Account, messages=MESSAGES)
    assert account.active is True  # null for a defaulted field gives the default
    assert account.addresses == [Address(street="1 Main St", city="Paris")]
    defs = sent_schema(azure_emulator)["$defs"]
    assert defs["Address"]["required"] == ["street", "city", "zip_code"]
    assert defs["Address"]["additionalProperties"] is False


def test_enum_value_outside_the_enum_is_reasked(wrap, azure_emulator):
    azure_emulator.scripted.push({**ACCOUNT, "role": "root"}, ACCOUNT)
    account = wrap().chat.completions.create(model="gpt-4o", response_model=Account, messages=MESSAGES)
    assert account.role is Role.ADMIN
    reask = azure_emulator.last_request.body["messages"][-1]["content"]
    assert "role" in reask
    assert "'admin' or 'user'" in reask


class Node(BaseModel):
    """A tree node."""

    value: int
    children: list[Node] = []


TREE = {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]}


def test_recursive_model(wrap, azure_emulator):
    azure_emulator.scripted.push(TREE)
    tree = wrap().chat.completions.create(model="gpt-4o", response_model=Node, messages=MESSAGES)
    assert tree.children[0].children[0].value == 3
    assert tree.children[1] == Node(value=4)
    assert "Node" in sent_schema(azure_emulator)["$defs"]


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_recursive_model_in_strict_modes(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, {"value": 1, "children": [{"value": 2, "children": []}]})
    tree = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Node, messages=MESSAGES)
    assert tree == Node(value=1, children=[Node(value=2)])
    assert sent_schema(azure_emulator)["type"] == "object"


class Person(BaseModel):
    name: str
    age: Annotated[int, Field(ge=0, le=130)]


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA])
def test_annotated_constraint_violation_is_reasked(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, {"name": "Old", "age": 200}, {"name": "Old", "age": 120})
    person = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Person, messages=MESSAGES)
    assert person.age == 120
    assert len(azure_emulator.requests) == 2
    reask = azure_emulator.last_request.body["messages"][-1]["content"]
    assert "age: Input should be less than or equal to 130 (got 200)" in reask
    if mode is Mode.TOOLS:
        assert sent_schema(azure_emulator)["properties"]["age"]["maximum"] == 130


def test_constraint_violation_on_every_attempt_raises_retry_exception(wrap, azure_emulator):
    azure_emulator.scripted.push({"name": "X", "age": -1}, {"name": "X", "age": -2})
    with pytest.raises(InstructorRetryException) as info:
        wrap().chat.completions.create(
            model="gpt-4o", response_model=Person, messages=MESSAGES, max_retries=1
        )
    assert info.value.n_attempts == 2
    assert len(azure_emulator.requests) == 2


# --- simple types ----------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


SIMPLE = [
    (str, "hello", "hello"),
    (int, 42, 42),
    (float, 2.5, 2.5),
    (bool, True, True),
    (Literal["a", "b"], "b", "b"),
    (Color, "blue", Color.BLUE),
    (list[int], [1, 2, 3], [1, 2, 3]),
    (Union[int, str], "seven", "seven"),  # noqa: UP007
    (Union[int, str], 7, 7),  # noqa: UP007
    (Optional[int], None, None),  # noqa: UP045
]


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON])
@pytest.mark.parametrize(("tp", "value", "expected"), SIMPLE, ids=lambda p: str(p)[:20])
def test_simple_types_are_wrapped_as_content_and_unwrapped(wrap, azure_emulator, mode, tp, value, expected):
    answer(azure_emulator, mode, {"content": value})
    result = wrap(mode).chat.completions.create(model="gpt-4o", response_model=tp, messages=MESSAGES)

    assert result == expected
    assert type(result) is type(expected)
    if mode in (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON_SCHEMA):
        schema = sent_schema(azure_emulator)
        assert schema["type"] == "object"
        assert list(schema["properties"]) == ["content"]
        assert schema["required"] == ["content"]
        assert sent_name(azure_emulator) == "Response"


def test_dict_type_in_a_non_strict_mode(wrap, azure_emulator):
    azure_emulator.scripted.push({"content": {"apples": 3, "pears": 5}})
    result = wrap().chat.completions.create(model="gpt-4o", response_model=dict[str, int], messages=MESSAGES)
    assert result == {"apples": 3, "pears": 5}
    assert sent_schema(azure_emulator)["properties"]["content"]["additionalProperties"] == {"type": "integer"}


def test_simple_type_wrong_value_is_reasked(wrap, azure_emulator):
    azure_emulator.scripted.push({"content": "many"}, {"content": 4})
    assert wrap().chat.completions.create(model="gpt-4o", response_model=int, messages=MESSAGES) == 4
    assert "content" in azure_emulator.last_request.body["messages"][-1]["content"]


# --- TypedDict, dataclass --------------------------------------------------------------------------


class Movie(typing_extensions.TypedDict):
    """A film."""

    title: str
    year: int


@dataclasses.dataclass
class Book:
    """A book."""

    title: str
    pages: int = 100


def test_typing_extensions_typeddict_returns_a_dict(wrap, azure_emulator):
    movie_json = {"title": "Alien", "year": 1979}

    def reply(request: ChatRequest) -> ToolCall:
        # Wherever the tool puts it: wrapped today ("Response"), under its own name once fixed.
        wrapped = request.forced_tool == "Response"
        return ToolCall(request.forced_tool or "", {"content": movie_json} if wrapped else movie_json)

    azure_emulator.scripted.push(reply)
    movie = wrap().chat.completions.create(model="gpt-4o", response_model=Movie, messages=MESSAGES)
    assert movie == {"title": "Alien", "year": 1979}
    assert type(movie) is dict


def test_typing_extensions_typeddict_is_sent_under_its_own_name(wrap, azure_emulator):
    azure_emulator.scripted.push({"title": "Alien", "year": 1979})
    wrap().chat.completions.create(model="gpt-4o", response_model=Movie, messages=MESSAGES)
    assert sent_name(azure_emulator) == "Movie"
    assert set(sent_schema(azure_emulator)["properties"]) == {"title", "year"}
    assert azure_emulator.last_request.body["tools"][0]["function"]["description"] == "A film."


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA])
def test_dataclass_is_returned_as_the_dataclass(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, {"title": "Dune", "pages": None} if mode.is_strict else {"title": "Dune"})
    book = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Book, messages=MESSAGES)
    assert book == Book(title="Dune", pages=100)
    assert sent_name(azure_emulator) == "Book"
    if mode is Mode.TOOLS:
        assert azure_emulator.last_request.body["tools"][0]["function"]["description"] == "A book."


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="typing.TypedDict works with pydantic on 3.12+")
def test_typing_typeddict_before_312_is_a_configuration_error_with_pydantics_advice(wrap, azure_emulator):
    class Legacy(typing.TypedDict):
        a: int

    with pytest.raises(ConfigurationError, match=r"typing_extensions\.TypedDict"):
        wrap().chat.completions.create(model="gpt-4o", response_model=Legacy, messages=MESSAGES)
    assert len(azure_emulator.requests) == 0


def test_unsupported_response_model_is_a_configuration_error(wrap, azure_emulator):
    with pytest.raises(ConfigurationError, match="cannot be used"):
        wrap().chat.completions.create(model="gpt-4o", response_model=Callable[[int], int], messages=MESSAGES)
    assert len(azure_emulator.requests) == 0


# --- JSON Schema dicts -----------------------------------------------------------------------------

ORDER = {
    "title": "Order",
    "description": "An order.",
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "price": {"type": "number", "minimum": 0}},
                "required": ["name", "price"],
            },
        }
    },
    "required": ["items"],
}
BAD_ORDER = {"items": [{"name": "tea", "price": 3}, {"name": "cake", "price": -2}]}
GOOD_ORDER = {"items": [{"name": "tea", "price": 3}, {"name": "cake", "price": 2.5}]}


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON])
def test_json_schema_dict_returns_a_dict(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, GOOD_ORDER)
    order = wrap(mode).chat.completions.create(model="gpt-4o", response_model=ORDER, messages=MESSAGES)
    assert order == GOOD_ORDER
    assert type(order) is dict
    if mode is Mode.TOOLS:
        function = azure_emulator.last_request.body["tools"][0]["function"]
        assert function["name"] == "Order"
        assert function["description"] == "An order."
        assert function["parameters"] == ORDER


def test_json_schema_dict_error_names_the_json_path(wrap, azure_emulator):
    azure_emulator.scripted.push(BAD_ORDER)
    with pytest.raises(InstructorRetryException) as info:
        wrap().chat.completions.create(model="gpt-4o", response_model=ORDER, messages=MESSAGES, max_retries=0)
    error = info.value.last_exception
    assert isinstance(error, ResponseParseError)
    assert "$.items[1].price" in str(error)
    assert error.errors[0]["loc"] == ("items", 1, "price")


def test_json_schema_dict_invalid_answer_is_reasked(wrap, azure_emulator):
    azure_emulator.scripted.push(BAD_ORDER, GOOD_ORDER)
    order = wrap().chat.completions.create(model="gpt-4o", response_model=ORDER, messages=MESSAGES)
    assert order == GOOD_ORDER
    reask = azure_emulator.last_request.body["messages"][-1]["content"]
    assert "less than the minimum of 0" in reask


def test_json_schema_dict_reask_message_names_the_json_path(wrap, azure_emulator):
    azure_emulator.scripted.push(BAD_ORDER, GOOD_ORDER)
    wrap().chat.completions.create(model="gpt-4o", response_model=ORDER, messages=MESSAGES)
    assert "$.items[1].price" in azure_emulator.last_request.body["messages"][-1]["content"]


def test_json_schema_dict_in_json_schema_mode_is_made_strict(wrap, azure_emulator):
    answer(azure_emulator, Mode.JSON_SCHEMA, GOOD_ORDER)
    order = wrap(Mode.JSON_SCHEMA).chat.completions.create(
        model="gpt-4o", response_model=ORDER, messages=MESSAGES
    )
    assert order == GOOD_ORDER
    item = sent_schema(azure_emulator)["properties"]["items"]["items"]
    assert item["additionalProperties"] is False
    assert "minimum" not in item["properties"]["price"]


def test_strict_inline_object_optional_property_answered_null(wrap, azure_emulator):
    schema = {
        "title": "Doc",
        "type": "object",
        "properties": {
            "meta": {
                "type": "object",
                "properties": {"author": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["year"],
            }
        },
        "required": ["meta"],
    }
    answer(azure_emulator, Mode.JSON_SCHEMA, {"meta": {"author": None, "year": 2020}})
    doc = wrap(Mode.JSON_SCHEMA).chat.completions.create(
        model="gpt-4o", response_model=schema, messages=MESSAGES, max_retries=0
    )
    assert doc == {"meta": {"year": 2020}}


def test_invalid_json_schema_dict_is_a_schema_error(wrap, azure_emulator):
    with pytest.raises(SchemaError) as info:
        wrap().chat.completions.create(
            model="gpt-4o",
            response_model={"type": "object", "properties": {"a": {"type": "nonsense"}}},
            messages=MESSAGES,
        )
    assert "properties.a" in info.value.path
    assert len(azure_emulator.requests) == 0


# --- Maybe, Iterable ---------------------------------------------------------------------------------


class User(BaseModel):
    name: str
    age: int


def test_maybe_with_a_result(wrap, azure_emulator):
    azure_emulator.scripted.push({"result": {"name": "Jo", "age": 9}, "error": False, "message": None})
    maybe = wrap().chat.completions.create(model="gpt-4o", response_model=Maybe[User], messages=MESSAGES)
    assert maybe.result == User(name="Jo", age=9)
    assert bool(maybe) is True
    assert sent_name(azure_emulator) == "MaybeUser"
    props = sent_schema(azure_emulator)["properties"]
    assert set(props) == {"result", "error", "message"}


def test_maybe_call_spelling_with_an_error(wrap, azure_emulator):
    assert Maybe(User) is Maybe[User]
    azure_emulator.scripted.push({"error": True, "message": "no user in the text"})
    maybe = wrap().chat.completions.create(model="gpt-4o", response_model=Maybe(User), messages=MESSAGES)
    assert maybe.result is None
    assert maybe.error is True
    assert maybe.message == "no user in the text"
    assert not maybe


def test_maybe_in_json_schema_mode(wrap, azure_emulator):
    answer(azure_emulator, Mode.JSON_SCHEMA, {"result": None, "error": True, "message": "none"})
    maybe = wrap(Mode.JSON_SCHEMA).chat.completions.create(
        model="gpt-4o", response_model=Maybe[User], messages=MESSAGES
    )
    assert not maybe
    assert maybe.message == "none"


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON_SCHEMA, Mode.MD_JSON])
def test_iterable_without_streaming_returns_a_list(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, {"tasks": [{"name": "A", "age": 1}, {"name": "B", "age": 2}]})
    users = wrap(mode).chat.completions.create(
        model="gpt-4o", response_model=Iterable[User], messages=MESSAGES
    )
    assert users == [User(name="A", age=1), User(name="B", age=2)]
    if mode is not Mode.MD_JSON:
        assert sent_name(azure_emulator) == "IterableUser"
        assert list(sent_schema(azure_emulator)["properties"]) == ["tasks"]


# --- validation context ------------------------------------------------------------------------------


class Quote(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def must_be_in_source(cls, value: str, info: ValidationInfo) -> str:
        source = (info.context or {}).get("source", "")
        if value not in source:
            raise ValueError(f"{value!r} is not in the source text")
        return value


@pytest.mark.parametrize("keyword", ["context", "validation_context"])
def test_context_reaches_validators(wrap, azure_emulator, keyword):
    azure_emulator.scripted.push({"text": "invented"}, {"text": "quick fox"})
    quote = wrap().chat.completions.create(
        model="gpt-4o",
        response_model=Quote,
        messages=MESSAGES,
        **{keyword: {"source": "the quick fox jumps"}},
    )
    assert quote.text == "quick fox"
    assert (
        "'invented' is not in the source text" in azure_emulator.last_request.body["messages"][-1]["content"]
    )
    assert keyword not in azure_emulator.last_request.body


def test_context_and_validation_context_together_is_a_configuration_error(wrap, azure_emulator):
    with pytest.raises(ConfigurationError, match="not both"):
        wrap().chat.completions.create(
            model="gpt-4o", response_model=Quote, messages=MESSAGES, context={}, validation_context={}
        )
    assert len(azure_emulator.requests) == 0


# --- strict modes: defaults, refusals, limits, constraints --------------------------------------------


class Settings(BaseModel):
    retries: int = 3
    label: str = "default"
    ratio: float


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_strict_mode_null_for_a_defaulted_field_gives_the_default(wrap, azure_emulator, mode):
    answer(azure_emulator, mode, {"retries": None, "label": None, "ratio": 0.5})
    settings = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Settings, messages=MESSAGES)
    assert settings == Settings(retries=3, label="default", ratio=0.5)
    props = sent_schema(azure_emulator)["properties"]
    assert props["retries"]["type"] == ["integer", "null"]
    assert "default: 3" in props["retries"]["description"]


def test_strict_mode_null_for_a_required_field_is_still_an_error(wrap, azure_emulator):
    answer(azure_emulator, Mode.JSON_SCHEMA, {"retries": 1, "label": "x", "ratio": None})
    with pytest.raises(InstructorRetryException):
        wrap(Mode.JSON_SCHEMA).chat.completions.create(
            model="gpt-4o", response_model=Settings, messages=MESSAGES, max_retries=0
        )


class Inventory(BaseModel):
    owner: str
    counts: dict[str, int]


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_free_form_dict_in_strict_mode_is_a_schema_error_naming_the_path(wrap, azure_emulator, mode):
    with pytest.raises(SchemaError) as info:
        wrap(mode).chat.completions.create(model="gpt-4o", response_model=Inventory, messages=MESSAGES)
    assert info.value.path == "$.counts"
    assert "$.counts" in str(info.value)
    assert len(azure_emulator.requests) == 0


def test_free_form_dict_type_in_strict_mode_is_a_schema_error(wrap, azure_emulator):
    with pytest.raises(SchemaError) as info:
        wrap(Mode.TOOLS_STRICT).chat.completions.create(
            model="gpt-4o", response_model=dict[str, int], messages=MESSAGES
        )
    assert info.value.path == "$.content"
    assert len(azure_emulator.requests) == 0


Wide = create_model("Wide", **{f"field_{i}": (int, ...) for i in range(101)})  # type: ignore[call-overload]


class Level7(BaseModel):
    leaf: int


class Level6(BaseModel):
    down: Level7


class Level5(BaseModel):
    down: Level6


class Level4(BaseModel):
    down: Level5


class Level3(BaseModel):
    down: Level4


class Level2(BaseModel):
    down: Level3


class Level1(BaseModel):
    down: Level2


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_over_101_properties_is_a_schema_error(wrap, azure_emulator, mode):
    with pytest.raises(SchemaError, match="100 object properties") as info:
        wrap(mode).chat.completions.create(model="gpt-4o", response_model=Wide, messages=MESSAGES)
    assert info.value.path.startswith("$")
    assert len(azure_emulator.requests) == 0


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_seven_levels_of_nesting_is_a_schema_error_naming_the_path(wrap, azure_emulator, mode):
    with pytest.raises(SchemaError, match="5 levels") as info:
        wrap(mode).chat.completions.create(model="gpt-4o", response_model=Level1, messages=MESSAGES)
    assert info.value.path == "$.down.down.down.down.down.down"
    assert len(azure_emulator.requests) == 0


def test_six_levels_of_objects_fit_azures_limit(wrap, azure_emulator):
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(5):
        value = {"down": value}
    answer(azure_emulator, Mode.JSON_SCHEMA, value)
    result = wrap(Mode.JSON_SCHEMA).chat.completions.create(
        model="gpt-4o", response_model=Level2, messages=MESSAGES
    )
    assert result.down.down.down.down.down.leaf == 1


def test_limits_do_not_apply_in_non_strict_modes(wrap, azure_emulator):
    azure_emulator.scripted.push({f"field_{i}": i for i in range(101)})
    wide = wrap(Mode.TOOLS).chat.completions.create(model="gpt-4o", response_model=Wide, messages=MESSAGES)
    assert wide.field_100 == 100  # type: ignore[attr-defined]


class Product(BaseModel):
    name: str = Field(max_length=10, description="Short product name")
    price: float = Field(ge=0)
    quantity: int = Field(ge=1, le=99)


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_constraints_removed_from_strict_schema_are_described_and_enforced(wrap, azure_emulator, mode):
    answer(
        azure_emulator,
        mode,
        {"name": "A very long product name", "price": -1, "quantity": 5},
        {"name": "Lamp", "price": 9.5, "quantity": 5},
    )
    product = wrap(mode).chat.completions.create(model="gpt-4o", response_model=Product, messages=MESSAGES)

    assert product == Product(name="Lamp", price=9.5, quantity=5)
    props = sent_schema(azure_emulator, 0)["properties"]
    assert "maxLength" not in props["name"]
    assert props["name"]["description"] == "Short product name (maximum length: 10)"
    assert "minimum" not in props["price"]
    assert "minimum: 0" in props["price"]["description"]
    assert "minimum: 1" in props["quantity"]["description"]
    assert "maximum: 99" in props["quantity"]["description"]
    reask = json.dumps(azure_emulator.last_request.body["messages"][-1])
    assert "name" in reask
    assert "at most 10 characters" in reask
    assert "price" in reask
