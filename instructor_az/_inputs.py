"""Checks on what the caller passed, made before any request is sent.

Each check raises a `ConfigurationError` (or `SchemaError`) that names what is wrong and what to pass
instead, so a mistake is not sent to Azure only to come back as an HTTP 400 (or, worse, succeed as
something else: a data dict sent as if it were a JSON Schema).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ConfigurationError, SchemaError

# --- response_model as a dict ----------------------------------------------------------------------

_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})

# Keywords that describe the values a schema accepts: a JSON Schema dict carries at least one. (The
# annotations `title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment` do not count:
# data dicts often have a `title` or a `description` too.)
_SHAPE_KEYWORDS = (
    "type",
    "properties",
    "$ref",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "enum",
    "const",
    "items",
    "prefixItems",
    "$defs",
    "definitions",
    "required",
    "additionalProperties",
    "patternProperties",
    "if",
)
_SUBSCHEMA = ("not", "additionalProperties", "if", "then", "else", "contains", "propertyNames")
_SUBSCHEMA_MAP = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_STRINGS = ("title", "description", "$ref", "$schema", "$id", "$comment")
_PASS_INSTEAD = (
    "Pass a pydantic model (or a dataclass, a TypedDict, a simple type), or a JSON Schema dict such as "
    "{'type': 'object', 'properties': {'name': {'type': 'string'}}, 'required': ['name']}."
)


def _is_subschema(value: Any) -> bool:
    return isinstance(value, (Mapping, bool))


def _shape_problem(key: str, value: Any) -> str | None:
    """What is wrong with the value of the JSON Schema keyword `key`, or None if it is schema-shaped."""
    if key == "type":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return f"'type' must be a JSON type name or a list of them, got {value!r}"
        unknown = [n for n in names if n not in _JSON_TYPES]
        if unknown:
            return f"'type' is {unknown[0]!r}, which is not a JSON type ({', '.join(sorted(_JSON_TYPES))})"
        return None
    if key in _SUBSCHEMA_MAP:
        if not isinstance(value, Mapping):
            return f"{key!r} must map names to schemas, got {value!r}"
        for name, sub in value.items():
            if not _is_subschema(sub):
                return f"{key}.{name} must be a schema (a dict), got {sub!r}"
        return None
    if key in _SUBSCHEMA_LIST:
        if not isinstance(value, list) or not value or not all(_is_subschema(s) for s in value):
            return f"{key!r} must be a non-empty list of schemas, got {value!r}"
        return None
    if key == "items":
        if _is_subschema(value) or (isinstance(value, list) and all(_is_subschema(s) for s in value)):
            return None
        return f"'items' must be a schema (a dict), got {value!r}"
    if key in _SUBSCHEMA:
        return None if _is_subschema(value) else f"{key!r} must be a schema (a dict), got {value!r}"
    if key == "enum":
        return (
            None if isinstance(value, list) and value else f"'enum' must be a list of values, got {value!r}"
        )
    if key == "required":
        if isinstance(value, list) and all(isinstance(n, str) for n in value):
            return None
        return f"'required' must be a list of property names, got {value!r}"
    if key in _STRINGS:
        return None if isinstance(value, str) else f"{key!r} must be a string, got {value!r}"
    return None


def check_schema_dict(raw: Mapping[str, Any]) -> None:
    """Raise `SchemaError` unless `raw` is a JSON Schema (and not, say, an example of the data).

    The rule: the dict carries at least one keyword that describes values (`type`, `properties`,
    `$ref`, `anyOf`, `oneOf`, `allOf`, `enum`, `const`, `items`, `$defs`, ...), and each JSON Schema
    keyword it carries holds a schema-shaped value (`type` a JSON type name, `properties` a dict of
    schemas, `required` a list of names, ...). Whether the schema is then valid is `jsonschema`'s check.
    """
    keys = [k for k in raw if isinstance(k, str)]
    if len(keys) != len(raw):
        raise SchemaError(
            f"response_model is a dict with non-string keys, not a JSON Schema. {_PASS_INSTEAD}", path="$"
        )
    if not any(k in raw for k in _SHAPE_KEYWORDS):
        raise SchemaError(
            "response_model is a dict but not a JSON Schema: it has none of the keywords 'type', "
            f"'properties', '$ref', 'anyOf', 'oneOf', 'allOf', 'enum', 'const', 'items', '$defs'. "
            f"{_hint(raw, keys)} {_PASS_INSTEAD}",
            path="$",
        )
    for key in keys:
        problem = _shape_problem(key, raw[key])
        if problem is not None:
            raise SchemaError(
                f"response_model is a dict but not a JSON Schema: {problem}. {_hint(raw, keys)} "
                f"{_PASS_INSTEAD}",
                path=f"$.{key}",
            )


def _hint(raw: Mapping[str, Any], keys: list[str]) -> str:
    """What the dict looks like instead, for the error message."""
    if isinstance(raw.get("schema"), Mapping):
        return (
            "It looks like response_format's json_schema wrapper ({'name', 'schema', 'strict'}): pass its "
            "'schema' instead."
        )
    if isinstance(raw.get("function"), Mapping) or "parameters" in raw:
        return "It looks like a tool definition: pass its function's 'parameters' instead."
    if not raw:
        return "An empty dict says nothing about the answer wanted."
    shown = ", ".join(repr(k) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
    return f"With the keys {shown} it looks like an example of the data, not a description of it."


# --- messages ---------------------------------------------------------------------------------------

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_MESSAGE_FIELDS = ("role", "content", "tool_calls", "function_call", "tool_call_id", "name")


def _fields(message: Any) -> dict[str, Any] | None:
    """A message's fields: a dict's own, or a pydantic-like object's (e.g. a completion's message,
    which the SDK accepts as it is); None when it is no message at all."""
    if isinstance(message, Mapping):
        return dict(message)
    if hasattr(message, "model_dump") and hasattr(message, "role"):
        return {name: getattr(message, name) for name in _MESSAGE_FIELDS if hasattr(message, name)}
    return None


def _has_content(value: Any) -> bool:
    # a string (even empty), a list of content parts, or an Image / Audio part not yet converted
    return value is not None and not isinstance(value, (bytes, int, float, bool, Mapping))


def check_messages(messages: Any) -> None:
    """Raise `ConfigurationError` naming the first message that cannot be sent, and why.

    Accepts what the SDK sends: dicts with a known role (system, developer, user, assistant, tool,
    function), content as a string or a list of parts (including `Image` / `Audio`), assistant
    messages with `tool_calls` / `function_call` and no content, and pydantic-like message objects.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes, Mapping)):
        raise ConfigurationError(
            f"messages= must be a list of message dicts, got {type(messages).__name__}; e.g. "
            "messages=[{'role': 'user', 'content': 'Extract the user from: John is 30'}]"
        )
    if not messages:
        raise ConfigurationError(
            "messages= is empty; Azure needs at least one message, e.g. "
            "messages=[{'role': 'user', 'content': 'Extract the user from: John is 30'}]"
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        fields = _fields(message)
        if fields is None:
            raise ConfigurationError(
                f"{where} is {message!r} ({type(message).__name__}), not a message; each message is a dict "
                "such as {'role': 'user', 'content': '...'}"
            )
        if "role" not in fields or fields["role"] is None:
            raise ConfigurationError(
                f"{where} has no 'role'; give it one of {', '.join(ROLES)}, e.g. "
                "{'role': 'user', 'content': '...'}"
            )
        role = fields["role"]
        if role not in ROLES:
            raise ConfigurationError(f"{where} has the unknown role {role!r}; roles are {', '.join(ROLES)}")
        content = fields.get("content")
        if role == "assistant":
            if content is None and not fields.get("tool_calls") and not fields.get("function_call"):
                raise ConfigurationError(
                    f"{where} is an assistant message with neither 'content' nor 'tool_calls'; give it the "
                    "assistant's text as 'content'"
                )
        elif role == "function":
            if not fields.get("name"):
                raise ConfigurationError(f"{where} (role 'function') needs the function's 'name'")
        elif not _has_content(content):
            got = "no 'content'" if "content" not in fields else f"'content' {content!r}"
            raise ConfigurationError(
                f"{where} (role {role!r}) has {got}; its 'content' must be a string or a list of content "
                "parts"
            )
        if role == "tool" and not fields.get("tool_call_id"):
            raise ConfigurationError(
                f"{where} (role 'tool') needs 'tool_call_id': the id of the assistant's tool call it answers"
            )


# --- other arguments --------------------------------------------------------------------------------


def check_context(context: Any, argument: str) -> None:
    """`context=` / `validation_context=` is handed to validators as `info.context`: a mapping."""
    if context is not None and not isinstance(context, Mapping):
        raise ConfigurationError(
            f"{argument}= must be a mapping (a dict) that validators read as info.context, got "
            f"{type(context).__name__} {context!r}; e.g. {argument}={{'text': source_text}}"
        )


_REQUIRED_STRATEGIES = {
    "stop": "e.g. stop=stop_after_attempt(3)",
    "wait": "e.g. wait=wait_none() or wait=wait_fixed(1)",
    "retry": "e.g. retry=retry_if_exception_type() or leave it out for tenacity's default",
}
_OPTIONAL_CALLBACKS = ("before", "after", "before_sleep", "retry_error_callback")


def check_policy(policy: Any) -> None:
    """A user's tenacity `Retrying` / `AsyncRetrying`: its strategies are called on each attempt, so a
    strategy set to None (or to something not callable) is an error now, not after the first request."""
    name = type(policy).__name__
    for attribute, example in _REQUIRED_STRATEGIES.items():
        value = getattr(policy, attribute, None)
        if not callable(value):
            raise ConfigurationError(
                f"max_retries={name}({attribute}={value!r}): {attribute}= must be a tenacity strategy "
                f"(a callable), {example}"
            )
    for attribute in _OPTIONAL_CALLBACKS:
        value = getattr(policy, attribute, None)
        if value is not None and not callable(value):
            raise ConfigurationError(
                f"max_retries={name}({attribute}={value!r}): {attribute}= must be a callable or None"
            )
