"""`Maybe[T]`: an answer that may legitimately be absent, with the model's reason when it is."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from pydantic._internal._model_construction import ModelMetaclass

T = TypeVar("T")


class _MaybeMeta(ModelMetaclass):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # instructor's spelling: Maybe(User) is Maybe[User].
        if len(args) == 1 and not kwargs and isinstance(args[0], type) and cls.__name__ == "Maybe":
            return cls[args[0]]  # type: ignore[index]
        return super().__call__(*args, **kwargs)


class Maybe(BaseModel, Generic[T], metaclass=_MaybeMeta):
    """Either a `result`, or `error=True` with a `message` saying why there is none.

    `response_model=Maybe[User]` (or `Maybe(User)`) lets the model say "there is no user in this text"
    instead of inventing one.
    """

    result: T | None = Field(default=None, description="The extracted value, if the text contains one")
    error: bool = Field(default=False, description="True when the text does not contain the value")
    message: str | None = Field(default=None, description="Why there is no result, when error is true")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return "Maybe" + "".join(getattr(p, "__name__", str(p)) for p in params)

    def __bool__(self) -> bool:
        """True when there is a result (instructor's rule: `error` does not enter into it)."""
        return self.result is not None
