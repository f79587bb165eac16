"""JSON schemas for response models: pydantic's schema, docstring descriptions, Azure's strict form.

`json_schema(tp)` is pydantic's schema with descriptions taken from docstrings (the class docstring
describes the object; Google / NumPy / reST parameter sections describe fields that `Field` leaves
undescribed). `strict_schema(schema)` rewrites it under Azure's structured-output rules and checks
Azure's documented limits before anything is sent. Both run once per response model (the plan cache).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import docstring_parser
import typing_extensions
from pydantic import BaseModel, TypeAdapter

from ._errors import SchemaError

JSON = dict[str, Any]

# Azure's structured outputs ("Supported schemas and limitations"): keywords it rejects under strict,
# and its limits. They are removed from the sent schema (kept in the description so the model still
# reads them) and still enforced, because validation runs on the original response model.
_UNSUPPORTED = {
    "minLength": "minimum length",
    "maxLength": "maximum length",
    "pattern": "pattern",
    "format": "format",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
    "multipleOf": "multiple of",
    "patternProperties": None,
    "unevaluatedProperties": None,
    "propertyNames": None,
    "minProperties": "at least N properties",
    "maxProperties": "at most N properties",
    "unevaluatedItems": None,
    "contains": None,
    "minContains": None,
    "maxContains": None,
    "minItems": "at least N items",
    "maxItems": "at most N items",
    "uniqueItems": "unique items",
    "default": "default",
    "not": None,
    "if": None,
    "then": None,
    "else": None,
    "dependentRequired": None,
    "dependentSchemas": None,
}
MAX_PROPERTIES = 100
MAX_DEPTH = 5
MAX_ENUM_VALUES = 500
MAX_STRING_LENGTH = 15_000
_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def tool_name(name: str) -> str:
    """A function / schema name Azure accepts (`^[a-zA-Z0-9_-]{1,64}$`)."""
    cleaned = _NAME.sub("_", name)[:64]
    return cleaned or "Response"


# --- docstrings -------------------------------------------------------------------------------------


def _doc_parts(obj: Any) -> tuple[str | None, dict[str, str]]:
    doc = inspect.getdoc(obj) if obj is not None else None
    if not doc or (isinstance(obj, type) and obj.__doc__ is None):
        return None, {}
    if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__doc__ == BaseModel.__doc__:
        return None, {}
    parsed = docstring_parser.parse(doc)
    text = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    return text or None, params


def _classes(tp: Any, seen: dict[str, Any]) -> None:
    """Collect the classes reachable from a type, by name (to match pydantic's `$defs` keys)."""
    origin = typing.get_origin(tp)
    if origin is not None:
        for arg in typing.get_args(tp):
            _classes(arg, seen)
        return
    if not isinstance(tp, type) or tp.__name__ in seen:
        return
    if issubclass(tp, BaseModel):
        seen[tp.__name__] = tp
        for info in tp.model_fields.values():
            _classes(info.annotation, seen)
    elif dataclasses.is_dataclass(tp):
        seen[tp.__name__] = tp
        for f in dataclasses.fields(tp):
            _classes(f.type, seen)
    elif typing_extensions.is_typeddict(tp):
        seen[tp.__name__] = tp
        for hint in typing.get_type_hints(tp).values():
            _classes(hint, seen)


def _describe(schema: JSON, cls: Any) -> None:
    text, params = _doc_parts(cls)
    if text:
        schema["description"] = text
    elif "description" in schema and params:
        # pydantic copied the whole docstring (parameter section included): keep it only when it
        # is all there is.
        schema.pop("description", None)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if name in params and isinstance(prop, dict) and "description" not in prop:
                prop["description"] = params[name]


def json_schema(tp: Any) -> JSON:
    """pydantic's JSON schema for `tp`, with docstring descriptions."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        schema = tp.model_json_schema()
    else:
        schema = TypeAdapter(tp).json_schema()
    classes: dict[str, Any] = {}
    _classes(tp, classes)
    if isinstance(tp, type) and tp.__name__ in classes:
        _describe(schema, tp)
    for name, definition in (schema.get("$defs") or {}).items():
        if name in classes and isinstance(definition, dict):
            _describe(definition, classes[name])
    _inline_root_ref(schema)
    return schema


def _inline_root_ref(schema: JSON) -> None:
    """A recursive model's schema is a bare `$ref` into `$defs`; function parameters and Azure's
    strict form need an object at the root, so copy the definition there (the `$defs` entry stays
    for the recursive references)."""
    ref = schema.get("$ref")
    definitions = schema.get("$defs") or {}
    if (
        isinstance(ref, str)
        and ref.startswith("#/$defs/")
        and set(schema) <= {"$ref", "$defs", "description", "title"}
    ):
        definition = definitions.get(ref.split("/")[-1])
        if isinstance(definition, dict):
            del schema["$ref"]
            for key, value in copy.deepcopy(definition).items():
                schema.setdefault(key, value)


# --- Azure strict form ----------------------------------------------------------------------------


@dataclass
class StrictSchema:
    """A schema in Azure's strict form, and where it had to add `null` to optional properties.

    `nullable_added` maps an object's path in the sent schema (`"$"` for the root, `"$.meta"` for an
    inline object, `"$.tags[*]"` for list items, `"$defs.Name"` for a definition) to the names of
    properties made nullable only to satisfy "every property is required"; their `null`s are removed
    from answers before validation so pydantic applies the field's default.
    """

    schema: JSON
    nullable_added: dict[str, frozenset[str]] = field(default_factory=dict)


def _note(schema: JSON, removed: dict[str, Any]) -> None:
    notes = []
    for key, value in removed.items():
        label = _UNSUPPORTED.get(key)
        if label is None:
            continue
        if key == "default":
            notes.append(f"default: {json.dumps(value)}")
        elif key == "uniqueItems":
            if value:
                notes.append("items must be unique")
        elif label.startswith("at "):
            notes.append(label.replace("N", str(value)))
        else:
            notes.append(f"{label}: {value}")
    if notes:
        extra = "; ".join(notes)
        description = schema.get("description")
        schema["description"] = f"{description} ({extra})" if description else f"({extra})"


def _nullable(schema: JSON) -> JSON:
    if "$ref" in schema:
        out = {"anyOf": [{"$ref": schema["$ref"]}, {"type": "null"}]}
        for key in ("description", "title"):
            if key in schema:
                out[key] = schema[key]
        return out
    if "anyOf" in schema:
        if not any(branch.get("type") == "null" for branch in schema["anyOf"] if isinstance(branch, dict)):
            schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        if kind != "null":
            schema["type"] = [kind, "null"]
            if "enum" in schema and None not in schema["enum"]:
                schema["enum"] = [*schema["enum"], None]
        return schema
    if isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


class _Strictifier:
    def __init__(self) -> None:
        self.nullable_added: dict[str, frozenset[str]] = {}

    def node(self, schema: Any, path: str) -> Any:
        if not isinstance(schema, dict):
            return schema
        out: JSON = {}
        removed: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _UNSUPPORTED:
                removed[key] = value
            elif key == "$defs":
                continue
            elif key == "oneOf":
                out["anyOf"] = [self.node(v, f"{path}.oneOf[{i}]") for i, v in enumerate(value)]
            elif key == "allOf":
                if len(value) == 1 and isinstance(value[0], dict):
                    # pydantic wraps a described $ref as allOf: [ {$ref} ]; unwrap it.
                    out.update(self.node(value[0], path))
                else:
                    raise SchemaError(
                        "allOf with several schemas cannot be sent in a strict mode (Azure rejects allOf); "
                        "merge the models or use Mode.TOOLS / Mode.JSON",
                        path=path,
                    )
            elif key == "anyOf":
                out["anyOf"] = [self.node(v, f"{path}.anyOf[{i}]") for i, v in enumerate(value)]
            elif key == "items":
                out["items"] = self.node(value, f"{path}[*]")
            elif key == "prefixItems":
                raise SchemaError(
                    "tuples (prefixItems) cannot be sent in a strict mode; use a list or a model", path=path
                )
            elif key == "properties":
                out["properties"] = {name: self.node(prop, f"{path}.{name}") for name, prop in value.items()}
            elif key == "additionalProperties":
                if value not in (False, None) and value != {}:
                    raise SchemaError(
                        "a dict with free-form keys cannot be sent in a strict mode (Azure needs "
                        "additionalProperties: false); use a list of key/value models, or Mode.TOOLS / Mode.JSON",
                        path=path,
                    )
            else:
                out[key] = value
        _note(out, removed)
        if out.get("type") == "object" or "properties" in out:
            properties = out.setdefault("properties", {})
            required = set(schema.get("required", ()))
            added = []
            for name in list(properties):
                if name not in required:
                    properties[name] = _nullable(properties[name])
                    added.append(name)
            out["required"] = list(properties)
            out["additionalProperties"] = False
            if added:
                self.nullable_added[path] = frozenset(added)
        return out


def strict_schema(schema: Mapping[str, Any]) -> StrictSchema:
    """`schema` in Azure's strict form; raises `SchemaError` naming the path when it cannot be."""
    if schema.get("type") != "object":
        raise SchemaError("a strict schema's root must be an object", path="$")
    worker = _Strictifier()
    out = worker.node(copy.deepcopy(dict(schema)), "$")
    definitions = schema.get("$defs") or {}
    if definitions:
        out["$defs"] = {
            name: worker.node(copy.deepcopy(d), f"$defs.{name}") for name, d in definitions.items()
        }
    _check_limits(out)
    return StrictSchema(out, worker.nullable_added)


def _walk(schema: Any, path: str) -> Iterator[tuple[str, JSON]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    for name, prop in (schema.get("properties") or {}).items():
        yield from _walk(prop, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[*]")
    for i, branch in enumerate(schema.get("anyOf") or []):
        yield from _walk(branch, f"{path}.anyOf[{i}]")


def _depth(
    schema: Any, definitions: Mapping[str, Any], level: int, stack: tuple[str, ...], path: str
) -> None:
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.split("/")[-1]
        if name not in stack:
            _depth(definitions.get(name), definitions, level, (*stack, name), path)
        return
    if "properties" in schema:
        level += 1
        if level > MAX_DEPTH + 1:
            raise SchemaError(
                f"the schema nests objects deeper than Azure's structured-output limit of {MAX_DEPTH} levels",
                path=path,
            )
        for name, prop in schema["properties"].items():
            _depth(prop, definitions, level, stack, f"{path}.{name}")
    if "items" in schema:
        _depth(schema["items"], definitions, level, stack, f"{path}[*]")
    for branch in schema.get("anyOf") or []:
        _depth(branch, definitions, level, stack, path)


def _check_limits(schema: JSON) -> None:
    definitions = schema.get("$defs") or {}
    properties = 0
    enum_values = 0
    strings = sum(len(name) for name in definitions)
    trees = [("$", schema)] + [(f"$defs.{n}", d) for n, d in definitions.items()]
    for root_path, tree in trees:
        for path, node in _walk(tree, root_path):
            props = node.get("properties") or {}
            properties += len(props)
            strings += sum(len(name) for name in props)
            if properties > MAX_PROPERTIES:
                raise SchemaError(
                    f"the schema has more than Azure's structured-output limit of {MAX_PROPERTIES} object properties",
                    path=path,
                )
            for value in node.get("enum") or []:
                enum_values += 1
                if isinstance(value, str):
                    strings += len(value)
            if isinstance(node.get("const"), str):
                strings += len(node["const"])
            if enum_values > MAX_ENUM_VALUES:
                raise SchemaError(
                    f"the schema has more than Azure's structured-output limit of {MAX_ENUM_VALUES} enum values",
                    path=path,
                )
            if strings > MAX_STRING_LENGTH:
                raise SchemaError(
                    "the schema's property names, enum values and definition names exceed Azure's limit of "
                    f"{MAX_STRING_LENGTH} characters",
                    path=path,
                )
    _depth(schema, definitions, 0, (), "$")
