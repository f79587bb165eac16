"""The same extraction in every mode, and the kinds of response_model, against the emulator.

Run: python cookbook/modes_and_models.py
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Union

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

import instructor_az
from instructor_az import Maybe, Mode
from instructor_az.emulator import Emulator


class User(BaseModel):
    """A person the text mentions.

    Args:
        name: The person's first name.
        age: Age in years.
    """

    name: str
    age: int = Field(ge=0, le=130)
    hobby: str | None = None  # optional: nullable in the strict modes


class Weather(BaseModel):
    city: str


class Priority(Enum):
    LOW = "low"
    HIGH = "high"


class Ticket(TypedDict):
    title: str
    priority: Literal["low", "high"]


@dataclass
class Point:
    x: int
    y: int


def main() -> None:
    emulator = Emulator(backend="schema")
    messages = [{"role": "user", "content": "Our colleague John is 30 years old."}]

    print("one model, every mode:")
    for mode in (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.JSON, Mode.JSON_SCHEMA, Mode.MD_JSON):
        client = instructor_az.from_openai(emulator.client(), mode=mode)
        user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=messages)
        print(f"  {mode.value:<13} {user!r}")

    print("\nresponse model kinds (Mode.TOOLS):")
    client = instructor_az.from_openai(emulator.client())
    kinds: list[object] = [
        int,
        list[int],
        Literal["yes", "no"],
        Priority,
        Union[int, str],
        Ticket,
        Point,
        Maybe[User],
        Iterable[User],
        {"title": "Age", "type": "object", "properties": {"years": {"type": "integer"}}, "required": ["years"]},
    ]
    for kind in kinds:
        value = client.chat.completions.create(model="gpt-4o", response_model=kind, messages=messages)
        print(f"  {getattr(kind, '__name__', str(kind))[:40]:<42} {value!r}")

    print("\nparallel tools (Iterable[Union[User, Weather]]):")
    parallel = instructor_az.from_openai(emulator.client(), mode="parallel_tools")
    for item in parallel.chat.completions.create(
        model="gpt-4o", response_model=Iterable[User | Weather], messages=messages
    ):
        print(f"  {item!r}")


if __name__ == "__main__":
    main()
