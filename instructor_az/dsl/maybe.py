"""instructor's `instructor.dsl.maybe`: `Maybe(User)` / `Maybe[User]`, and `MaybeBase`.

`Maybe(User)` is the model `MaybeUser` with `result: User | None`, `error: bool` and `message: str |
None`; it is true when there is a result. `MaybeBase` is the class every `Maybe[...]` derives from,
for `isinstance` checks.
"""

from __future__ import annotations

from ._maybe import Maybe

MaybeBase = Maybe
"""The base class of every `Maybe[T]` model (instructor's name for it)."""

__all__ = ["Maybe", "MaybeBase"]
