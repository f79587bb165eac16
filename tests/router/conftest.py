"""Emulated regions: one emulator instance per region, each with its own faults and quotas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instructor_az.emulator import Emulator


@pytest.fixture
def regions() -> Iterator[tuple[Emulator, Emulator, Emulator]]:
    made = (Emulator(region="East US"), Emulator(region="West US"), Emulator(region="OpenAI"))
    yield made
    for emulator in made:
        emulator.close()
