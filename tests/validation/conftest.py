"""Fixtures for the validation suite: wrapped clients (sync or async) on the emulator, with their HTTP
responses tapped so tests can compare what the library reports with what the emulator actually sent."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from validation_kit import Wire

import instructor_az
from instructor_az import AsyncInstructor, Instructor, Mode
from instructor_az.emulator import Emulator


@pytest.fixture
def wire() -> Wire:
    return Wire()


Make = Callable[..., "Instructor | AsyncInstructor"]


@pytest.fixture(params=["sync", "async"])
async def make(request: pytest.FixtureRequest, azure_emulator: Emulator, wire: Wire) -> AsyncIterator[Make]:
    """`make(mode, **sdk_kwargs)`: a wrapped client on the emulator, sync or async per the parameter.

    The SDK's own retries are off unless `max_retries=` is given; responses are tapped into `wire`.
    """
    raws: list[Any] = []

    def build(mode: Mode | str = Mode.TOOLS, **sdk_kwargs: Any) -> Instructor | AsyncInstructor:
        if request.param == "sync":
            raw: Any = wire.sync_client(azure_emulator, **sdk_kwargs)
        else:
            raw = wire.async_client(azure_emulator, **sdk_kwargs)
        raws.append(raw)
        return instructor_az.from_openai(raw, mode=mode)

    yield build
    for raw in raws:
        closed = raw.close()
        if inspect.isawaitable(closed):
            await closed
