"""Whether Azure OpenAI accepts a JSON schema sent with ``strict: true``, and the 400 it returns if not.

The emulator calls :func:`check_strict_schema` for ``response_format`` json_schema bodies and for
strict function tools. Rules, with where each came from:

* Root must be ``type: "object"`` and not ``anyOf`` -- Azure "Structured outputs" how-to
  (learn.microsoft.com/azure/ai-services/openai/how-to/structured-outputs, "Supported schemas and
  limitations") and OpenAI's "Structured Outputs" guide. The wording of the error
  (``schema must be a JSON Schema of 'type: "object"', got 'type: "array"'.``; ``"None"`` when ``type``
  is absent, as for a root ``anyOf`` or ``$ref``) is from 400 bodies quoted in public issues.
* Every object sets ``additionalProperties: false``; every key of ``properties`` is in ``required``
  (optional = union with ``null``) -- both pages; message wording from bodies quoted in
  outlines#844, xsai#202 (Azure as provider) and tool-call reports ("Missing 'x'.").
* Supported types: string, number, integer, boolean, object, array, null, plus enum/const/anyOf,
  ``$defs``/``$ref`` (recursion allowed) -- both pages.
* Not permitted -- Azure's page, "Unsupported type-specific keywords": strings minLength, maxLength,
  pattern, format; numbers minimum, maximum, multipleOf; objects patternProperties,
  unevaluatedProperties, propertyNames, minProperties, maxProperties; arrays unevaluatedItems,
  contains, minContains, maxContains, minItems, maxItems, uniqueItems; composition allOf, not,
  dependentRequired, dependentSchemas, if, then, else. OpenAI's guide now *supports* most of the
  type-specific ones (pattern, format, minimum, minItems, ...) and keeps the list only for fine-tuned
  models; we follow Azure. ``'minimum' is not permitted.`` wording is from liam-hq/liam#1162.
* Limits (Azure's page; OpenAI's guide now says 5000 properties, 10 levels, 1000 enum values,
  120000 characters and 15000 for big enums -- we follow Azure): 100 object properties in total,
  5 levels of nesting, 15000 characters of property names + definition names + enum values + const
  values, 500 enum values, 7500 characters for one enum with more than 250 string values. The
  enum-count wording is from an OpenAI community report; the other limit messages copy its shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class StrictLimits:
    max_properties: int = 100
    max_nesting_depth: int = 5
    max_enum_values: int = 500
    max_total_string_length: int = 15_000
    large_enum_threshold: int = 250
    max_large_enum_string_length: int = 7_500


STRICT_LIMITS = StrictLimits()


@dataclass(frozen=True)
class StrictSchemaProblem:
    message: str
    param: str
    code: str | None


# Azure's own 400s for response_format carry `"code": null` (xsai#202, Azure behind OpenRouter,
# 2025); OpenAI's API has since moved to "invalid_json_schema". Tool errors come back from the same
# backend as "invalid_function_parameters" (quoted tool bodies); not seen from Azure itself.
_CODES: dict[str, str | None] = {"response_format": None, "function": "invalid_function_parameters"}

_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})

_NOT_PERMITTED = frozenset(
    {
        # Azure "Unsupported type-specific keywords".
        "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "multipleOf",
        "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties", "maxProperties",
        "unevaluatedItems", "contains", "minContains", "maxContains", "minItems", "maxItems", "uniqueItems",
        # Composition keywords both pages list as unsupported.
        "allOf", "not", "dependentRequired", "dependentSchemas", "if", "then", "else",
        # Not on Azure's list, but rejected in strict mode per issue reports (oneOf, default);
        # the exclusive bounds belong with minimum/maximum. Plausible, unconfirmed for Azure.
        "oneOf", "default", "exclusiveMinimum", "exclusiveMaximum",
    }
)  # fmt: skip

_OPT_OUT = "or use 'strict: false' to opt out of structured outputs."


class _Found(Exception):
    """Raised with the part of the message after the 'Invalid schema for ...:' prefix."""


def _ctx(path: Path) -> str:
    # Azure prints the path as a Python tuple repr: "()", "('properties',)". Array indexes (anyOf)
    # are shown as ints -- unconfirmed; the validator is Python, so the raw index is most plausible.
    return f"In context={path!r}, "


def _types_of(node: dict[str, Any]) -> list[Any]:
    t = node.get("type")
    if t is None:
        return []
    return list(t) if isinstance(t, list) else [t]


def _resolve(root: Any, ref: Any) -> tuple[Path, Any] | None:
    """Local JSON pointer ("#", "#/$defs/X") -> (path, sub-schema); None if it leads nowhere."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    node: Any = root
    path: Path = ()
    for raw in [p for p in ref[1:].split("/") if p]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node, path = node[int(key)], (*path, int(key))
        elif isinstance(node, dict) and key in node:
            node, path = node[key], (*path, key)
        else:
            return None
    return path, node


class _Walker:
    def __init__(self, root: Any, limits: StrictLimits) -> None:
        self.root = root
        self.limits = limits
        self.properties = 0
        self.enum_values = 0
        self.chars = 0

    # --- one pass over the document, in document order; $ref is checked, not followed ---------

    def walk(self, node: Any, path: Path) -> None:
        if not isinstance(node, dict):
            # A boolean sub-schema (`true`); treated like a typeless one (plausible, unconfirmed).
            raise _Found(f"{_ctx(path)}schema must have a 'type' key.")
        for key in node:
            if key in _NOT_PERMITTED:
                raise _Found(f"{_ctx(path)}'{key}' is not permitted.")
        types = _types_of(node)
        for t in types:
            if t not in _TYPES:
                raise _Found(f"{_ctx(path)}{t!r} is not a valid type.")  # wording unconfirmed
        if not types and not any(k in node for k in ("anyOf", "$ref", "enum", "const")) and path:
            # Reported for `Any`-typed fields; the root gets the root-type message instead.
            raise _Found(f"{_ctx(path)}schema must have a 'type' key.")
        if "$ref" in node and _resolve(self.root, node["$ref"]) is None:
            raise _Found(f"{_ctx(path)}reference {node['$ref']!r} can't be resolved.")  # unconfirmed
        if "enum" in node:
            self._enum(node["enum"], path)
        if isinstance(node.get("const"), str):
            self.chars += len(node["const"])
        if "object" in types or (not types and "properties" in node):
            self._object(node, path)
        if "array" in types:
            if "items" not in node:
                raise _Found(f"{_ctx(path)}array schema missing items.")
            self.walk(node["items"], (*path, "items"))
        if "anyOf" in node:
            branches = node["anyOf"]
            if not isinstance(branches, list) or not branches:
                raise _Found(f"{_ctx(path)}'anyOf' must be a non-empty array.")  # unconfirmed
            for i, branch in enumerate(branches):
                self.walk(branch, (*path, "anyOf", i))
        for defs_key in ("$defs", "definitions"):
            defs = node.get(defs_key)
            if isinstance(defs, dict):
                for def_name, sub in defs.items():
                    self.chars += len(def_name)
                    self.walk(sub, (*path, defs_key, def_name))

    def _object(self, node: dict[str, Any], path: Path) -> None:
        # Order (additionalProperties, then properties, then required) is a guess; Azure only
        # ever reports the first problem.
        if node.get("additionalProperties") is not False:
            raise _Found(f"{_ctx(path)}'additionalProperties' is required to be supplied and to be false.")
        props = node.get("properties")
        if not isinstance(props, dict):
            raise _Found(f"{_ctx(path)}object schema missing properties.")
        required = node.get("required", [])
        need = "'required' is required to be supplied and to be an array including every key in properties."
        if not isinstance(required, list):
            raise _Found(f"{_ctx(path)}{need}")
        for key in props:
            if key not in required:
                raise _Found(f"{_ctx(path)}{need} Missing {key!r}.")
        for key in required:
            if key not in props:
                raise _Found(f"{_ctx(path)}{need} Extra required key {key!r} supplied.")  # from memory
        self.properties += len(props)
        for key, sub in props.items():
            self.chars += len(key)
            self.walk(sub, (*path, "properties", key))

    def _enum(self, values: Any, path: Path) -> None:
        if not isinstance(values, list):
            return
        self.enum_values += len(values)
        strings = [v for v in values if isinstance(v, str)]
        # Only string values count towards the character budgets (the pages speak of strings).
        length = sum(len(v) for v in strings)
        self.chars += length
        lim = self.limits
        if len(strings) > lim.large_enum_threshold and length > lim.max_large_enum_string_length:
            raise _Found(
                f"{_ctx(path)}expected at most {lim.max_large_enum_string_length} characters in total for "
                f"the values of an enum with more than {lim.large_enum_threshold} values when using "
                f"structured outputs, but received {length}. Consider reducing the length of the "
                f"enum values, {_OPT_OUT}"
            )

    # --- nesting depth follows $ref, with a guard so recursive definitions end --------------

    def depth(self, node: Any, path: Path, level: int, stack: frozenset[str], seen: dict[str, int]) -> None:
        """Depth = object schemas below the root (the root object is level 0; arrays and anyOf
        add none). Azure doesn't say how it counts; this reading is the lenient one."""
        if not isinstance(node, dict):
            return
        is_object = "object" in _types_of(node) or "properties" in node
        if is_object and node is not self.root:
            level += 1
            if level > self.limits.max_nesting_depth:
                raise _Found(
                    f"{_ctx(path)}expected at most {self.limits.max_nesting_depth} levels of nesting "
                    f"when using structured outputs, but received {level}. Consider reducing the "
                    f"nesting, {_OPT_OUT}"
                )
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in stack and seen.get(ref, -1) < level:
            target = _resolve(self.root, ref)
            if target is not None:
                # A ref already explored from this level or deeper can't go deeper now.
                seen[ref] = level
                self.depth(target[1], target[0], level, stack | {ref}, seen)
        props = node.get("properties")
        if isinstance(props, dict):
            for key, sub in props.items():
                self.depth(sub, (*path, "properties", key), level, stack, seen)
        if "items" in node:
            self.depth(node["items"], (*path, "items"), level, stack, seen)
        if isinstance(node.get("anyOf"), list):
            for i, branch in enumerate(node["anyOf"]):
                self.depth(branch, (*path, "anyOf", i), level, stack, seen)

    def totals(self) -> None:
        lim = self.limits
        if self.properties > lim.max_properties:
            raise _Found(
                f"Expected at most {lim.max_properties} properties in total within a single schema when "
                f"using structured outputs, but received {self.properties}. Consider reducing the "
                f"number of properties, {_OPT_OUT}"
            )
        if self.enum_values > lim.max_enum_values:
            raise _Found(
                f"Expected at most {lim.max_enum_values} enum values in total within a single schema "
                f"when using structured outputs, but received {self.enum_values}. Consider reducing "
                f"the number of enums, {_OPT_OUT}"
            )
        if self.chars > lim.max_total_string_length:
            raise _Found(
                f"Expected at most {lim.max_total_string_length} characters for the total string length "
                f"of property names, definition names, enum values and const values within a single "
                f"schema when using structured outputs, but received {self.chars}. Consider reducing "
                f"the total string length, {_OPT_OUT}"
            )


def _root_problem(schema: Any) -> str | None:
    got = schema.get("type") if isinstance(schema, dict) else None
    if got != "object":
        # str(None) gives the observed 'type: "None"' for a missing type (root anyOf / $ref).
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
    if "anyOf" in schema:
        # An object root that also carries anyOf; wording is the generic one (unconfirmed).
        return f"{_ctx(())}'anyOf' is not permitted."
    return None


def check_strict_schema(
    schema: Any,
    *,
    name: str,
    kind: Literal["response_format", "function"],
    param: str,
    limits: StrictLimits = STRICT_LIMITS,
) -> StrictSchemaProblem | None:
    """None if Azure accepts the schema under strict mode, else the first problem Azure would report."""
    prefix = f"Invalid schema for {kind} '{name}': "
    detail = _root_problem(schema)
    if detail is None:
        walker = _Walker(schema, limits)
        try:
            # Shape first, then depth, then the whole-schema budgets.
            walker.walk(schema, ())
            walker.depth(schema, (), 0, frozenset(), {})
            walker.totals()
        except _Found as found:
            detail = str(found)
    if detail is None:
        return None
    return StrictSchemaProblem(message=prefix + detail, param=param, code=_CODES[kind])
