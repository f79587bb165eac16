"""Validating one completed field of a streamed object on its own, as its model would.

A field of a partial object is checked once its value is complete. Validating the model with only
that field (`Model.model_validate({field: value})`) gives the right verdict but pays for every other
field (each one missing is an error pydantic builds and we throw away), on every completed value of
the stream. `field_check(Model, field)` gives the same verdict at the cost of the field alone: a
validator of the field's declared type with its constraints (`Field(gt=...)`, `Annotated`
validators, `strict`) under the model's config.

That shortcut is exact only where nothing else in the model can change the field's verdict: a
`field_validator` (or v1 `validator`) on the field or on `*`, and model validators that run before
or around the fields (`mode="before"` / `"wrap"`, v1 pre root validators), which may rewrite the
input. Models with any of those keep the whole-model check (`model_check`), whose errors are
narrowed to the field. After validators cannot change a field's verdict (they see a complete,
validated object, which a single field is not), so they do not prevent the shortcut.

Both kinds of check raise pydantic's `ValidationError` or return; errors come back with locations
relative to the field's value by `field_errors`.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

#: (value, context) -> None, raising ValidationError when the field's value fails.
Check = Callable[[Any, "Mapping[str, Any] | None"], None]

_checks: dict[tuple[type[BaseModel], str], tuple[Check, bool]] = {}
_lock = threading.Lock()


def _rewrites_input(model: type[BaseModel], field: str) -> bool:
    """Whether something besides the field's type could change its verdict (see the module doc)."""
    decorators = model.__pydantic_decorators__
    for named in (decorators.field_validators, decorators.validators):
        for validator in named.values():
            fields: tuple[str, ...] = validator.info.fields
            if field in fields or "*" in fields:
                return True
    if any(v.info.mode in ("before", "wrap") for v in decorators.model_validators.values()):
        return True
    return any(getattr(v.info, "pre", False) for v in decorators.root_validators.values())


def _type_check(model: type[BaseModel], field: str) -> Check | None:
    info = model.model_fields[field]
    metadata: list[Any] = list(info.metadata)
    if info.discriminator is not None:
        metadata.append(Field(discriminator=info.discriminator))
    tp: Any = typing.Annotated[tuple([info.annotation, *metadata])] if metadata else info.annotation
    try:
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(tp, config=model.model_config)
        except Exception:  # a type with its own config (a nested model): it keeps its own
            adapter = TypeAdapter(tp)
    except Exception:  # a type pydantic cannot validate on its own: the whole-model check
        return None
    validate = adapter.validate_python

    def check(value: Any, context: Mapping[str, Any] | None) -> None:
        validate(value, context=context)

    return check


def _model_check(model: type[BaseModel], field: str) -> Check:
    validate = model.model_validate

    def check(value: Any, context: Mapping[str, Any] | None) -> None:
        validate({field: value}, context=context)

    return check


def field_check(model: type[BaseModel], field: str) -> tuple[Check, bool]:
    """The check of `model`'s `field` and whether it is the whole-model one (its errors name every
    field: narrow them with `field_errors(..., whole_model=True)`). Built once per field."""
    key = (model, field)
    found = _checks.get(key)
    if found is not None:
        return found
    check = None if _rewrites_input(model, field) else _type_check(model, field)
    made = (check, False) if check is not None else (_model_check(model, field), True)
    with _lock:
        return _checks.setdefault(key, made)


def field_errors(
    error: ValidationError, field: str, at: tuple[Any, ...], *, whole_model: bool
) -> list[dict[str, Any]]:
    """The field's own errors, located at `at` (the field's path in the answer) and below."""
    items = error.errors(include_url=False)
    if not whole_model:
        return [{**item, "loc": (*at, *item["loc"])} for item in items]
    # The other fields are absent on purpose: only this field's errors count.
    return [
        {**item, "loc": (*at, *item["loc"][1:])}
        for item in items
        if item.get("loc") and item["loc"][0] == field
    ]
