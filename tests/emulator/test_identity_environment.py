"""EnvironmentCredential and DefaultAzureCredential pick the emulator's identities up from the variables
Azure's own SDKs read (set with monkeypatch.setenv), sync and async, and the token reaches a completion.

What the environment cannot say, the constructor does: `disable_instance_discovery=True` for the sync
credentials built on MSAL (a custom authority host is unknown to login.microsoftonline.com, which MSAL would
ask), and `connection_verify=` for the async ones (aiohttp builds its default TLS context when it is
imported, so `SSL_CERT_FILE` set later does not reach it; `REQUESTS_CA_BUNDLE` does reach the sync ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.identity import DefaultAzureCredential, EnvironmentCredential, get_bearer_token_provider
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from azure.identity.aio import EnvironmentCredential as AsyncEnvironmentCredential
from azure.identity.aio import get_bearer_token_provider as async_bearer_token_provider
from identity_kit import COGNITIVE_SCOPE, NO_DEV_TOOLS, USER, Served, clean_azure_env, serve_emulator

SECRET = "environment-secret-0123456789"


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch)


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_emulator()


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def sync_completion(served: Served, credential: Any) -> str | None:
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("from the environment")
    with credential, served.client(azure_ad_token_provider=provider) as client:
        return client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content


async def async_completion(served: Served, credential: Any) -> str | None:
    provider = async_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("from the environment")
    client = served.async_client(azure_ad_token_provider=provider)
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        await client.close()
        await credential.close()
    return completion.choices[0].message.content


@pytest.fixture(params=["secret", "certificate"])
def service_principal(request: pytest.FixtureRequest, served: Served, monkeypatch: pytest.MonkeyPatch) -> str:
    """AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH."""
    if request.param == "secret":
        app = served.identity.add_app(secret=SECRET)
        env = served.identity.service_principal_env(app)
        assert env["AZURE_CLIENT_SECRET"] == SECRET
    else:
        cert = served.identity.new_certificate()
        app = served.identity.add_app(certificate=cert)
        env = served.identity.service_principal_env(app, certificate=cert)
        assert "AZURE_CLIENT_SECRET" not in env
    set_env(monkeypatch, env)
    return app.client_id


def test_environment_credential(served: Served, service_principal: str) -> None:
    assert (
        sync_completion(served, EnvironmentCredential(disable_instance_discovery=True))
        == "from the environment"
    )
    assert served.identity.issued[service_principal] == 1


async def test_async_environment_credential(served: Served, service_principal: str) -> None:
    credential = AsyncEnvironmentCredential(connection_verify=served.identity.ca_path)
    assert await async_completion(served, credential) == "from the environment"
    assert served.identity.issued[service_principal] == 1


def test_default_azure_credential_finds_the_service_principal(served: Served, service_principal: str) -> None:
    credential = DefaultAzureCredential(
        disable_instance_discovery=True, exclude_managed_identity_credential=True, **NO_DEV_TOOLS
    )
    assert sync_completion(served, credential) == "from the environment"
    assert served.identity.issued[service_principal] == 1


async def test_async_default_azure_credential_finds_the_service_principal(
    served: Served, service_principal: str
) -> None:
    credential = AsyncDefaultAzureCredential(
        connection_verify=served.identity.ca_path, exclude_managed_identity_credential=True, **NO_DEV_TOOLS
    )
    assert await async_completion(served, credential) == "from the environment"
    assert served.identity.issued[service_principal] == 1


@pytest.fixture
def workload(served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    app = served.identity.add_app(federated_subject="system:serviceaccount:default:workload-identity-sa")
    token_file = served.identity.write_federated_token(tmp_path / "azure-identity-token")
    set_env(monkeypatch, served.identity.workload_identity_env(app, token_file))
    return app.client_id


def test_default_azure_credential_finds_workload_identity(served: Served, workload: str) -> None:
    credential = DefaultAzureCredential(exclude_managed_identity_credential=True, **NO_DEV_TOOLS)
    assert sync_completion(served, credential) == "from the environment"
    assert served.identity.issued[workload] == 1


async def test_async_default_azure_credential_finds_workload_identity(served: Served, workload: str) -> None:
    credential = AsyncDefaultAzureCredential(
        connection_verify=served.identity.ca_path, exclude_managed_identity_credential=True, **NO_DEV_TOOLS
    )
    assert await async_completion(served, credential) == "from the environment"
    assert served.identity.issued[workload] == 1


@pytest.fixture(params=["system", "user"])
def managed(request: pytest.FixtureRequest, served: Served, monkeypatch: pytest.MonkeyPatch) -> str:
    set_env(monkeypatch, served.identity.managed_identity_env())
    if request.param == "system":
        return served.identity.add_system_assigned_identity().client_id
    identity = served.identity.add_user_assigned_identity()
    monkeypatch.setenv("AZURE_CLIENT_ID", identity.client_id)  # DefaultAzureCredential's user-assigned id
    return identity.client_id


def test_default_azure_credential_finds_the_managed_identity(served: Served, managed: str) -> None:
    credential = DefaultAzureCredential(**NO_DEV_TOOLS)
    assert sync_completion(served, credential) == "from the environment"
    assert served.identity.issued[managed] == 1


async def test_async_default_azure_credential_finds_the_managed_identity(
    served: Served, managed: str
) -> None:
    credential = AsyncDefaultAzureCredential(connection_verify=served.identity.ca_path, **NO_DEV_TOOLS)
    assert await async_completion(served, credential) == "from the environment"
    assert served.identity.issued[managed] == 1
