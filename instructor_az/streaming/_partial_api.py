"""instructor's `Partial` API on our engine: `get_partial_model()` and `model_from_chunks()`.

`optional_class(Model)` (what `Partial[Model].get_partial_model()` returns) is the partial class with
every field optional, recursively, so any prefix of an answer validates.

`Partial[Model].model_from_chunks(chunks)` (and its async twin) drive a `ChunkStream`: each chunk's
text goes through the one incremental parser (`JsonEventParser`) into a `PartialBuilder`, so reading
the whole text costs time linear in its length (instructor re-parses the text so far on every chunk).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo

from .._errors import ResponseParseError
from ._assemble import PartialBuilder, _empty_partial, _shallow
from ._json import JsonEventParser
from ._partial_class import (
    PartialModel,
    _build_lock,
    _map_models,
    _partial_name,
    _streamable,
    finished,
    partial_class,
)

_built: dict[type[BaseModel], type[PartialModel]] = {}
_building: set[type[BaseModel]] = set()


def optional_class(model: type[BaseModel]) -> type[PartialModel]:
    """`Partial[Model].get_partial_model()`: `Partial{Model}` with every field optional, recursively.

    Each field accepts None and defaults to None (a nested model field defaults to `{}`), so any prefix
    of an answer validates: `optional_class(User).model_validate({"name": "Jo"})`. A value that is
    present is still checked against its type, `Field` constraints and validators; model validators
    run too (it subclasses the model). Built once per model; a recursive model's inner references stay
    the model itself. A discriminated union cannot be made optional: pydantic's `PydanticUserError`.
    """
    if isinstance(model, type) and issubclass(model, PartialModel):
        model = model.partial_of
    with _build_lock:
        cls = _built.get(model)
        if cls is not None:
            return cls
        _building.add(model)
        try:
            fields: dict[str, Any] = {
                name: _make_field_optional(info) for name, info in model.model_fields.items()
            }
            made = create_model(
                _partial_name(model), __base__=partial_class(model), __module__=model.__module__, **fields
            )
        finally:
            _building.discard(model)
        cls = typing.cast("type[PartialModel]", made)
        _built[model] = cls
        return cls


def _nested_optional(model: type[BaseModel]) -> Any:
    return model if model in _building or not _streamable(model) else optional_class(model)


def _make_field_optional(field: FieldInfo) -> tuple[Any, FieldInfo]:
    """A copy of `field` that accepts None and defaults to None (`{}` for a nested model field)."""
    optional = copy.deepcopy(field)
    annotation = field.annotation
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    mapped: Any = typing.Optional[_map_models(annotation, _nested_optional)]  # noqa: UP045
    optional.annotation = mapped
    optional.default = {} if is_model else None
    optional.default_factory = None
    return optional.annotation, optional


_CONTROL = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)])
_VALIDATE_OPTIONS = ("strict", "extra", "from_attributes", "by_alias", "by_name")


def chunk_text(chunk: Any) -> str | None:
    """The JSON text in one chunk: a string, or a chat completion chunk's content / tool arguments."""
    if chunk is None or isinstance(chunk, str):
        return chunk
    choices = getattr(chunk, "choices", None)
    if choices is None:
        return str(chunk)
    parts: list[str] = []
    for choice in choices:
        delta = getattr(choice, "delta", None)
        if delta is None:
            continue
        if getattr(delta, "content", None):
            parts.append(delta.content)
        for call in getattr(delta, "tool_calls", None) or ():
            arguments = getattr(getattr(call, "function", None), "arguments", None)
            if arguments:
                parts.append(arguments)
    return "".join(parts)


class ChunkStream:
    """Sans-IO `model_from_chunks`: `feed(text)` returns the object to yield after that chunk.

    Control characters are dropped from the text (as instructor does), the rest goes through the
    incremental parser into a `PartialBuilder`: a snapshot while the JSON is open (before it opens,
    the model's empty partial object), then the model validated as a whole.
    """

    def __init__(self, model: type[BaseModel], options: Mapping[str, Any]) -> None:
        self.model = model
        self.context = options.get("context")
        self.options = {k: v for k, v in options.items() if k in _VALIDATE_OPTIONS}
        self.parser = JsonEventParser()
        self.builder = PartialBuilder(model, self.parser, self.context)
        self.empty: PartialModel | None = None
        self.result: Any = None

    def feed(self, text: str) -> Any:
        """Consume one chunk's text; return the object to yield for it."""
        events = self.parser.feed(text.translate(_CONTROL))
        if self.result is not None:
            return self.result
        try:
            self.builder.feed(events)
        except ResponseParseError as exc:
            raise _validation_error(self.model, exc) from None
        if self.parser.done:
            value = self.model.model_validate(self.parser.value(), context=self.context, **self.options)
            self.result = finished(value)
            return self.result
        if isinstance(self.builder.root, BaseModel):
            return self.builder.snapshot()
        if self.empty is None:
            self.empty = _empty_partial(self.model, frozenset())
        return _shallow(self.empty)


def _validation_error(model: type[BaseModel], exc: ResponseParseError) -> Exception:
    """The builder's error for a completed value as pydantic's `ValidationError`, as instructor raises."""
    details: list[Any] = [
        {"type": e["type"], "loc": tuple(e["loc"]), "input": e.get("input"), "ctx": e.get("ctx") or {}}
        for e in exc.errors
        if "type" in e
    ]
    try:
        return ValidationError.from_exception_data(model.__name__, details)
    except (TypeError, KeyError, ValueError):
        return exc
