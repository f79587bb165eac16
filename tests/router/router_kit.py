"""Shared by the router tests: the model, the messages, counting requests, a hand-moved clock."""

from __future__ import annotations

from pydantic import BaseModel

from instructor_az.emulator import Emulator

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int


def chat_requests(emulator: Emulator) -> int:
    """Chat requests a region received (whatever their status)."""
    return sum(1 for r in emulator.requests if r.path.endswith("/chat/completions"))


class Clock:
    """A time source the router reads (`Router(clock=...)`): cooldowns measured exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
