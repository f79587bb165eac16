"""What the batch tests share: the response model whose validator rejects negative answers (the rows a
re-ask has something to fix in), and the emulator on a manual clock whose batches take ten minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, field_validator

from instructor_az.emulator import Emulator, ManualClock


class Doc(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("n must be 0 or more")
        return value


def batch_emulator(clock: ManualClock, answer: Callable[[Any], Any]) -> Emulator:
    """A scripted emulator answering every request with `answer`, its batches running 600 s of `clock`."""
    emulator = Emulator(backend="scripted", api_keys=["test-key"], clock=clock)
    emulator.scripted.on(lambda request: True, answer)
    emulator.batches.processing_seconds = 600
    return emulator
