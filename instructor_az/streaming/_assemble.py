"""Building partial objects and complete items from JSON parser events, validating by completeness.

`PartialBuilder` keeps an `M`-shaped partial object (of `M`'s partial class, `_partial_class`) up to
date in place from the parser's events: unseen fields have their default, else are `None` (lists
`[]`), strings and lists grow, nested models are partial models too.
Each value is validated once it is complete, never on a prefix: a completed field against its model
(its type, `Field` constraints and field validators), a completed nested object against its model
(model validators too). A completed value that fails raises, which ends the stream and re-asks.

`ItemsBuilder` yields each object of a list (`{"tasks": [...]}`) as soon as it closes, validated.

Work per event is constant (plus validating each completed value once), so a stream costs time
linear in its length.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .._errors import ResponseParseError
from ._field_checks import field_check, field_errors
from ._json import (
    EndArray,
    EndObject,
    Event,
    JsonEventParser,
    Key,
    Path,
    Scalar,
    StartArray,
    StartObject,
    StringChunk,
)
from ._partial_class import PartialModel, _streamable, partial_class

# --- types along a path -----------------------------------------------------------------------------


def _strip(tp: Any) -> Any:
    """`Optional[T]` / `Annotated[T, ...]` -> T (a union of several types stays a union)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is typing.Union or isinstance(tp, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _child_type(parent: Any, key: str | int) -> Any:
    """The declared type of `parent[key]`, or None when it is not known (dicts of Any, unions...)."""
    tp = _strip(parent)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(key) if isinstance(key, str) else None
        return info.annotation if info is not None else None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, set, frozenset, tuple, typing.Iterable, typing.Sequence) or (
        origin is not None and getattr(origin, "__name__", "") in ("Iterable", "Sequence", "List")
    ):
        return args[0] if args else None
    if origin in (dict, typing.Mapping) or (
        origin is not None and getattr(origin, "__name__", "") == "Mapping"
    ):
        return args[1] if len(args) == 2 else None
    return None


def _model_of(tp: Any) -> type[BaseModel] | None:
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _is_list(tp: Any) -> bool:
    origin = typing.get_origin(_strip(tp))
    return origin in (list, set, frozenset, tuple) or getattr(origin, "__name__", "") in (
        "Iterable",
        "Sequence",
    )


def _empty_partial(model: type[BaseModel], seen: frozenset[type[BaseModel]] | None = None) -> PartialModel:
    """`model`'s partial object before any of it arrived: a field with a default has it, a list is
    `[]`, anything else None; with `seen` (the models around it), a nested model is its empty
    partial object, as instructor's `model_from_chunks` shows it before the JSON opens."""
    values: dict[str, Any] = {}
    seen = None if seen is None else seen | {model}
    for name, info, kind, sub in _empty_recipe(model):
        if kind == "default":
            values[name] = _default(info)
        elif kind == "list":
            values[name] = []
        elif seen is not None and sub is not None and sub not in seen:
            values[name] = _empty_partial(sub, seen)
        else:
            values[name] = None
    return partial_class(model).model_construct(**values)


_Recipe = tuple[tuple[str, Any, str, "type[BaseModel] | None"], ...]
_recipes: dict[type[BaseModel], _Recipe] = {}


def _empty_recipe(model: type[BaseModel]) -> _Recipe:
    """Per field of `model`, what its empty partial holds: its default, a list, or None (with the
    streamable model declared there, which an empty partial shown before the JSON opens fills in)."""
    recipe = _recipes.get(model)
    if recipe is None:
        rows: list[tuple[str, Any, str, type[BaseModel] | None]] = []
        for name, info in model.model_fields.items():
            nested = info.annotation
            if not info.is_required():
                rows.append((name, info, "default", None))
            elif _is_list(nested):
                rows.append((name, info, "list", None))
            else:
                sub = _model_of(nested)
                keep = sub is not None and _streamable(sub) and sub is nested
                rows.append((name, info, "none", sub if keep else None))
        recipe = _recipes[model] = tuple(rows)
    return recipe


def _default(info: Any) -> Any:
    try:
        return info.get_default(call_default_factory=True)
    except TypeError:  # a default factory that reads the other fields: applied at the end
        return None


def _shallow(node: Any) -> Any:
    """A copy of one container of a partial object (its children shared)."""
    if isinstance(node, list):
        return list(node)
    if not isinstance(node, BaseModel):
        return dict(node)
    dup = type(node).__new__(type(node))
    private = dict(node.__pydantic_private__ or {})
    if "_complete" in private:
        private["_complete"] = set(private["_complete"])
    extra = node.__pydantic_extra__
    object.__setattr__(dup, "__dict__", dict(node.__dict__))
    object.__setattr__(dup, "__pydantic_extra__", dict(extra) if extra is not None else None)
    object.__setattr__(dup, "__pydantic_fields_set__", set(node.__pydantic_fields_set__))
    object.__setattr__(dup, "__pydantic_private__", private)
    return dup


def _raise(errors: list[dict[str, Any]], text: str | None = None) -> None:
    listing = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
    raise ResponseParseError(f"a completed value failed validation: {listing}", text=text, errors=errors)


# --- partial objects --------------------------------------------------------------------------------


class PartialBuilder:
    """Fills an `M`-shaped partial object from parser events; validates each completed value.

    The parser's events come in document order, so the container of any value is the innermost one
    still open: the open containers are a stack, each event touches only its top.
    """

    def __init__(
        self, model: type[BaseModel], parser: JsonEventParser, context: Mapping[str, Any] | None
    ) -> None:
        self.model = model
        self.parser = parser
        self.context = dict(context) if context is not None else None
        self.root: Any = None
        # The open containers, outermost first: (path, the partial container, its declared type, the
        # model it is or None).
        self._open: list[tuple[Path, Any, Any, type[BaseModel] | None]] = []
        self._string_at: Path | None = None  # the path of the string value arriving, if one is

    def _type_at(self, key: str | int) -> Any:
        """The declared type of member `key` of the innermost open container."""
        if not self._open:
            return self.model
        _, _, tp, model = self._open[-1]
        if model is not None:  # the common case, a field of a model
            info = model.model_fields.get(key) if isinstance(key, str) else None
            return info.annotation if info is not None else None
        return _child_type(tp, key)

    def _set(self, key: str | int, value: Any) -> None:
        """Member `key` of the innermost open container (the root when none is open) is `value`."""
        if not self._open:
            self.root = value
            return
        container = self._open[-1][1]
        if isinstance(container, BaseModel):
            container.__dict__[key] = value  # type: ignore[index]
        elif isinstance(container, list):
            if isinstance(key, int) and key < len(container):
                container[key] = value
            else:
                container.append(value)
        else:
            container[key] = value

    def _members(self) -> dict[str, Any]:
        """The innermost open object's values by key (a partial model's `__dict__`, or the dict)."""
        container = self._open[-1][1]
        return container.__dict__ if isinstance(container, BaseModel) else container

    def _get(self, key: str | int) -> Any:
        if not self._open:
            return self.root
        container = self._open[-1][1]
        if isinstance(container, BaseModel):
            return container.__dict__.get(key)  # type: ignore[arg-type]
        if isinstance(container, list):
            return container[key] if isinstance(key, int) and key < len(container) else None
        return container.get(key)

    def feed(self, events: list[Event]) -> bool:
        """Apply events; True when the partial object changed."""
        changed = False
        for event in events:
            kind = type(event)
            if kind is Key:
                continue
            changed = True
            path = event.path
            key = path[-1] if path else 0
            if kind is StringChunk:
                text = event.text  # type: ignore[attr-defined]
                if self._string_at != path:  # its first characters: it replaces the field's default
                    self._string_at = path
                    self._set(key, text)
                elif self._open and type(key) is str:  # more of a member's string (the common case)
                    members = self._members()
                    members[key] = members[key] + text
                else:  # more of a list item's, or the root's
                    self._set(key, self._get(key) + text)
            elif kind is Scalar:
                value = event.value  # type: ignore[attr-defined]
                self._string_at = None
                self._set(key, value)
                self._completed(path, value, None)
            elif kind is StartObject:
                tp = self._type_at(key)
                model = _model_of(tp)
                node: Any = _empty_partial(model) if model is not None else {}
                self._set(key, node)
                self._open.append((path, node, model if model is not None else tp, model))
            elif kind is StartArray:
                node = []
                tp = self._type_at(key)
                self._set(key, node)
                self._open.append((path, node, tp, None))
            else:  # EndObject, EndArray
                model = self._open.pop()[3]
                if path:
                    raw = self._raw(path)
                    if model is not None:
                        self._validate_object(model, path, raw)
                    self._completed(path, raw, model)
        return changed

    def snapshot(self) -> Any:
        """A copy of the partial object that later events leave as it is.

        Values that are complete are never changed again, so they are shared; only the containers
        still open (one chain from the root, as deep as the nesting) are copied.
        """
        root = self.root
        parent: Any = None
        for path, node, _, _ in self._open:  # outermost first
            dup = _shallow(node)
            if not path:
                root = dup
            elif isinstance(parent, BaseModel):
                parent.__dict__[path[-1]] = dup  # type: ignore[index]
            elif isinstance(parent, (list, dict)):
                parent[path[-1]] = dup  # type: ignore[index]  # the child is in it: inserted when it opened
            parent = dup
        return root

    def _raw(self, path: Path) -> Any:
        value = self.parser.value()
        for key in path:
            value = value[key]
        return value

    def _validate_object(self, model: type[BaseModel], path: Path, raw: Any) -> None:
        try:
            model.model_validate(raw, context=self.context)
        except ValidationError as exc:
            _raise([{**e, "loc": (*path, *e.get("loc", ()))} for e in exc.errors(include_url=False)])
        except Exception:  # a validator that needs the whole answer: checked at the end
            return

    def _completed(self, path: Path, raw: Any, validated: type[BaseModel] | None) -> None:
        """`raw`, the value at `path` in the innermost open container, is complete: check it as its
        field (`validated`: the model it was just validated as, when it is an object)."""
        if not path or not self._open:
            return
        _, container, _, model = self._open[-1]
        key = path[-1]
        if model is None or not isinstance(key, str):
            return
        info = model.model_fields.get(key)
        if info is None:
            return
        if raw is None and not info.is_required():
            # An optional field sent as null (strict modes send every field): its default applies at the end.
            _mark_complete(container, key)
            return
        check, whole_model = field_check(model, key)
        # An object just validated as the field's model (no constraints of the field's own on it)
        # has passed the field's check already.
        checked = validated is not None and not whole_model and not info.metadata
        if not (checked and info.discriminator is None and _model_of(info.annotation) is validated):
            try:
                check(raw, self.context)
            except ValidationError as exc:
                errors = field_errors(exc, key, path, whole_model=whole_model)
                if errors:
                    _raise(errors)
            except Exception:  # a field validator reading other fields: it runs on the final object
                pass
        _mark_complete(container, key)


def _mark_complete(container: Any, key: str) -> None:
    # The private attribute read directly: `container._complete` goes through pydantic's __getattr__.
    private = getattr(container, "__pydantic_private__", None)
    if private is not None and "_complete" in private:
        private["_complete"].add(key)


# --- complete items of a list ---------------------------------------------------------------------


class ItemsBuilder:
    """Yields each element of the list at `list_path` as soon as it closes, validated."""

    def __init__(
        self,
        parser: JsonEventParser,
        list_path: Path,
        validate: Callable[[Any], Any],
    ) -> None:
        self.parser = parser
        self.list_path = list_path
        self.validate = validate
        self.depth = len(list_path) + 1

    def feed(self, events: list[Event]) -> list[Any]:
        out = []
        for event in events:
            path = event.path
            if (
                len(path) == self.depth
                and path[: self.depth - 1] == self.list_path
                and isinstance(event, (EndObject, EndArray, Scalar))
            ):
                value: Any = self.parser.value()
                for key in path:
                    value = value[key]
                out.append(self.validate(value))
        return out
