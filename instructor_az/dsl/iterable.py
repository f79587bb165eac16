"""`IterableModel(User)`: several objects in one answer, as instructor builds it.

```python
Users = IterableModel(User)      # class IterableUser(BaseModel, IterableBase): tasks: list[User]
users = client.chat.completions.create(model="gpt-4o", response_model=Users, messages=...)
# a list of User, as with response_model=Iterable[User]; stream=True yields each User as it closes
```

The class is the `{"tasks": [...]}` model the request asks for. A call with it goes through the same
plan as `Iterable[User]` (`_targets.make_target` recognises an `IterableBase` class), so the answer,
its re-asks and its streaming are the ones described in docs/modes.md.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError, create_model

from .._answer_json import answer_parser
from ..streaming._assemble import ItemsBuilder
from ..streaming._json import StartArray

__all__ = ["IterableBase", "IterableModel"]

_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)


class IterableBase:
    """The mixin of every `IterableModel(...)` class: `task_type` is the type of one item."""

    task_type: ClassVar[Any] = None

    @classmethod
    def extract_cls_task_type(cls, task_json: str, **kwargs: Any) -> Any:
        """One item from its JSON text (for a union, the first member it validates as)."""
        if cls.task_type is None:
            raise TypeError(f"{cls.__name__} has no task_type: build it with IterableModel(...)")
        members = typing.get_args(cls.task_type) if typing.get_origin(cls.task_type) in _UNIONS else ()
        if not members:
            return cls.task_type.model_validate_json(task_json, **kwargs)
        errors: list[str] = []
        for member in members:
            try:
                return member.model_validate_json(task_json, **kwargs)
            except ValidationError as exc:
                errors.append(f"{member.__name__}: {exc.error_count()} errors")
        raise ValueError(
            f"Failed to extract task type with {task_json} for {cls.task_type} ({'; '.join(errors)})"
        )

    @staticmethod
    def get_object(s: str, stack: int) -> tuple[str | None, str]:
        """The first complete `{...}` in `s` and the text after it (one separator skipped), or `(None, s)`.

        Braces inside JSON strings (escapes included) do not count; `stack` is the depth already open.
        """
        start = s.find("{")
        in_string = escaped = False
        for i, char in enumerate(s):
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                stack += 1
            elif char == "}":
                stack -= 1
                if stack == 0:
                    return s[start : i + 1], s[i + 2 :]
        return None, s

    @classmethod
    def tasks_from_chunks(cls, json_chunks: Iterable[str], **kwargs: Any) -> Iterator[Any]:
        """Each item of a streamed `{"tasks": [...]}` (or bare `[...]`) answer as soon as it closes."""
        items = _ItemStream()
        for chunk in json_chunks:
            for text in items.feed(chunk):
                yield cls.extract_cls_task_type(text, **kwargs)

    @classmethod
    async def tasks_from_chunks_async(
        cls, json_chunks: AsyncIterable[str], **kwargs: Any
    ) -> AsyncIterator[Any]:
        """`tasks_from_chunks` over an async stream of text deltas."""
        items = _ItemStream()
        async for chunk in json_chunks:
            for text in items.feed(chunk):
                yield cls.extract_cls_task_type(text, **kwargs)


class _ItemStream:
    """Feeds text deltas to the answer parser (the answer rules of `_answer_json`); returns the JSON of
    each list item as it closes, found by the same `ItemsBuilder` that `create_iterable` uses."""

    def __init__(self) -> None:
        self.parser = answer_parser(trailing_text=True)
        self.items: ItemsBuilder | None = None

    def feed(self, text: str) -> list[str]:
        events = self.parser.feed(text)
        if self.items is None:
            # The list is the answer itself or its `tasks` member: known when it opens.
            for i, event in enumerate(events):
                if isinstance(event, StartArray) and event.path in ((), ("tasks",)):
                    self.items = ItemsBuilder(self.parser, event.path, json.dumps)
                    events = events[i + 1 :]
                    break
            else:
                return []
        return list(self.items.feed(events))


def _task_name(subtask_class: Any) -> str:
    if typing.get_origin(subtask_class) in _UNIONS:
        return "Or".join(getattr(m, "__name__", str(m)) for m in typing.get_args(subtask_class))
    return getattr(subtask_class, "__name__", None) or str(subtask_class)


def IterableModel(  # instructor's name: a function that builds a class
    subtask_class: Any,
    name: str | None = None,
    description: str | None = None,
) -> type[BaseModel]:
    """The model `Iterable<Name>` with one field, `tasks: list[subtask_class]`, for several objects.

    `name` replaces the task name (`IterableModel(User, name="People")` is `IterablePeople`),
    `description` the docstring sent as the tool's description (default: "Correct segmentation of
    `User` tasks"). A union (`A | B`) is named after its members: `IterableAOrB`.
    """
    task_name = name if name is not None else _task_name(subtask_class)
    model = create_model(
        f"Iterable{task_name}",
        __base__=typing.cast(tuple[type[BaseModel], ...], (BaseModel, IterableBase)),
        __doc__=description if description is not None else f"Correct segmentation of `{task_name}` tasks",
        tasks=(
            list[subtask_class],
            Field(
                default_factory=list,
                repr=False,
                description=f"Correctly segmented list of `{task_name}` tasks",
            ),
        ),
    )
    model.task_type = subtask_class  # type: ignore[attr-defined]
    return model
