"""Workload identity against the emulator: it plays both the Kubernetes service-account issuer (it signs
the token file) and Entra ID (it exchanges that federated token for an access token), driven by the real
WorkloadIdentityCredential, sync and async, from arguments and from the environment AKS sets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import WorkloadIdentityCredential, get_bearer_token_provider
from azure.identity.aio import WorkloadIdentityCredential as AsyncWorkloadIdentityCredential
from identity_kit import COGNITIVE_SCOPE, USER, Served, clean_azure_env, serve_emulator

from instructor_az.emulator import KUBERNETES_ISSUER, App, FederatedCredential

SUBJECT = "system:serviceaccount:default:workload-identity-sa"


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch)


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_emulator()


@pytest.fixture
def app(served: Served) -> App:
    return served.identity.add_app(federated_subject=SUBJECT)


def get_token(served: Served, flavour: str, app: App, token_file: Path) -> Any:
    kwargs = {"tenant_id": app.tenant_id, "client_id": app.client_id, "token_file_path": str(token_file)}
    if flavour == "sync":
        with WorkloadIdentityCredential(**kwargs, **served.aad_kwargs()) as credential:
            return credential.get_token(COGNITIVE_SCOPE)

    async def run() -> Any:
        async with AsyncWorkloadIdentityCredential(**kwargs, **served.aad_kwargs()) as credential:
            return await credential.get_token(COGNITIVE_SCOPE)

    return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_token_file_is_a_kubernetes_service_account_token(served: Served, tmp_path: Path) -> None:
    path = served.identity.write_federated_token(
        tmp_path / "token", namespace="apps", service_account="extractor"
    )
    claims = jwt.decode(path.read_text(), options={"verify_signature": False})
    assert claims["iss"] == KUBERNETES_ISSUER
    assert claims["sub"] == "system:serviceaccount:apps:extractor"
    assert claims["aud"] == ["api://AzureADTokenExchange"]
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "extractor"
    assert FederatedCredential.kubernetes("apps", "extractor").subject == claims["sub"]


def test_workload_identity_exchanges_the_federated_token(
    served: Served, app: App, flavour: str, tmp_path: Path
) -> None:
    token_file = served.identity.write_federated_token(tmp_path / "azure-identity-token")
    token = get_token(served, flavour, app, token_file)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == app.client_id
    assert claims["appidacr"] == "2"
    assert served.identity.issued[app.client_id] == 1
    recorded = served.identity.requests[-1]
    assert recorded.auth == "client_assertion"
    assert recorded.body["client_assertion"] == "<redacted>"
    assert token_file.read_text() not in repr(list(served.identity.requests))


def test_workload_identity_from_the_environment_aks_sets(
    served: Served, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = served.identity.write_federated_token(tmp_path / "azure-identity-token")
    for name, value in served.identity.workload_identity_env(app, token_file).items():
        monkeypatch.setenv(name, value)
    credential = (
        WorkloadIdentityCredential()
    )  # AZURE_TENANT_ID, _CLIENT_ID, _FEDERATED_TOKEN_FILE, _AUTHORITY_HOST
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("from a pod")
    with credential, served.client(azure_ad_token_provider=provider) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "from a pod"  # REQUESTS_CA_BUNDLE made the CA trusted


def test_an_expired_federated_token_is_aadsts700024(
    served: Served, app: App, flavour: str, tmp_path: Path
) -> None:
    token_file = served.identity.write_federated_token(tmp_path / "token", lifetime=-60)
    with pytest.raises(ClientAuthenticationError, match=r"AADSTS700024: Client assertion is not within"):
        get_token(served, flavour, app, token_file)


def test_a_service_account_without_a_federated_credential_is_aadsts70021(
    served: Served, app: App, flavour: str, tmp_path: Path
) -> None:
    token_file = served.identity.write_federated_token(tmp_path / "token", service_account="someone-else")
    with pytest.raises(ClientAuthenticationError) as caught:
        get_token(served, flavour, app, token_file)
    message = str(caught.value)
    assert "AADSTS70021: No matching federated identity record found for presented assertion." in message
    assert f"Assertion Issuer: '{KUBERNETES_ISSUER}'" in message
    assert "Assertion Subject: 'system:serviceaccount:default:someone-else'" in message


def test_a_token_for_another_audience_is_aadsts70021(served: Served, app: App, tmp_path: Path) -> None:
    token_file = served.identity.write_federated_token(tmp_path / "token", audience="api://something-else")
    with pytest.raises(ClientAuthenticationError, match="Assertion Audience: 'api://something-else'"):
        get_token(served, "sync", app, token_file)


def test_a_token_from_an_unknown_issuer_is_aadsts700211(served: Served, app: App, tmp_path: Path) -> None:
    issuer = "https://oidc.example/cluster"
    token_file = served.identity.write_federated_token(tmp_path / "token", issuer=issuer)
    with pytest.raises(ClientAuthenticationError) as caught:
        get_token(served, "async", app, token_file)
    assert (
        f"AADSTS700211: No matching federated identity record found for presented assertion issuer '{issuer}'"
        in (str(caught.value))
    )


def test_a_token_the_cluster_did_not_sign_fails_signature_validation(
    served: Served, app: App, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    genuine = jwt.decode(
        served.identity.write_federated_token(tmp_path / "genuine").read_text(),
        options={"verify_signature": False},
    )
    forged = jwt.encode(
        genuine, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"
    )
    token_file = tmp_path / "forged"
    token_file.write_text(forged)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027: Client assertion failed signature"):
        get_token(served, "sync", app, token_file)
