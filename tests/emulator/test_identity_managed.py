"""Managed identity in the App Service / Container Apps form: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`,
answered by the emulator for its system-assigned and user-assigned identities, driven by the real
ManagedIdentityCredential (sync: MSAL's managed-identity client; async: azure-identity's own)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential, get_bearer_token_provider
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential
from identity_kit import COGNITIVE_SCOPE, USER, Served, clean_azure_env, serve_emulator

from instructor_az.emulator import Emulator


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    for setup in serve_emulator():
        for name, value in setup.identity.managed_identity_env().items():
            monkeypatch.setenv(name, value)
        yield setup


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def get_token(served: Served, flavour: str, **kwargs: Any) -> Any:
    kwargs["connection_verify"] = served.identity.ca_path
    if flavour == "sync":
        with ManagedIdentityCredential(**kwargs) as credential:
            return credential.get_token(COGNITIVE_SCOPE)

    async def run() -> Any:
        async with AsyncManagedIdentityCredential(**kwargs) as credential:
            return await credential.get_token(COGNITIVE_SCOPE)

    return asyncio.run(run())


def claims_of(token: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token.token, options={"verify_signature": False})
    return decoded


def test_system_assigned_identity(served: Served, flavour: str) -> None:
    system = served.identity.add_system_assigned_identity()
    token = get_token(served, flavour)
    claims = claims_of(token)
    assert claims["aud"] == "https://cognitiveservices.azure.com"
    assert claims["appid"] == system.client_id
    assert claims["oid"] == system.principal_id
    assert claims["xms_mirid"] == system.resource_id
    assert served.identity.issued[system.client_id] == 1
    recorded = served.identity.requests[-1]
    assert recorded.path == "/msi/token"
    assert recorded.query["api-version"] == "2019-08-01"
    assert recorded.query["resource"] == "https://cognitiveservices.azure.com"
    assert recorded.auth == "managed_identity"
    assert recorded.headers["x-identity-header"] == "<redacted>"
    assert served.identity.identity_header not in repr(recorded)


@pytest.mark.parametrize("selector", ["client_id", "object_id"])
def test_user_assigned_identity(served: Served, flavour: str, selector: str) -> None:
    served.identity.add_system_assigned_identity()
    chosen = served.identity.add_user_assigned_identity(name="extractor")
    served.identity.add_user_assigned_identity(name="another")
    kwargs: dict[str, Any] = {"client_id": chosen.client_id}
    if selector == "object_id":
        kwargs = {"identity_config": {"object_id": chosen.principal_id}}
    token = get_token(served, flavour, **kwargs)
    assert claims_of(token)["appid"] == chosen.client_id
    assert served.identity.issued[chosen.client_id] == 1


def test_user_assigned_identity_by_resource_id(served: Served) -> None:
    chosen = served.identity.add_user_assigned_identity(name="by-resource-id")
    token = get_token(served, "sync", identity_config={"resource_id": chosen.resource_id})
    assert (
        served.identity.requests[-1].query["mi_res_id"] == chosen.resource_id
    )  # MSAL's App Service spelling
    assert claims_of(token)["appid"] == chosen.client_id


def test_the_token_reaches_a_chat_completion(served: Served) -> None:
    identity = served.identity.add_user_assigned_identity()
    credential = ManagedIdentityCredential(
        client_id=identity.client_id, connection_verify=served.identity.ca_path
    )
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("managed")
    with credential, served.client(azure_ad_token_provider=provider) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "managed"


def test_the_answer_is_app_services_shape(served: Served) -> None:
    system = served.identity.add_system_assigned_identity()
    with httpx2.Client(verify=served.identity.ca.ssl_context()) as client:
        answer = client.get(
            served.identity.managed_identity_endpoint,
            params={"resource": "https://cognitiveservices.azure.com", "api-version": "2019-08-01"},
            headers={"X-IDENTITY-HEADER": served.identity.identity_header},
        )
    body = answer.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str)  # a string of epoch seconds, as App Service sends it
    assert abs(int(body["expires_on"]) - (time.time() + served.identity.token_lifetime)) < 5
    assert body["resource"] == "https://cognitiveservices.azure.com"
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == system.client_id


def test_an_identity_the_resource_does_not_have(served: Served, flavour: str) -> None:
    served.identity.add_system_assigned_identity()
    stranger = "33333333-4444-5555-6666-777777777777"
    # sync: MSAL turns the 400 into an error result, azure-identity into CredentialUnavailableError
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)) as caught:
        get_token(served, flavour, client_id=stranger)
    assert (
        "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId"
        in (str(caught.value))
    )
    assert served.identity.requests[-1].status == 400


def test_no_system_assigned_identity(served: Served) -> None:
    served.identity.add_user_assigned_identity()
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError), match="No User Assigned"):
        get_token(served, "async")


def test_a_wrong_identity_header_is_refused(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    served.identity.add_system_assigned_identity()
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)):
        get_token(served, "sync")
    assert served.identity.requests[-1].status == 401
    assert served.identity.issued.total() == 0


def test_over_plain_http_as_app_service_serves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """App Service's endpoint is http on localhost: no TLS needed for managed identity."""
    emulator = Emulator(backend="scripted")
    try:
        system = emulator.identity.add_system_assigned_identity()
        with emulator.serve() as endpoint:
            env = emulator.identity.managed_identity_env()
            assert env["IDENTITY_ENDPOINT"] == f"{endpoint}/msi/token"
            assert "REQUESTS_CA_BUNDLE" not in env
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            with ManagedIdentityCredential() as credential:
                token = credential.get_token(COGNITIVE_SCOPE)
        assert claims_of(token)["appid"] == system.client_id
    finally:
        emulator.close()
