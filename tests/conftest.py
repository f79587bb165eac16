"""Shared fixtures for the emulator's tests: a scripted emulator and real openai SDK clients bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator with a scripted backend and the default deployments (key `emulator-key`)."""
    emulator = Emulator(backend="scripted")
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[AzureOpenAI]:
    """`AzureOpenAI` bound to `emulator` in-process, with the SDK's retries off."""
    client = emulator.client(max_retries=0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def async_client(emulator: Emulator) -> AsyncIterator[AsyncAzureOpenAI]:
    """`AsyncAzureOpenAI` bound to `emulator` in-process, with the SDK's retries off."""
    client = emulator.async_client(max_retries=0)
    try:
        yield client
    finally:
        await client.close()
