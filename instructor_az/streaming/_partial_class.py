"""The partial classes: `Partial[M]` (= `partial_class(M)`), what a partial stream yields.

A partial class subclasses `M` and mixes in `PartialModel` (`is_complete`, `completed_fields`); it
declares `M`'s nested models as their own partial classes, so its schema names them `Partial...` as
instructor's does (requests are still planned from `M`: `partial_target`). Built once per model.

`finished(value)` is the validated answer as a stream's last object: the same values, in the same
partial classes, every field complete, so `is_complete` / `completed_fields` work on every object a
partial stream yields. A partial object compares equal (`==`) to the plain model with the same
values, and pickles as one (it unpickles as the partial class again). `_assemble.PartialBuilder`
fills these objects in from the parser's events.
"""

from __future__ import annotations

import copy
import threading
import types
import typing
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, PrivateAttr, create_model

M = TypeVar("M", bound=BaseModel)


class PartialModel(BaseModel):
    """Mixed into partial classes: which fields of this object are complete (final).

    Every object a partial stream yields is one: the partial being filled in, and the last one, the
    validated answer, whose fields are all complete. A partial class is a subclass of the model it
    streams (`isinstance(partial, Model)`), and a partial equals (`==`) a `Model` with the same values.
    """

    _complete: set[str] = PrivateAttr(default_factory=set)
    partial_of: ClassVar[type[BaseModel]]
    _original_model: ClassVar[type[BaseModel]]  # instructor's name for `partial_of`

    def is_complete(self, field: str) -> bool:
        """True once `field` has its final value (validated); never goes back to False."""
        return field in self._complete

    @property
    def completed_fields(self) -> frozenset[str]:
        """The fields that have their final, validated value."""
        return frozenset(self._complete)

    def __eq__(self, other: object) -> bool:
        # As the model it streams: `_complete` and the partial class itself are not part of the value.
        if not isinstance(other, BaseModel):
            return NotImplemented
        return bool(_as_model(self) == _as_model(other))

    def __reduce__(self) -> tuple[Any, ...]:
        # The partial class is made at run time, so pickle names the model and rebuilds the class.
        return (_unpickle_partial, (self.partial_of, self.__getstate__()))

    @classmethod
    def get_partial_model(cls) -> type[PartialModel]:
        """This model with every field optional, recursively (instructor's `get_partial_model`)."""
        from ._partial_api import optional_class

        return optional_class(cls.partial_of)

    @classmethod
    def model_from_chunks(cls, json_chunks: Iterable[Any], **kwargs: Any) -> Iterator[Any]:
        """Partial objects from a JSON text arriving in chunks (strings, or chat completion chunks).

        One object per chunk: a partial object while the JSON is open, then the model validated
        as a whole once it closes (a pydantic `ValidationError` if it does not validate). `context`
        and pydantic's validation options in `kwargs` apply. Each partial yielded is a snapshot that
        later chunks do not change; making it copies only the objects and lists still open.
        """
        from ._partial_api import ChunkStream, chunk_text

        stream = ChunkStream(cls.partial_of, kwargs)
        for chunk in json_chunks:
            text = chunk_text(chunk)
            if text is not None:
                yield stream.feed(text)

    @classmethod
    async def model_from_chunks_async(
        cls, json_chunks: AsyncIterable[Any], **kwargs: Any
    ) -> AsyncIterator[Any]:
        """`model_from_chunks` over an async iterable of chunks."""
        from ._partial_api import ChunkStream, chunk_text

        stream = ChunkStream(cls.partial_of, kwargs)
        async for chunk in json_chunks:
            text = chunk_text(chunk)
            if text is not None:
                yield stream.feed(text)


def _as_model(value: BaseModel) -> BaseModel:
    """`value` as an instance of the model it is a partial of (sharing its state), for comparing."""
    if not isinstance(value, PartialModel):
        return value
    model = value.partial_of
    plain = model.__new__(model)
    private = value.__pydantic_private__ or {}
    kept = {k: v for k, v in private.items() if k in model.__private_attributes__}
    object.__setattr__(plain, "__dict__", value.__dict__)
    object.__setattr__(plain, "__pydantic_extra__", value.__pydantic_extra__)
    object.__setattr__(plain, "__pydantic_fields_set__", value.__pydantic_fields_set__)
    object.__setattr__(plain, "__pydantic_private__", kept if model.__private_attributes__ else None)
    return plain


def _unpickle_partial(model: type[BaseModel], state: dict[Any, Any]) -> PartialModel:
    cls = partial_class(model)
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


_built: dict[type[BaseModel], type[PartialModel]] = {}
_building: set[type[BaseModel]] = set()
_build_lock = threading.RLock()  # shared with the all-optional classes of `_partial_api`


def _partial_name(model: type[BaseModel]) -> str:
    return model.__name__ if model.__name__.startswith("Partial") else f"Partial{model.__name__}"


def _map_models(tp: Any, wrap: Callable[[type[BaseModel]], Any]) -> Any:
    """`tp` with each model in it (inside lists, unions, `Optional`, dicts...) replaced by `wrap(model)`;
    `tp` itself when nothing in it changed."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return wrap(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None or not args or origin is typing.Literal:
        return tp
    if origin is typing.Annotated:
        inner = _map_models(args[0], wrap)
        params = (inner, *args[1:])
        return tp if inner is args[0] else typing.Annotated[params]
    mapped = tuple(_map_models(a, wrap) for a in args)
    if all(m is a for m, a in zip(mapped, args, strict=True)):
        return tp
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[mapped]  # noqa: UP007
    try:
        return origin[mapped]
    except TypeError:  # an origin that cannot be subscribed again: keep the declared type
        return tp


def _nested_partial(model: type[BaseModel]) -> Any:
    # A model met again while its own partial class is being built (a recursive model) stays as it is.
    return model if model in _building or not _streamable(model) else partial_class(model)


def _fields_with_partials(model: type[BaseModel]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if not (_streamable(model) and model.__pydantic_complete__):
        return fields
    for name, info in model.model_fields.items():
        annotation = _map_models(info.annotation, _nested_partial)
        if annotation is not info.annotation:  # only fields holding models are declared again
            field = copy.deepcopy(info)
            field.annotation = annotation
            fields[name] = (annotation, field)
    return fields


def partial_class(model: type[BaseModel]) -> type[PartialModel]:
    """`Partial{Model}`: a subclass of `model` whose instances are filled as the answer streams in.

    Its fields are `model`'s, with each nested model (in lists, unions, `Optional`...) replaced by its
    own partial class, so its JSON schema names them `Partial...` as instructor's does. Built once per
    model; a recursive model's inner references stay the model itself.
    """
    if isinstance(model, type) and issubclass(model, PartialModel):
        return model
    with _build_lock:
        cls = _built.get(model)
        if cls is not None:
            return cls
        name, bases = _partial_name(model), (model, PartialModel)
        _building.add(model)
        try:
            fields = _fields_with_partials(model)
            made: Any = (
                create_model(name, __base__=bases, __module__=model.__module__, **fields) if fields else None
            )
        except Exception:  # a model pydantic cannot declare again: its nested models stay as they are
            made = None
        finally:
            _building.discard(model)
        cls = typing.cast("type[PartialModel]", made or type(name, bases, {"__module__": model.__module__}))
        cls.partial_of = model
        cls._original_model = model
        _built[model] = cls
        return cls


class Partial(Generic[M]):
    """`Partial[User]`: the class of `User`'s partial objects (`partial_class(User)`).

    `create(response_model=Partial[User])` streams them (same as `create_partial`).
    `Partial[User].get_partial_model()` is the same model with every field optional, and
    `Partial[User].model_from_chunks(text_chunks)` reads a JSON text in chunks into partial objects.
    """

    def __new__(cls, *args: object, **kwargs: object) -> Partial[M]:
        raise TypeError("Partial is not instantiated: Partial[Model] names Model's partial class")

    def __init_subclass__(cls, *args: object, **kwargs: object) -> typing.NoReturn:
        raise TypeError("Partial is not subclassed: use Partial[Model]")

    def __class_getitem__(cls, item: Any) -> Any:
        if not (isinstance(item, type) and issubclass(item, BaseModel)):
            raise TypeError(f"Partial[...] needs a pydantic model, got {item!r}")
        return partial_class(item)


def _streamable(model: type[BaseModel]) -> bool:
    # Root models hold one value, not fields that complete one by one.
    return not getattr(model, "__pydantic_root_model__", False)


def finished(value: Any) -> Any:
    """The validated answer of a partial stream as its last object.

    The same values, with each model in it (nested ones too) as its partial class with every field
    complete: an instance of the model, equal to it and dumping the same, on which `is_complete` and
    `completed_fields` work like on the partials before it. Other values are returned as they are.
    Linear in the size of the answer, once per stream.
    """
    if isinstance(value, BaseModel):
        model = type(value)
        if isinstance(value, PartialModel) or not _streamable(model):
            return value
        cls = partial_class(model)
        obj = cls.__new__(cls)
        private = dict(value.__pydantic_private__ or {})
        private["_complete"] = set(model.model_fields)
        object.__setattr__(obj, "__dict__", {k: finished(v) for k, v in value.__dict__.items()})
        object.__setattr__(obj, "__pydantic_extra__", value.__pydantic_extra__)
        object.__setattr__(obj, "__pydantic_fields_set__", set(value.__pydantic_fields_set__))
        object.__setattr__(obj, "__pydantic_private__", private)
        return obj
    if type(value) is list:
        return [finished(v) for v in value]
    if type(value) is tuple:
        return tuple(finished(v) for v in value)
    if type(value) is dict:
        return {k: finished(v) for k, v in value.items()}
    return value


def partial_target(response_model: Any) -> type[BaseModel] | None:
    """The model `response_model` asks to stream partially, if it is `Partial[M]`."""
    if isinstance(response_model, type) and issubclass(response_model, PartialModel):
        return response_model.partial_of
    return None
