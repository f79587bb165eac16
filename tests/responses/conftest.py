"""A scripted emulator per test for the Responses API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instructor_az.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    made = Emulator(backend="scripted")
    yield made
    made.close()
