"""Closing a client from `from_azure(auth=...)` closes the azure-identity credential it built (an
`azure.identity.aio` credential holds its own HTTP session), with `close()` or as a context manager,
sync and async; a credential the user passed in stays open for its owner."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from identity_kit import Served, clean_azure_env, serve_emulator
from pydantic import BaseModel

import instructor_az

SECRET = "close-test-secret-41c7"
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
OTHER_SCOPE = "https://ai.azure.com/.default"  # not cached by the client's provider

pytestmark = pytest.mark.loopback


class User(BaseModel):
    name: str
    age: int


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch, openai=True)


@pytest.fixture
def served() -> Iterator[Served]:
    for item in serve_emulator():
        item.emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
        yield item


def _service_principal(served: Served, asynchronous: bool) -> dict[str, Any]:
    app = served.identity.add_app(secret=SECRET)
    options: dict[str, Any] = {"connection_verify": served.identity.ca_path}
    if not asynchronous:
        options["disable_instance_discovery"] = True
    return {
        "auth": "service_principal",
        "tenant_id": app.tenant_id,
        "client_id": app.client_id,
        "client_secret": SECRET,
        "authority_host": served.identity.authority_host,
        "credential_options": options,
    }


def _build(served: Served, asynchronous: bool, **kwargs: Any) -> Any:
    context = served.identity.ca.ssl_context()
    http = httpx2.AsyncClient(verify=context) if asynchronous else httpx2.Client(verify=context)
    return instructor_az.from_azure(
        azure_endpoint=served.endpoint, use_async=asynchronous, http_client=http, max_retries=0, **kwargs
    )


def _unclosed_warnings(run: Any) -> tuple[Any, list[str]]:
    """What `run()` returns, and the ResourceWarnings raised by the time it and its garbage are gone."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = run()
        gc.collect()
    return result, [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_async_with_closes_the_aio_credential_it_built(served: Served) -> None:
    async def run() -> tuple[User, bool]:
        async with _build(served, True, **_service_principal(served, True)) as client:
            user = await client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
        return user, client.client.is_closed()

    (user, sdk_closed), unclosed = _unclosed_warnings(lambda: asyncio.run(run()))
    assert user == User(name="John", age=30)
    assert sdk_closed
    assert unclosed == []


def test_an_async_client_left_open_leaks_the_credentials_session(served: Served) -> None:
    # What close() is for: without it the aio credential's HTTP session is never closed.
    async def run() -> User:
        client = _build(served, True, **_service_principal(served, True))
        user: User = await client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
        await client.client.close()  # the SDK client only, as before close() closed the credential
        return user

    user, unclosed = _unclosed_warnings(lambda: asyncio.run(run()))
    assert user.age == 30
    assert any("nclosed" in message for message in unclosed), unclosed


def test_await_close_closes_the_credential_and_a_second_close_is_harmless(served: Served) -> None:
    async def run() -> None:
        client = _build(served, True, **_service_principal(served, True))
        await client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
        await client.close()
        await client.close()

    _, unclosed = _unclosed_warnings(lambda: asyncio.run(run()))
    assert unclosed == []


def test_sync_with_closes_the_client(served: Served) -> None:
    with _build(served, False, **_service_principal(served, False)) as client:
        assert client.create(model="gpt-4o", response_model=User, messages=MESSAGES).age == 30
        assert client._owned_credential is not None  # the ClientSecretCredential it built
    assert client.client.is_closed()
    assert client._owned_credential is None  # closed and let go


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_credential_passed_in_stays_open_for_its_owner(served: Served, asynchronous: bool) -> None:
    from azure.identity import ClientSecretCredential
    from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

    app = served.identity.add_app(secret=SECRET)
    options: dict[str, Any] = {
        "authority": served.identity.authority_host,
        "connection_verify": served.identity.ca_path,
    }
    if asynchronous:

        async def run() -> str:
            credential = AsyncClientSecretCredential(app.tenant_id, app.client_id, SECRET, **options)
            async with _build(served, True, credential=credential) as client:
                await client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
            token = await credential.get_token(OTHER_SCOPE)  # a new sign-in
            await credential.close()
            return token.token

        token = asyncio.run(run())
    else:
        credential = ClientSecretCredential(
            app.tenant_id, app.client_id, SECRET, disable_instance_discovery=True, **options
        )
        with _build(served, False, credential=credential) as client:
            client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
        token = credential.get_token(OTHER_SCOPE).token
        credential.close()
    assert token
    assert served.identity.issued[app.client_id] == 2  # the client's token, then the owner's own
