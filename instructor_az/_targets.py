"""What a `response_model=` is, and how an answer becomes the value the caller gets.

A `Target` knows the JSON schema to ask for, validates answer text, and unwraps the result:

- `ModelTarget`: a pydantic `BaseModel` (nested, `$defs`, recursive, unions, constraints...).
- `AdapterTarget`: a `TypedDict` or a dataclass, through a `TypeAdapter`.
- `WrappedTarget`: a simple type (`str`, `int`, `list[T]`, `Literal`, `Enum`, `Union`, `Annotated`...),
  wrapped in an object (`{"content": ...}`) for the call and unwrapped for the caller.
- `SchemaTarget`: a JSON Schema `dict`; answers are checked with `jsonschema` and returned as dicts.
- `ListTarget`: `Iterable[T]` / `list` of answers: a `{"tasks": [...]}` object, returned as a list.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import typing_extensions
from pydantic import BaseModel, PydanticUserError, TypeAdapter, ValidationError, create_model

from ._errors import ConfigurationError, ResponseParseError, SchemaError
from ._schema import json_schema, tool_name

JSON = dict[str, Any]


def pydantic_errors(error: ValidationError) -> list[JSON]:
    return [
        {
            "loc": tuple(e.get("loc", ())),
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
            "input": e.get("input"),
        }
        for e in error.errors(include_url=False)
    ]


def _ctx(context: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(context) if context is not None else None


class Target:
    """A response model: the schema to send, and the value an answer text validates into."""

    name: str
    description: str | None
    schema: JSON
    display_name: str

    def validate_text(
        self, text: str, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        """Validate an answer's JSON text; `strict=True` is pydantic's strict mode (no type coercion)."""
        raise NotImplementedError

    def validate_object(
        self, obj: Any, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        """Validate an already-parsed JSON value (used after strict-mode null stripping)."""
        return self.validate_text(json.dumps(obj), context, strict=strict)


@dataclass
class ModelTarget(Target):
    model: type[BaseModel]
    name: str = ""
    description: str | None = None
    schema: JSON = field(default_factory=dict)
    display_name: str = ""

    def __post_init__(self) -> None:
        self.schema = json_schema(self.model)
        self.name = tool_name(self.model.__name__)
        self.display_name = self.model.__name__
        self.description = self.schema.get("description") or (
            f"Correctly extracted `{self.model.__name__}` with all the required parameters with correct types"
        )

    def validate_text(
        self, text: str, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        return self.model.model_validate_json(text, strict=strict, context=_ctx(context))

    def validate_object(
        self, obj: Any, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        return self.model.model_validate(obj, strict=strict, context=_ctx(context))


@dataclass
class AdapterTarget(Target):
    tp: Any
    name: str = ""
    description: str | None = None
    schema: JSON = field(default_factory=dict)
    display_name: str = ""
    adapter: TypeAdapter[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.adapter = TypeAdapter(self.tp)
        self.schema = json_schema(self.tp)
        self.name = tool_name(self.tp.__name__)
        self.display_name = self.tp.__name__
        self.description = self.schema.get("description") or f"Correctly extracted `{self.tp.__name__}`"

    def validate_text(
        self, text: str, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        return self.adapter.validate_json(text, strict=strict, context=_ctx(context))

    def validate_object(
        self, obj: Any, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        return self.adapter.validate_python(obj, strict=strict, context=_ctx(context))


@dataclass
class WrappedTarget(Target):
    """A simple type asked for as `{"content": <value>}` and returned unwrapped."""

    tp: Any
    field_name: str = "content"
    name: str = "Response"
    description: str | None = None
    schema: JSON = field(default_factory=dict)
    display_name: str = ""
    wrapper: type[BaseModel] = field(init=False)

    def __post_init__(self) -> None:
        self.wrapper = create_model("Response", **{self.field_name: (self.tp, ...)})  # type: ignore[call-overload]
        self.schema = json_schema(self.wrapper)
        self.schema.pop("description", None)
        self.display_name = _type_name(self.tp)
        self.description = self.description or f"Correctly formatted and typed answer: {self.display_name}"

    def validate_text(
        self, text: str, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        value = self.wrapper.model_validate_json(text, strict=strict, context=_ctx(context))
        return getattr(value, self.field_name)

    def validate_object(
        self, obj: Any, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        value = self.wrapper.model_validate(obj, strict=strict, context=_ctx(context))
        return getattr(value, self.field_name)


@dataclass
class ListTarget(WrappedTarget):
    """`Iterable[T]`: several objects in one answer, `{"tasks": [...]}`, returned as a list."""

    item: Any = None
    field_name: str = "tasks"

    def __post_init__(self) -> None:
        self.tp = list[self.item]  # type: ignore[name-defined]
        super().__post_init__()
        item_name = _type_name(self.item)
        self.name = tool_name(f"Iterable{item_name}") if isinstance(self.item, type) else "IterableResponse"
        self.display_name = f"Iterable[{item_name}]"
        self.description = f"Correct segmentation of `{item_name}` tasks"


@dataclass
class SchemaTarget(Target):
    """A JSON Schema dict: answers validated with `jsonschema`, returned as plain JSON values."""

    raw: Mapping[str, Any]
    name: str = ""
    description: str | None = None
    schema: JSON = field(default_factory=dict)
    display_name: str = ""

    def __post_init__(self) -> None:
        from ._inputs import check_schema_dict  # a data dict is not a schema: say so, send nothing

        check_schema_dict(self.raw)
        try:
            validator_cls = jsonschema.validators.validator_for(self.raw)
            validator_cls.check_schema(dict(self.raw))
        except jsonschema.SchemaError as exc:
            path = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
            raise SchemaError(
                f"response_model is not a valid JSON Schema: {exc.message}", path=path
            ) from None
        self.schema = dict(self.raw)
        title = self.raw.get("title")
        self.name = tool_name(title) if isinstance(title, str) else "Response"
        self.display_name = title if isinstance(title, str) else "JSON schema"
        description = self.raw.get("description")
        self.description = (
            description if isinstance(description, str) else f"Answer matching the schema {self.name}"
        )
        self._validator = validator_cls(self.raw, format_checker=jsonschema.FormatChecker())

    def validate_text(
        self, text: str, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise ResponseParseError(f"the answer is not valid JSON: {exc}", text=text) from None
        return self.validate_object(obj, context)

    def validate_object(
        self, obj: Any, context: Mapping[str, Any] | None, *, strict: bool | None = None
    ) -> Any:
        # A JSON Schema has no lax mode to leave: `strict` changes nothing here.
        errors = sorted(self._validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            found: list[JSON] = [
                {
                    "loc": tuple(e.absolute_path),
                    "path": _json_path(tuple(e.absolute_path)),
                    "msg": e.message,
                    "type": str(e.validator),
                    "input": e.instance,
                }
                for e in errors
            ]
            listing = "; ".join(f"{e['path']}: {e['msg']}" for e in found[:5])
            raise ResponseParseError(
                f"{len(found)} error{'s' if len(found) != 1 else ''} validating the answer against the schema: {listing}",
                text=json.dumps(obj),
                errors=found,
            )
        return obj


def _json_path(loc: Sequence[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_iterable_marker(tp: Any) -> Any | None:
    """The item type of `Iterable[T]` / `list[T]` used as a multi-object response model."""
    origin = typing.get_origin(tp)
    if origin in (Iterable, typing.Iterable):
        args = typing.get_args(tp)
        return args[0] if args else Any
    return None


def make_target(response_model: Any) -> Target:
    """The `Target` for any supported `response_model` value."""
    if isinstance(response_model, Mapping):
        return SchemaTarget(response_model)
    if isinstance(response_model, Target):
        return response_model
    item = _is_iterable_marker(response_model)
    if item is not None:
        return ListTarget(tp=None, item=item)
    from .dsl.iterable import IterableBase  # IterableModel(T): the same list, named as the class

    if isinstance(response_model, type) and issubclass(response_model, IterableBase) and response_model.task_type:
        target = ListTarget(tp=None, item=response_model.task_type)
        target.name = tool_name(response_model.__name__)
        target.description = response_model.__doc__ or target.description
        return target
    try:
        if isinstance(response_model, type):
            if issubclass(response_model, BaseModel):
                return ModelTarget(response_model)
            if dataclasses.is_dataclass(response_model) or typing_extensions.is_typeddict(response_model):
                return AdapterTarget(response_model)
        return WrappedTarget(response_model)
    except PydanticUserError as exc:
        raise ConfigurationError(f"response_model={response_model!r} cannot be used: {exc.message}") from None
    except Exception as exc:  # pydantic cannot build a schema for it
        raise ConfigurationError(
            f"response_model={response_model!r} is not supported: use a pydantic model, a dataclass, a "
            f"TypedDict, a simple type (str, int, list[T], Literal[...], ...) or a JSON Schema dict ({exc})"
        ) from None


__all__ = [
    "AdapterTarget",
    "ListTarget",
    "ModelTarget",
    "SchemaTarget",
    "Target",
    "WrappedTarget",
    "make_target",
    "pydantic_errors",
]
