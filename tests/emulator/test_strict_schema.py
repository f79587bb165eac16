"""Azure strict-schema acceptance rules and the 400 messages the emulator produces for them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from instructor_az.emulator._strict_schema import (
    STRICT_LIMITS,
    StrictLimits,
    StrictSchemaProblem,
    check_strict_schema,
)

JSON = dict[str, Any]


def obj(props: JSON | None = None, **extra: Any) -> JSON:
    props = props if props is not None else {"x": {"type": "string"}}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
        **extra,
    }


def rf(schema: Any, name: str = "User") -> StrictSchemaProblem | None:
    return check_strict_schema(schema, name=name, kind="response_format", param="response_format")


def reject(schema: Any) -> str:
    problem = rf(schema)
    assert problem is not None, "schema was accepted"
    assert problem.param == "response_format"
    assert problem.code is None
    assert problem.message.startswith("Invalid schema for response_format 'User': ")
    return problem.message


# A schema as pydantic + openai's to_strict_json_schema produce it.
PYDANTIC_STYLE: JSON = {
    "$defs": {
        "Address": {
            "title": "Address",
            "type": "object",
            "properties": {
                "street": {"title": "Street", "type": "string"},
                "zip": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Zip"},
            },
            "required": ["street", "zip"],
            "additionalProperties": False,
        },
        "Role": {"title": "Role", "type": "string", "enum": ["admin", "user"]},
        "Node": {
            "title": "Node",
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            },
            "required": ["value", "children", "parent"],
            "additionalProperties": False,
        },
    },
    "title": "User",
    "description": "A user.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Full name"},
        "age": {"type": ["integer", "null"]},
        "score": {"type": "number"},
        "active": {"type": "boolean"},
        "kind": {"const": "user", "type": "string"},
        "role": {"$ref": "#/$defs/Role"},
        "address": {"$ref": "#/$defs/Address", "description": "Home address"},
        "previous": {"type": "array", "items": {"$ref": "#/$defs/Address"}},
        "tree": {"$ref": "#/$defs/Node"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["name", "age", "score", "active", "kind", "role", "address", "previous", "tree", "nickname"],
    "additionalProperties": False,
}


def pydantic_style() -> JSON:
    schema = copy.deepcopy(PYDANTIC_STYLE)
    del schema["properties"]["nickname"]["default"]  # strict schemas carry no defaults
    return schema


def test_accepts_pydantic_style_schema() -> None:
    assert rf(pydantic_style()) is None


def test_accepts_recursive_root_reference() -> None:
    schema = obj({"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}})
    assert rf(schema) is None


def test_accepts_empty_object_and_tool() -> None:
    assert rf(obj({})) is None
    assert check_strict_schema(obj(), name="f", kind="function", param="tools[0].function.parameters") is None


def test_missing_additional_properties_at_root() -> None:
    schema = obj()
    del schema["additionalProperties"]
    assert reject(schema) == (
        "Invalid schema for response_format 'User': In context=(), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_additional_properties_true_nested() -> None:
    inner = obj({"zip": {"type": "string"}}, additionalProperties=True)
    schema = obj({"address": obj({"inner": inner})})
    assert reject(schema).endswith(
        "In context=('properties', 'address', 'properties', 'inner'), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_additional_properties_schema_is_rejected() -> None:
    schema = obj({"tags": {"type": "object", "additionalProperties": {"type": "string"}}})
    assert "In context=('properties', 'tags'), 'additionalProperties' is required" in reject(schema)


def test_property_missing_from_required_names_the_key() -> None:
    schema = obj({"name": {"type": "string"}, "age": {"type": "integer"}})
    schema["required"] = ["name"]
    assert reject(schema).endswith(
        "In context=(), 'required' is required to be supplied and to be an array including every key "
        "in properties. Missing 'age'."
    )


def test_required_absent() -> None:
    schema = obj()
    del schema["required"]
    assert reject(schema).endswith("Missing 'x'.")


def test_extra_required_key() -> None:
    schema = obj()
    schema["required"] = ["x", "y"]
    assert "Extra required key 'y' supplied." in reject(schema)


def test_error_inside_definition_uses_document_path() -> None:
    schema = pydantic_style()
    del schema["$defs"]["Address"]["additionalProperties"]
    assert "In context=('$defs', 'Address'), 'additionalProperties'" in reject(schema)


def test_anyof_branch_index_in_context() -> None:
    schema = obj({"v": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {}}]}})
    assert "In context=('properties', 'v', 'anyOf', 1), 'additionalProperties'" in reject(schema)


@pytest.mark.parametrize(
    ("schema", "got"),
    [
        ({"type": "array", "items": {"type": "string"}}, "array"),
        ({"type": "string"}, "string"),
        ({"anyOf": [obj(), obj({"y": {"type": "integer"}})]}, "None"),
        ({"$ref": "#/$defs/A", "$defs": {"A": obj()}}, "None"),
        ([], "None"),
    ],
)
def test_root_must_be_object(schema: Any, got: str) -> None:
    assert reject(schema) == (
        "Invalid schema for response_format 'User': schema must be a JSON Schema of "
        f"'type: \"object\"', got 'type: \"{got}\"'."
    )


def test_root_object_with_anyof() -> None:
    assert reject(obj(anyOf=[obj()])).endswith("In context=(), 'anyOf' is not permitted.")


@pytest.mark.parametrize(
    ("keyword", "value", "base"),
    [
        ("minLength", 1, "string"),
        ("maxLength", 10, "string"),
        ("pattern", "^a$", "string"),
        ("format", "date-time", "string"),
        ("minimum", 0, "integer"),
        ("maximum", 9, "number"),
        ("multipleOf", 2, "integer"),
        ("patternProperties", {"^a": {"type": "string"}}, "object"),
        ("unevaluatedProperties", False, "object"),
        ("propertyNames", {"type": "string"}, "object"),
        ("minProperties", 1, "object"),
        ("maxProperties", 3, "object"),
        ("unevaluatedItems", False, "array"),
        ("contains", {"type": "string"}, "array"),
        ("minContains", 1, "array"),
        ("maxContains", 2, "array"),
        ("minItems", 1, "array"),
        ("maxItems", 5, "array"),
        ("uniqueItems", True, "array"),
        ("allOf", [{"type": "string"}], "string"),
        ("not", {"type": "null"}, "string"),
        ("if", {"type": "string"}, "string"),
        ("then", {"type": "string"}, "string"),
        ("else", {"type": "string"}, "string"),
        ("dependentRequired", {"a": ["b"]}, "object"),
        ("dependentSchemas", {"a": {"type": "object"}}, "object"),
        ("oneOf", [{"type": "string"}], "string"),
        ("default", "x", "string"),
    ],
)
def test_unsupported_keyword(keyword: str, value: Any, base: str) -> None:
    sub: JSON
    if base == "object":
        sub = obj({"a": {"type": "string"}})
    elif base == "array":
        sub = {"type": "array", "items": {"type": "string"}}
    else:
        sub = {"type": base}
    sub[keyword] = value
    schema = obj({"field": sub})
    assert reject(schema).endswith(f"In context=('properties', 'field'), '{keyword}' is not permitted.")


def test_property_named_like_a_keyword_is_fine() -> None:
    assert rf(obj({"pattern": {"type": "string"}, "format": {"type": "string"}})) is None


def test_unsupported_keyword_at_root() -> None:
    assert reject(obj(minProperties=1)).endswith("In context=(), 'minProperties' is not permitted.")


def test_typeless_subschema_and_unknown_type() -> None:
    assert "In context=('properties', 'x'), schema must have a 'type' key." in reject(obj({"x": {}}))
    assert "'date' is not a valid type." in reject(obj({"x": {"type": "date"}}))


def test_array_without_items() -> None:
    assert "In context=('properties', 'x'), array schema missing items." in reject(
        obj({"x": {"type": "array"}})
    )


def test_object_without_properties() -> None:
    schema = obj({"x": {"type": "object", "additionalProperties": False}})
    assert "In context=('properties', 'x'), object schema missing properties." in reject(schema)


def test_unresolvable_ref() -> None:
    assert "can't be resolved" in reject(obj({"x": {"$ref": "#/$defs/Missing"}}))


def test_property_limit() -> None:
    at_limit = obj({f"p{i}": {"type": "string"} for i in range(STRICT_LIMITS.max_properties)})
    assert rf(at_limit) is None
    # Properties are counted over every object in the schema, not per object.
    over = obj({"a": at_limit})
    assert reject(over).endswith(
        f"Expected at most {STRICT_LIMITS.max_properties} properties in total within a single schema "
        f"when using structured outputs, but received {STRICT_LIMITS.max_properties + 1}. Consider "
        "reducing the number of properties, or use 'strict: false' to opt out of structured outputs."
    )


def nested(levels: int) -> JSON:
    schema = obj({"leaf": {"type": "string"}})
    for _ in range(levels):
        schema = obj({"child": schema})
    return schema


def test_nesting_depth() -> None:
    assert rf(nested(STRICT_LIMITS.max_nesting_depth)) is None
    message = reject(nested(STRICT_LIMITS.max_nesting_depth + 1))
    assert "In context=('properties', 'child'" in message
    assert f"expected at most {STRICT_LIMITS.max_nesting_depth} levels of nesting" in message
    assert f"but received {STRICT_LIMITS.max_nesting_depth + 1}." in message


def test_nesting_depth_counts_through_refs_and_arrays() -> None:
    deep = nested(STRICT_LIMITS.max_nesting_depth)  # fine on its own, one level too deep below a list
    schema = obj({"items": {"type": "array", "items": {"$ref": "#/$defs/Deep"}}}, **{"$defs": {"Deep": deep}})
    message = reject(schema)
    assert "In context=('$defs', 'Deep', 'properties', 'child'" in message
    assert "levels of nesting" in message


def test_enum_value_limit() -> None:
    limit = STRICT_LIMITS.max_enum_values
    ok = obj({"a": {"type": "integer", "enum": list(range(limit))}})
    assert rf(ok) is None
    over = obj({"a": {"type": "integer", "enum": list(range(limit))}, "b": {"type": "integer", "enum": [1]}})
    assert reject(over).endswith(
        f"Expected at most {limit} enum values in total within a single schema when using structured "
        f"outputs, but received {limit + 1}. Consider reducing the number of enums, or use "
        "'strict: false' to opt out of structured outputs."
    )


def test_large_enum_string_length() -> None:
    values = [f"{i:04d}" + "x" * 26 for i in range(260)]  # 260 values, 7800 characters
    message = reject(obj({"code": {"type": "string", "enum": values}}))
    assert message.startswith(
        "Invalid schema for response_format 'User': In context=('properties', 'code'), "
    )
    assert "but received 7800." in message


def test_total_string_length() -> None:
    # Two enums of 200 forty-character values: 16000 characters, yet each enum stays under 250
    # values and the total of 400 values stays under the enum-count limit, so only the total trips.
    props = {
        f"e{i}": {"type": "string", "enum": [f"{i}{j:03d}".ljust(40, "x") for j in range(200)]}
        for i in range(2)
    }
    message = reject(obj(props))
    assert message.startswith(
        "Invalid schema for response_format 'User': Expected at most 15000 characters for the total "
        "string length"
    )
    assert "but received 16004." in message  # + the two property names


def test_total_string_length_counts_names_and_consts() -> None:
    long_name = "n" * 7_000
    schema = obj({long_name: {"type": "string", "const": "c" * 900}}, **{"$defs": {"D" * 7_200: obj()}})
    assert "but received 15101." in reject(schema)  # 7000 + 900 + 7200 + 1 ('x' in the definition)


def test_custom_limits() -> None:
    tight = StrictLimits(max_properties=1)
    problem = check_strict_schema(
        obj({"a": {"type": "string"}, "b": {"type": "string"}}),
        name="T",
        kind="response_format",
        param="response_format",
        limits=tight,
    )
    assert problem is not None
    assert "Expected at most 1 properties" in problem.message


def test_function_wording_and_param() -> None:
    schema = obj({"city": {"type": "string"}, "unit": {"type": "string"}})
    schema["required"] = ["city"]
    problem = check_strict_schema(
        schema, name="get_weather", kind="function", param="tools[2].function.parameters"
    )
    assert problem == StrictSchemaProblem(
        message=(
            "Invalid schema for function 'get_weather': In context=(), 'required' is required to be "
            "supplied and to be an array including every key in properties. Missing 'unit'."
        ),
        param="tools[2].function.parameters",
        code="invalid_function_parameters",
    )


def test_function_root_type() -> None:
    problem = check_strict_schema({}, name="noop", kind="function", param="tools[0].function.parameters")
    assert problem is not None
    assert problem.message == (
        "Invalid schema for function 'noop': schema must be a JSON Schema of 'type: \"object\"', "
        "got 'type: \"None\"'."
    )


def test_first_problem_in_document_order() -> None:
    schema = obj({"a": {"type": "string", "pattern": "x"}, "b": {"type": "object", "properties": {}}})
    assert "'pattern' is not permitted" in reject(schema)
