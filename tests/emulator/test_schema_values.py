"""Values built by the emulator's schema backend: valid for the schema, deterministic, plausible for the prompt."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
import re
import uuid
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for
from pydantic import BaseModel, Field, conlist, constr

from instructor_az.emulator._schema_values import SchemaValueError, value_for_schema


def generate(schema: Any, text: str = "") -> Any:
    """The value, after checking it validates and that a second call gives the very same JSON."""
    value = value_for_schema(schema, text=text)
    cls = validator_for(schema, default=Draft202012Validator)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(value)
    assert json.dumps(value_for_schema(schema, text=text)) == json.dumps(value)
    return value


OBJ_AB = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}

TABLE: list[tuple[str, dict[str, Any]]] = [
    ("string", {"type": "string"}),
    ("min_length", {"type": "string", "minLength": 40}),
    ("max_length", {"type": "string", "maxLength": 3}),
    ("max_length_zero", {"type": "string", "maxLength": 0}),
    ("exact_length", {"type": "string", "minLength": 7, "maxLength": 7}),
    ("integer", {"type": "integer"}),
    ("int_min", {"type": "integer", "minimum": 10}),
    ("int_max_negative", {"type": "integer", "maximum": -5}),
    ("int_exclusive", {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 5}),
    ("int_multiple", {"type": "integer", "minimum": 11, "multipleOf": 7}),
    ("int_float_bound", {"type": "integer", "minimum": 2.5, "maximum": 3.5}),
    ("number", {"type": "number"}),
    ("number_open_interval", {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001}),
    ("number_multiple", {"type": "number", "minimum": 0.31, "multipleOf": 0.01}),
    ("number_huge_min", {"type": "number", "minimum": 1e9}),
    ("boolean", {"type": "boolean"}),
    ("null", {"type": "null"}),
    ("true_schema", {}),
    ("type_list", {"type": ["integer", "string"]}),
    ("nullable", {"type": ["string", "null"], "minLength": 2}),
    ("enum", {"enum": ["x", 2, None]}),
    ("enum_with_type", {"type": "integer", "enum": ["a", 3, 4]}),
    ("const", {"const": {"k": [1, 2]}}),
    ("object", OBJ_AB),
    (
        "object_required_only_extra",
        {"type": "object", "required": ["zip"], "additionalProperties": {"type": "integer"}},
    ),
    ("dict", {"type": "object", "additionalProperties": {"type": "number", "minimum": 3}}),
    ("min_properties", {"type": "object", "properties": {"a": {"type": "null"}}, "minProperties": 3}),
    ("max_properties", {**OBJ_AB, "maxProperties": 1}),
    ("closed_object", {**OBJ_AB, "required": ["a"], "additionalProperties": False}),
    ("property_names", {"type": "object", "propertyNames": {"pattern": "^[A-Z]{3}$"}, "minProperties": 2}),
    ("array", {"type": "array", "items": {"type": "integer"}}),
    ("array_min", {"type": "array", "items": {"type": "string"}, "minItems": 4}),
    ("array_max_zero", {"type": "array", "items": {"type": "string"}, "maxItems": 0}),
    (
        "unique_ints",
        {"type": "array", "items": {"type": "integer", "maximum": 3}, "minItems": 5, "uniqueItems": True},
    ),
    ("unique_bools", {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True}),
    (
        "unique_enum",
        {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
    ),
    ("unique_objects", {"type": "array", "items": OBJ_AB, "minItems": 3, "uniqueItems": True}),
    (
        "prefix_items",
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
    ),
    (
        "prefix_items_min",
        {"type": "array", "prefixItems": [{"const": 1}], "items": {"type": "null"}, "minItems": 3},
    ),
    (
        "draft7_tuple",
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "array",
            "items": [{"type": "integer"}, {"type": "string"}],
            "additionalItems": False,
        },
    ),
    (
        "nested",
        {
            "type": "object",
            "properties": {"rows": {"type": "array", "items": {"type": "array", "items": OBJ_AB}}},
        },
    ),
    ("any_of", {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 4}]}),
    (
        "any_of_impossible_first",
        {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 1}, {"type": "string"}]},
    ),
    (
        "any_of_with_siblings",
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "anyOf": [{"required": ["zz"], "properties": {"zz": {"const": 1}}}],
        },
    ),
    (
        "one_of_exclusive",
        {"oneOf": [{"type": "integer"}, {"type": "integer", "minimum": 0}, {"type": "string"}]},
    ),
    (
        "all_of",
        {
            "allOf": [
                OBJ_AB,
                {"required": ["c"], "properties": {"c": {"type": "boolean"}}},
                {"properties": {"a": {"minimum": 50}}},
            ]
        },
    ),
    (
        "all_of_bounds",
        {"allOf": [{"type": "string", "minLength": 3}, {"maxLength": 5}, {"type": ["string", "null"]}]},
    ),
    (
        "ref_defs",
        {"$defs": {"P": {"type": "integer", "minimum": 8}}, "type": "array", "items": {"$ref": "#/$defs/P"}},
    ),
    (
        "ref_definitions",
        {"definitions": {"P": {"type": "string", "format": "date"}}, "$ref": "#/definitions/P"},
    ),
    (
        "ref_pointer",
        {
            "type": "object",
            "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"$ref": "#/properties/a"}},
        },
    ),
    ("ref_escaped", {"$defs": {"a/b~c": {"const": "ok"}}, "$ref": "#/$defs/a~1b~0c"}),
    ("ref_with_siblings", {"$defs": {"S": {"type": "string"}}, "$ref": "#/$defs/S", "maxLength": 2}),
    (
        "recursive_optional",
        {
            "$defs": {
                "N": {
                    "type": "object",
                    "properties": {"next": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]}},
                    "required": ["next"],
                }
            },
            "$ref": "#/$defs/N",
        },
    ),
    (
        "recursive_array",
        {
            "$defs": {
                "T": {
                    "type": "object",
                    "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}},
                    "required": ["kids"],
                }
            },
            "$ref": "#/$defs/T",
        },
    ),
    ("recursive_root", {"type": "object", "properties": {"self": {"$ref": "#"}, "n": {"type": "integer"}}}),
    (
        "deep_nesting",
        {
            "type": "array",
            "items": {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "items": {"type": "array", "items": {"type": "integer"}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
    ("inferred_types", {"properties": {"s": {"minLength": 2}, "n": {"maximum": -3}, "a": {"minItems": 2}}}),
    ("not_unsteered_but_ok", {"type": "integer", "not": {"const": 0}}),
    (
        "openai_tool",
        {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "unit"],
            "additionalProperties": False,
        },
    ),
    (
        "format_mix",
        {
            "type": "object",
            "properties": {
                f: {"type": "string", "format": f}
                for f in (
                    "date-time",
                    "date",
                    "time",
                    "email",
                    "uri",
                    "url",
                    "uuid",
                    "ipv4",
                    "ipv6",
                    "hostname",
                    "duration",
                    "regex",
                )
            },
        },
    ),
]


@pytest.mark.parametrize(("name", "schema"), TABLE, ids=[name for name, _ in TABLE])
def test_value_validates_and_is_deterministic(name: str, schema: dict[str, Any]) -> None:
    generate(schema)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "array", "items": {"type": "string"}, "maxItems": 0}, []),
        ({"type": "array", "items": {"type": "integer"}}, [1]),
        ({"type": "integer"}, 1),
        ({"type": "number"}, 1.0),
        ({"type": "boolean"}, True),
        ({}, "example"),
        ({"type": "string", "maxLength": 0}, ""),
        ({"type": ["null", "integer"]}, 1),
        ({"anyOf": [{"type": "null"}, {"const": "x"}]}, "x"),
        ({"enum": ["b", "a"]}, "b"),
        ({"type": "string", "enum": ["b", "a"], "const": "a"}, "a"),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "integer", "maximum": -5}, -5),
        ({"type": "integer", "minimum": 11, "multipleOf": 7}, 14),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, {"key": 1}),
        (
            {"type": "object", "properties": {"a": {"type": "null"}}, "minProperties": 2},
            {"a": None, "key": "example value"},
        ),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True}, [True, False]),
        ({"oneOf": [{"type": "integer"}, {"type": "integer", "minimum": 0}, {"type": "string"}]}, "example"),
        ({"type": "object", "properties": {"gone": False, "kept": {"type": "null"}}}, {"kept": None}),
        (
            {
                "type": "object",
                "properties": {"home_street": {"type": "string"}, "zip": {"type": "string", "maxLength": 6}},
            },
            {"home_street": "example home street", "zip": "exampl"},
        ),
        ({"type": "array", "items": {"type": "string"}, "minItems": 2}, ["example", "example 2"]),
        (
            {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
            {"tags": ["example tag"]},
        ),
    ],
)
def test_chosen_values(schema: dict[str, Any], expected: Any) -> None:
    assert json.dumps(generate(schema)) == json.dumps(expected)


def test_all_properties_in_order_required_or_not() -> None:
    schema = {
        "type": "object",
        "properties": {"z": {"type": "string"}, "a": {"type": "integer"}, "m": {"type": "boolean"}},
        "required": ["a"],
    }
    assert list(generate(schema)) == ["z", "a", "m"]


def test_recursion_stops_with_minimal_values() -> None:
    linked = generate(TABLE[[n for n, _ in TABLE].index("recursive_optional")][1])
    assert linked == {"next": {"next": None}}
    tree = generate(TABLE[[n for n, _ in TABLE].index("recursive_array")][1])
    assert tree == {"kids": [{"kids": []}]}


EXPRESSION = {
    "$defs": {
        "E": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "op": {"const": "+"},
                        "args": {"type": "array", "items": {"$ref": "#/$defs/E"}, "minItems": 2},
                    },
                    "required": ["op", "args"],
                },
                {"type": "integer"},
            ]
        }
    },
    "$ref": "#/$defs/E",
}
BINARY = {
    "$defs": {
        "E": {"anyOf": [{"$ref": "#/$defs/Bin"}, {"type": "integer"}]},
        "Bin": {
            "properties": {"l": {"$ref": "#/$defs/E"}, "r": {"$ref": "#/$defs/E"}},
            "required": ["l", "r"],
        },
    },
    "$ref": "#/$defs/E",
}


def test_recursion_takes_the_non_recursive_any_of_branch() -> None:
    assert generate(EXPRESSION, text="add 2 and 3") == {"op": "+", "args": [2, 3]}
    assert generate(BINARY) == {"l": 1, "r": 1}


def test_formats_parse_with_the_standard_library() -> None:
    value = generate(TABLE[[n for n, _ in TABLE].index("format_mix")][1])
    dt.datetime.fromisoformat(value["date-time"].replace("Z", "+00:00"))
    dt.date.fromisoformat(value["date"])
    dt.time.fromisoformat(value["time"].replace("Z", "+00:00"))
    assert uuid.UUID(value["uuid"]).version == 4
    ipaddress.IPv4Address(value["ipv4"])
    ipaddress.IPv6Address(value["ipv6"])
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", value["email"])
    assert value["uri"].startswith("https://")
    assert value["url"].startswith("https://")
    assert re.fullmatch(r"P\d+D", value["duration"])
    re.compile(value["regex"])


@pytest.mark.parametrize(
    ("pattern", "min_length", "max_length"),
    [
        (r"^\d{3}-\d{4}$", 0, None),
        (r"^[A-Z]{2}\d{3}$", 0, None),
        (r"^[a-z]+$", 12, 14),
        (r"^(cat|dog|bird)s?$", 0, None),
        (r"^[^aeiou\s]{5}$", 0, None),
        (r"^\w+@\w+\.(com|org)$", 0, None),
        (r"(\w)-\1", 0, None),
        (r"^\s*\S+\s*$", 3, None),
        (r"^[\u0400-\u04FF]+$", 0, None),
        (r"^(?:[01]\d|2[0-3]):[0-5]\d$", 0, None),
        (r"^(?!abc).{2,4}$", 0, None),
        (r"^#(?:[0-9a-fA-F]{3}){1,2}$", 0, None),
        (r"abc", 10, None),
        (r"(?i)^[a-f]+$", 0, None),
        (r"^.+?\.(?>json|ya?ml)$", 0, None),
    ],
)
def test_pattern_strings(pattern: str, min_length: int, max_length: int | None) -> None:
    schema: dict[str, Any] = {
        "type": "array",
        "minItems": 3,
        "uniqueItems": True,
        "items": {"type": "string", "pattern": pattern, "minLength": min_length},
    }
    if max_length is not None:
        schema["items"]["maxLength"] = max_length
    for item in generate(schema):
        assert re.search(pattern, item)
        assert min_length <= len(item) <= (max_length or len(item))


# --- pydantic models ------------------------------------------------------------------------------------


class Address(BaseModel):
    street: str
    city: str
    country: str = "France"


class Node(BaseModel):
    label: str
    children: list[Node] = []
    parent: Node | None = None


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Person(BaseModel):
    full_name: str
    age: Annotated[int, Field(ge=0, le=130)]
    code: constr(pattern=r"^[A-Z]{2}-\d{4}$")  # type: ignore[valid-type]
    tags: conlist(str, min_length=2)  # type: ignore[valid-type]
    home: Address
    work: Address | None = None
    mood: Mood
    level: Literal["low", "high"]
    pet: Cat | Dog = Field(discriminator="kind")
    either: int | str
    height: float = Field(gt=0, lt=3, multiple_of=0.01)
    born: dt.date
    seen: dt.datetime
    wakes: dt.time
    nap: dt.timedelta
    ident: uuid.UUID
    extra: dict[str, int] = {}
    tree: Node


@pytest.mark.parametrize("model", [Address, Node, Person])
def test_pydantic_models(model: type[BaseModel]) -> None:
    value = generate(model.model_json_schema(), text="Ada Lovelace, 36, lives in London with Mr Babbage.")
    model.model_validate(value)


def test_pydantic_person_reads_the_prompt() -> None:
    value = generate(Person.model_json_schema(), text="Meet Ada who is 36 and lives in London.")
    assert value["full_name"] == "Ada"
    assert value["age"] == 36
    assert value["home"]["city"] == "London"
    assert value["pet"] == {"kind": "cat", "lives": 1}
    assert value["tree"]["children"] == [{"label": "example label"}]  # recursion: required fields only


# --- text heuristics ------------------------------------------------------------------------------------

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def test_name_and_age_come_from_the_text() -> None:
    assert generate(PERSON, text="John is 30 years old") == {"name": "John", "age": 30}


def test_number_outside_bounds_is_not_used() -> None:
    schema = {**PERSON, "properties": {**PERSON["properties"], "age": {"type": "integer", "maximum": 130}}}
    assert generate(schema, text="John is 300 years old")["age"] == 1
    assert generate(schema, text="Order 4521: John, 41")["age"] == 41


def test_numbers_are_used_once_in_order() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "number"}, "c": {"type": "integer"}},
    }
    assert generate(schema, text="from 3 to 4.5 then 7") == {"a": 3, "b": 4.5, "c": 7}


def test_names_prefer_words_inside_sentences() -> None:
    schema = {
        "type": "object",
        "properties": {
            "first_name": {"type": "string"},
            "city": {"type": "string"},
            "notes": {"type": "string"},
        },
    }
    value = generate(schema, text="Yesterday Maria flew to Lisbon.")
    assert value == {"first_name": "Maria", "city": "Lisbon", "notes": "example notes"}


def test_enum_and_const_win_over_text() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"enum": ["x", "y"]}, "age": {"const": 5}, "mood": {"enum": ["happy", "sad"]}},
    }
    assert generate(schema, text="Bob is 9 and sad") == {"name": "x", "age": 5, "mood": "sad"}


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": {"age": {"type": "integer", "minimum": 5, "maximum": 3}}}, "$.age"),
        (
            {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 1, "maximum": 1}}},
            "$.n",
        ),
        ({"type": "object", "properties": {"s": {"type": "string", "minLength": 5, "maxLength": 2}}}, "$.s"),
        ({"type": "array", "items": {"type": "array", "minItems": 3, "maxItems": 1}}, "$[0]"),
        ({"type": "array", "items": {"enum": [1]}, "minItems": 2, "uniqueItems": True}, "$[1]"),
        ({"type": "object", "properties": {"p": {"type": "string", "pattern": "(a)?(?(1)b|c)"}}}, "$.p"),
        (
            {"type": "object", "properties": {"p": {"type": "string", "pattern": "(unclosed"}}},
            "$: invalid schema at $.properties.p",
        ),
        (
            {"type": "object", "properties": {"p": {"type": "string", "pattern": "^a$", "minLength": 3}}},
            "$.p",
        ),
        ({"type": "object", "properties": {"r": {"$ref": "#/$defs/Missing"}}}, "$.r"),
        ({"type": "object", "properties": {"r": {"$ref": "https://example.com/s.json"}}}, "$.r"),
        ({"type": "object", "properties": {"f": False}, "required": ["f"]}, "$.f"),
        ({"type": "object", "required": ["x"], "additionalProperties": False}, "$"),
        ({"properties": {"c": {"allOf": [{"const": 1}, {"const": 2}]}}}, "$.c"),
        ({"properties": {"t": {"allOf": [{"type": "string"}, {"type": "integer"}]}}}, "$.t"),
        (
            {
                "$defs": {
                    "N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}, "required": ["n"]}
                },
                "$ref": "#/$defs/N",
            },
            "$.n.n",
        ),
        ({"$defs": {"L": {"$ref": "#/$defs/L"}}, "properties": {"x": {"$ref": "#/$defs/L"}}}, "$.x"),
        ({"type": "object", "properties": {"w": {"type": "string", "not": {"type": "string"}}}}, "$.w"),
        ({"type": "strnig"}, "$"),
    ],
)
def test_impossible_schemas_raise_with_the_path(schema: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaValueError) as info:
        value_for_schema(schema)
    assert str(info.value).startswith(fragment)


# --- property test --------------------------------------------------------------------------------------


def _bounded(draw: st.DrawFn, key_lo: str, key_hi: str, top: int) -> dict[str, int]:
    out: dict[str, int] = {}
    lo = draw(st.none() | st.integers(0, top))
    if lo is not None:
        out[key_lo] = lo
    hi = draw(st.none() | st.integers(lo or 0, top))
    if hi is not None:
        out[key_hi] = hi
    return out


@st.composite
def _strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **_bounded(draw, "minLength", "maxLength", 30)}
    extra = draw(
        st.sampled_from([{}, {"format": "date"}, {"pattern": r"^[a-z]{1,3}\d*$"}, {"format": "email"}])
    )
    # keep the combinations satisfiable: a date/email is 10-17 chars long, the pattern needs one
    if schema.get("maxLength", 99) < (20 if "format" in extra else 1) or (
        "format" in extra and schema.get("minLength", 0) > 10
    ):
        extra = {}
    return {**schema, **extra}


@st.composite
def _integers(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": draw(st.sampled_from(["integer", "number"]))}
    lo = draw(st.none() | st.integers(-50, 50))
    if lo is not None:
        schema[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = lo
    hi = draw(st.none() | st.integers((-50 if lo is None else lo) + 2, 60))
    if hi is not None:
        schema[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = hi
    return schema


_LEAVES = st.one_of(
    _strings(),
    _integers(),
    st.just({"type": "boolean"}),
    st.lists(st.text("abc", max_size=3) | st.integers(-3, 3), min_size=1, max_size=4, unique=True).map(
        lambda e: {"enum": e}
    ),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.builds(
        lambda props, n_required: {
            "type": "object",
            "properties": props,
            "required": list(props)[:n_required],
        },
        st.dictionaries(
            st.sampled_from(["name", "city", "age", "street", "items", "x"]), children, max_size=4
        ),
        st.integers(0, 4),
    )
    arrays = st.builds(
        lambda items, bounds: {"type": "array", "items": items, **bounds},
        children,
        st.fixed_dictionaries({}, optional={"minItems": st.integers(0, 3), "maxItems": st.integers(3, 5)}),
    )
    nullable = children.map(lambda s: {"anyOf": [s, {"type": "null"}]})
    return objects | arrays | nullable


SCHEMAS = st.recursive(_LEAVES, _extend, max_leaves=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, text=st.sampled_from(["", "Paris has 3 parks and 12 bridges", "Bob is -7"]))
def test_property_generated_values_validate(schema: dict[str, Any], text: str) -> None:
    generate(schema, text)
