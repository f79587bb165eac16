"""Simple response types (`str`, `int`, `Literal[...]`, `list[int | str]`, ...) and response-model
normalisation, with instructor's rules.

A *simple type* is a response model that is not an object of its own: it is asked for wrapped in an
object (`{"content": <value>}`) and handed back unwrapped. `is_simple_type` says which types those are,
`ModelAdapter[T]` builds the wrapper model, and `prepare_response_model` turns any supported
`response_model=` value into the pydantic model instructor would send (`list[User]` and
`Iterable[User]` become `IterableModel(User)`, a TypedDict becomes a model, a simple type is wrapped).
A call through `create(response_model=...)` needs none of this: the plan does the same itself.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import typing_extensions
from pydantic import BaseModel, Field, create_model

__all__ = ["AdapterBase", "ModelAdapter", "is_simple_type", "prepare_response_model"]

T = TypeVar("T")

_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)
_SCALARS = (str, int, float, bool)


class AdapterBase(BaseModel):
    """The base of every `ModelAdapter[T]` wrapper: `{"content": <T>}`."""


class ModelAdapter(Generic[T]):
    """`ModelAdapter[int]` is a model `Response` with one field, `content: int`, for a simple type."""

    def __class_getitem__(cls, response_model: Any) -> Any:
        if not is_simple_type(response_model):
            raise TypeError(f"ModelAdapter needs a simple type, not {response_model!r}")
        return create_model(
            "Response",
            __base__=AdapterBase,
            __doc__="Correctly Formatted and Extracted Response.",
            content=(response_model, ...),
        )


def _is_model_class(tp: Any) -> bool:
    return inspect.isclass(tp) and not isinstance(tp, types.GenericAlias) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in _UNIONS


def is_simple_type(response_model: Any) -> bool:
    """Whether `response_model` is a simple type: asked for as `{"content": ...}` and returned unwrapped.

    True for `str`, `int`, `float`, `bool`, an `Enum`, `Annotated[...]`, `Literal[...]`, a `Union`, and
    `list[T]` of anything but a pydantic model (`list[int | str]`, `list[A | B]` too). False for a
    pydantic model (a `Partial[...]` too), `list[Model]`, and `Iterable[...]` (several objects, streamed
    one by one).
    """
    try:
        if _is_model_class(response_model):
            return False
    except TypeError:
        return False
    origin = typing.get_origin(response_model)
    if origin is list:
        args = typing.get_args(response_model)
        if not args:
            return True
        return not _is_model_class(args[0])
    if origin in (Iterable, typing.Iterable):
        return False
    if response_model in _SCALARS:
        return True
    if origin in (typing.Annotated, typing.Literal, *_UNIONS):
        return True
    return inspect.isclass(response_model) and issubclass(response_model, enum.Enum)


def _typed_dict_model(tp: Any) -> type[BaseModel]:
    hints = typing_extensions.get_type_hints(tp, include_extras=True)
    required = getattr(tp, "__required_keys__", frozenset(hints))
    fields: dict[str, Any] = {
        key: (hint, ...) if key in required else (hint, Field(default=None)) for key, hint in hints.items()
    }
    return create_model(tp.__name__, __doc__=tp.__doc__, **fields)


def _is_object_type(tp: Any) -> bool:
    if typing_extensions.is_typeddict(tp) or _is_model_class(tp):
        return True
    return _is_union(tp) and all(_is_model_class(member) for member in typing.get_args(tp))


def prepare_response_model(response_model: Any) -> Any:
    """The pydantic model instructor sends for `response_model` (None stays None).

    `list[Model]`, `list[A | B]` and `Iterable[Model]` become `IterableModel(...)` (a `tasks` list),
    a TypedDict becomes a model of the same fields, a simple type becomes `ModelAdapter[T]`, and a
    pydantic model is returned as it is.
    """
    from .iterable import IterableModel

    if response_model is None:
        return None
    model = response_model
    origin = typing.get_origin(model)
    args = typing.get_args(model)
    if origin is list and is_simple_type(model) and not (args and _is_object_type(args[0])):
        return ModelAdapter.__class_getitem__(model)
    if typing_extensions.is_typeddict(model):
        model = _typed_dict_model(model)
    if origin in (list, Iterable, typing.Iterable):
        if not args or args[0] is None:
            raise ValueError("response_model must be parameterized, e.g. list[User] or Iterable[User]")
        item = _typed_dict_model(args[0]) if typing_extensions.is_typeddict(args[0]) else args[0]
        return IterableModel(item)
    if is_simple_type(model):
        return ModelAdapter.__class_getitem__(model)
    return model
