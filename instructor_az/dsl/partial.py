"""`Partial[Model]` as instructor defines it, on instructor-az's streaming engine.

```python
from instructor_az.dsl.partial import Partial

PartialUser = Partial[User]                    # the class of User's partial objects (a User subclass)
PartialUser.model_json_schema()                # titled "PartialUser", nested models "Partial..."
PartialUser.get_partial_model()                # every field optional, recursively: validates prefixes
for user in PartialUser.model_from_chunks(['{"name": "Jo', 'hn", "age": 3', '0}']):
    ...                                        # partial Users, then the User validated as a whole
client.chat.completions.create(response_model=Partial[User], ...)   # streams partial Users
```

`PartialLiteralMixin` is kept for code written for older instructor versions: a `Literal` or `Enum`
field is never validated on a prefix here (values are validated once complete), so the mixin does
nothing beyond a `DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..streaming._partial_api import _make_field_optional, optional_class
from ..streaming._partial_class import Partial, PartialModel, partial_class

__all__ = [
    "Partial",
    "PartialBase",
    "PartialLiteralMixin",
    "PartialModel",
    "get_partial_model",
    "optional_class",
    "partial_class",
]


class PartialLiteralMixin:
    """Deprecated, and not needed: `Literal` / `Enum` fields stream without it.

    A value is validated once it is complete, never on a prefix, so a half-written `"act"` for
    `Literal["active"]` is not an error while it streams. Subclassing it warns and changes nothing.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if PartialLiteralMixin not in cls.__bases__:
            return  # a subclass of the user's class (its partial or all-optional class): warned already
        warnings.warn(
            "PartialLiteralMixin is deprecated and does nothing: Literal and Enum fields are "
            "validated once complete while streaming; remove the mixin.",
            DeprecationWarning,
            stacklevel=2,
        )


def get_partial_model(model: type[Any]) -> type[PartialModel]:
    """`Partial[model].get_partial_model()`: `model` with every field optional, recursively."""
    return optional_class(model)


PartialBase = PartialModel
"""instructor's name for the base of every partial class (`issubclass(Partial[M], PartialBase)`)."""

# Used by instructor's tests of the field transform.
_make_field_optional = _make_field_optional
