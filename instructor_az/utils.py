"""Small helpers instructor 1.x exposes as `instructor.utils`, for code that imports them.

- `is_async(func)`: whether a callable is a coroutine function, looking through `functools.wraps`.
- `classproperty`: a read-only property computed on the class (`Model.openai_schema`).
- `disable_pydantic_error_url()`: pydantic's "For further information visit https://errors.pydantic.dev..."
  lines left out of `ValidationError` messages (shorter re-ask prompts and logs).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

__all__ = ["classproperty", "disable_pydantic_error_url", "is_async", "is_simple_type", "prepare_response_model"]

R = TypeVar("R")
_ERROR_URL = "https://errors.pydantic.dev"
_plain_str: Callable[[ValidationError], str] | None = None


def is_async(func: Callable[..., Any]) -> bool:
    """Whether `func`, or any function it wraps (`__wrapped__`, as `functools.wraps` sets), is async."""
    seen: set[int] = set()
    current: Any = func
    while callable(current) and id(current) not in seen:
        if inspect.iscoroutinefunction(current):
            return True
        seen.add(id(current))
        current = getattr(current, "__wrapped__", None)
    return False


class classproperty(Generic[R]):
    """A property read on the class: `getter(cls)` is computed at each access, from the class or an instance."""

    def __init__(self, getter: Callable[[Any], R]) -> None:
        self.getter = getter
        self.__doc__ = getter.__doc__

    def __get__(self, instance: object, owner: type[Any] | None = None) -> R:
        return self.getter(owner if owner is not None else type(instance))


def disable_pydantic_error_url() -> None:
    """Leave pydantic's documentation links out of every `ValidationError`'s message, from now on.

    Idempotent. The errors themselves (`.errors()`) are unchanged; only `str(error)` loses the
    "For further information visit https://errors.pydantic.dev/..." lines.
    """
    global _plain_str
    if _plain_str is None:
        _plain_str = ValidationError.__str__

    plain = _plain_str

    def without_urls(self: ValidationError) -> str:
        return "\n".join(line for line in plain(self).splitlines() if _ERROR_URL not in line)

    setattr(ValidationError, "__str__", without_urls)  # noqa: B010 - a method replaced on the class


# instructor's `instructor.utils.core` names for response-model normalisation (defined in dsl.simple_type).
from .dsl.simple_type import is_simple_type, prepare_response_model  # noqa: E402
