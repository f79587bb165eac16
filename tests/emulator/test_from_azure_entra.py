"""`from_azure(auth=...)` with the real azure-identity credentials it builds, against the emulator as Entra
ID and managed-identity endpoint (TLS on loopback): service principal (secret, certificate), managed
identity (system and user-assigned), workload identity, sync and async, from arguments and from Azure's
variables; a token that expires mid-pipeline is refreshed; a refused sign-in is a typed error that holds
no secret; the v1 API with Entra tokens; closing the client closes the credential it built."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from identity_kit import Served, clean_azure_env, serve_emulator
from pydantic import BaseModel

import instructor_az
from instructor_az import AzureAuthError

SECRET = "from-azure-secret-6f2b9c"
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]

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


def _options(served: Served, *, asynchronous: bool, msal: bool = True) -> dict[str, Any]:
    """What a credential needs to trust the emulator's test CA (and, for MSAL, not to ask
    login.microsoftonline.com about a host it does not know): test plumbing, not sign-in settings."""
    options: dict[str, Any] = {"connection_verify": served.identity.ca_path}
    if msal and not asynchronous:
        options["disable_instance_discovery"] = True
    return options


def _http(served: Served, *, asynchronous: bool) -> Any:
    context = served.identity.ca.ssl_context()
    return httpx2.AsyncClient(verify=context) if asynchronous else httpx2.Client(verify=context)


def _build(served: Served, asynchronous: bool, **kwargs: Any) -> Any:
    return instructor_az.from_azure(
        azure_endpoint=served.endpoint,
        use_async=asynchronous,
        http_client=_http(served, asynchronous=asynchronous),
        max_retries=0,
        **kwargs,
    )


def _extract(client: Any, asynchronous: bool) -> User:
    if asynchronous:
        return asyncio.run(client.create(model="gpt-4o", response_model=User, messages=MESSAGES))  # type: ignore[no-any-return]
    return client.create(model="gpt-4o", response_model=User, messages=MESSAGES)  # type: ignore[no-any-return]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_service_principal_with_a_secret_from_arguments(served: Served, asynchronous: bool) -> None:
    app = served.identity.add_app(secret=SECRET)
    client = _build(
        served, asynchronous, auth="service_principal", tenant_id=app.tenant_id, client_id=app.client_id,
        client_secret=SECRET, authority_host=served.identity.authority_host,
        credential_options=_options(served, asynchronous=asynchronous),
    )  # fmt: skip
    assert _extract(client, asynchronous) == User(name="John", age=30)
    assert served.identity.issued[app.client_id] == 1
    assert served.emulator.requests[-1].auth == "bearer"
    assert SECRET not in repr(client)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_service_principal_with_a_certificate_from_the_environment(
    served: Served, asynchronous: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    certificate = served.identity.new_certificate(tmp_path / "app.pem")
    app = served.identity.add_app(certificate=certificate)
    for name, value in served.identity.service_principal_env(app, certificate=certificate).items():
        monkeypatch.setenv(name, value)
    client = _build(
        served,
        asynchronous,
        auth="service_principal",
        credential_options=_options(served, asynchronous=asynchronous),
    )
    assert _extract(client, asynchronous).age == 30
    assert served.identity.issued[app.client_id] == 1


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("assigned", ["system", "user"])
def test_managed_identity(
    served: Served, asynchronous: bool, assigned: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if assigned == "system":
        identity = served.identity.add_system_assigned_identity()
        extra: dict[str, Any] = {}
    else:
        served.identity.add_system_assigned_identity()  # present, but not the one asked for
        identity = served.identity.add_user_assigned_identity()
        extra = {"client_id": identity.client_id}
    for name, value in served.identity.managed_identity_env().items():
        monkeypatch.setenv(name, value)
    client = _build(
        served, asynchronous, auth="managed_identity",
        credential_options={"connection_verify": served.identity.ca_path}, **extra,
    )  # fmt: skip
    assert _extract(client, asynchronous).name == "John"
    assert served.identity.issued[identity.client_id] == 1


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_workload_identity_from_the_pods_environment(
    served: Served, asynchronous: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = served.identity.add_app(federated_subject="system:serviceaccount:default:workload-identity-sa")
    token_file = served.identity.write_federated_token(tmp_path / "token")
    for name, value in served.identity.workload_identity_env(app, token_file).items():
        monkeypatch.setenv(name, value)
    client = _build(
        served, asynchronous, auth="workload_identity",
        credential_options=_options(served, asynchronous=asynchronous, msal=False),
    )  # fmt: skip
    assert _extract(client, asynchronous).age == 30
    assert served.identity.issued[app.client_id] == 1


def test_a_token_expiring_mid_pipeline_is_refreshed_and_no_row_fails(served: Served) -> None:
    served.identity.token_lifetime = 2
    app = served.identity.add_app(secret=SECRET)
    client = _build(
        served, False, auth="service_principal", tenant_id=app.tenant_id, client_id=app.client_id,
        client_secret=SECRET, authority_host=served.identity.authority_host,
        credential_options=_options(served, asynchronous=False),
    )  # fmt: skip
    first = list(instructor_az.extract_many(client, ["a", "b"], response_model=User, model="gpt-4o"))
    issued = served.identity.issued[app.client_id]
    time.sleep(2.2)  # every token issued so far has expired
    then = list(instructor_az.extract_many(client, ["c", "d", "e"], response_model=User, model="gpt-4o"))
    assert all(o.ok for o in first + then)
    assert served.identity.issued[app.client_id] > issued
    assert {r.status for r in served.emulator.requests} == {200}


def test_a_refused_sign_in_is_typed_and_holds_no_secret(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    app = served.identity.add_app(secret=SECRET)
    wrong = "not-the-secret-" + SECRET[::-1]
    client = _build(
        served, False, auth="service_principal", tenant_id=app.tenant_id, client_id=app.client_id,
        client_secret=wrong, authority_host=served.identity.authority_host,
        credential_options=_options(served, asynchronous=False),
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AzureAuthError) as caught:
        _extract(client, False)
    message = str(caught.value)
    assert caught.value.method == "service_principal"
    assert "AADSTS7000215" in message  # Entra's invalid-secret code, as the first line says
    assert "AZURE_CLIENT_SECRET" in message  # what to check
    for secret in (wrong, SECRET):
        assert secret not in message
        assert secret not in caplog.text
    assert len(served.emulator.requests) == 0  # nothing reached Azure OpenAI without a token


def test_the_v1_api_with_a_managed_identity(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    identity = served.identity.add_system_assigned_identity()
    for name, value in served.identity.managed_identity_env().items():
        monkeypatch.setenv(name, value)
    client = _build(
        served, False, api_version="v1", auth="managed_identity",
        credential_options={"connection_verify": served.identity.ca_path},
    )  # fmt: skip
    assert _extract(client, False).age == 30
    assert served.emulator.requests[-1].path == "/openai/v1/chat/completions"
    assert served.identity.issued[identity.client_id] == 1


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_default_credential_from_the_environment(
    served: Served, asynchronous: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = served.identity.add_app(secret=SECRET)
    for name, value in served.identity.service_principal_env(app).items():
        monkeypatch.setenv(name, value)
    from identity_kit import NO_DEV_TOOLS

    client = _build(
        served, asynchronous, auth="default",
        credential_options={**NO_DEV_TOOLS, **_options(served, asynchronous=asynchronous)},
    )  # fmt: skip
    assert _extract(client, asynchronous).age == 30
    assert served.identity.issued[app.client_id] == 1


def test_a_token_for_the_wrong_audience_gets_azures_401_without_the_token(served: Served) -> None:
    import openai

    app = served.identity.add_app(secret=SECRET)
    client = _build(
        served, False, auth="service_principal", tenant_id=app.tenant_id, client_id=app.client_id,
        client_secret=SECRET, authority_host=served.identity.authority_host,
        scope="https://management.azure.com/.default",  # not Azure OpenAI's audience
        credential_options=_options(served, asynchronous=False),
    )  # fmt: skip
    with pytest.raises(openai.AuthenticationError) as caught:
        _extract(client, False)
    assert caught.value.status_code == 401
    assert served.identity.issued[app.client_id] == 1  # Entra issued it; Azure OpenAI refused it
    authorization = caught.value.request.headers.get("authorization", "")
    assert "eyJ" not in authorization  # the token in the error's request is redacted
    assert "eyJ" not in str(caught.value)


def test_the_ai_azure_scope_is_accepted_on_v1_only(served: Served) -> None:
    import openai

    app = served.identity.add_app(secret=SECRET)

    def build(api_version: str) -> Any:
        return _build(
            served, False, api_version=api_version, auth="service_principal", tenant_id=app.tenant_id,
            client_id=app.client_id, client_secret=SECRET, authority_host=served.identity.authority_host,
            scope="https://ai.azure.com/.default", credential_options=_options(served, asynchronous=False),
        )  # fmt: skip

    assert _extract(build("v1"), False).age == 30
    with pytest.raises(openai.AuthenticationError):
        _extract(build("2024-10-21"), False)


# --- closing: the credential from_azure built is closed with the client -------------------------------
# (an `azure.identity.aio` credential holds its own HTTP session); one passed in stays its owner's.

OTHER_SCOPE = "https://ai.azure.com/.default"  # not cached by the client's provider


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


def _unclosed_warnings(run: Any) -> tuple[Any, list[str]]:
    """What `run()` returns, and the ResourceWarnings raised by the time it and its garbage are gone."""
    with warnings.catch_warnings():  # what earlier tests left unclosed is not this run's
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
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
