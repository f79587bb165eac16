"""pytest fixtures for testing your extraction code offline against the Azure OpenAI emulator.

Installed as a pytest plugin (entry point `pytest11`), so the fixtures are available in any project
that has `instructor-az[emulator]` installed:

- `azure_emulator`: a fresh `Emulator` with a scripted backend (queue answers with
  `azure_emulator.scripted.push(...)`) and the default deployments.
- `azure_openai_client` / `async_azure_openai_client`: `AzureOpenAI` / `AsyncAzureOpenAI` bound to it
  in-process (no sockets).
- `azure_emulator_endpoint`: the same emulator served on loopback; yields its `http://127.0.0.1:PORT`.
- `local_azure_emulator` / `local_azure_openai_client`: an emulator answered by the real local model
  (the `local` extra; the test is skipped, saying what to install, without it). The model loads once
  per test session.

The plugin imports nothing heavy at collection time: the emulator is loaded when a fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

_async_fixture: Any
try:  # async fixtures work under pytest-asyncio's strict mode too
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover
    _async_fixture = pytest.fixture

if TYPE_CHECKING:
    from openai import AsyncAzureOpenAI, AzureOpenAI

    from instructor_az.emulator import Emulator, LocalBackend

TEST_API_KEY = "test-key"


@pytest.fixture
def azure_emulator() -> Iterator[Emulator]:
    """A scripted Azure OpenAI emulator; accepts the API key `test-key`."""
    try:
        from instructor_az.emulator import Emulator
    except ImportError as exc:
        pytest.fail(str(exc), pytrace=False)
    emulator = Emulator(backend="scripted", api_keys=[TEST_API_KEY])
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def azure_openai_client(azure_emulator: Emulator) -> Iterator[AzureOpenAI]:
    """`AzureOpenAI` bound to `azure_emulator` in-process."""
    client = azure_emulator.client()
    try:
        yield client
    finally:
        client.close()


@_async_fixture  # type: ignore[untyped-decorator,unused-ignore]
async def async_azure_openai_client(azure_emulator: Emulator) -> AsyncIterator[AsyncAzureOpenAI]:
    """`AsyncAzureOpenAI` bound to `azure_emulator` in-process."""
    client = azure_emulator.async_client()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def azure_emulator_endpoint(azure_emulator: Emulator) -> Iterator[str]:
    """`azure_emulator` served by uvicorn on 127.0.0.1 (a free port); yields the endpoint URL."""
    with azure_emulator.serve() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def local_model_backend() -> Iterator[LocalBackend]:
    """The local model (Gemma 3 270M on llama.cpp), loaded once per test session."""
    from instructor_az.emulator import LocalBackend, LocalModelUnavailableError

    try:
        backend = LocalBackend()
    except LocalModelUnavailableError as exc:
        pytest.skip(str(exc))
    backend.load()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def local_azure_emulator(local_model_backend: LocalBackend) -> Iterator[Emulator]:
    """An emulator answered by the real local model; accepts the API key `test-key`."""
    from instructor_az.emulator import Emulator

    emulator = Emulator(backend=local_model_backend, api_keys=[TEST_API_KEY])
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def local_azure_openai_client(local_azure_emulator: Emulator) -> Iterator[AzureOpenAI]:
    """`AzureOpenAI` bound in-process to `local_azure_emulator`."""
    client = local_azure_emulator.client()
    try:
        yield client
    finally:
        client.close()
