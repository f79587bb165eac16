"""The emulator as Entra ID for service principals: the real ClientSecretCredential and CertificateCredential
(sync ones on MSAL, async ones on azure-identity's own client) get tokens from its v2 token endpoint, the
data plane accepts them, and every refusal is Entra's own error body."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential, get_bearer_token_provider
from azure.identity.aio import CertificateCredential as AsyncCertificateCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from azure.identity.aio import get_bearer_token_provider as async_bearer_token_provider
from identity_kit import COGNITIVE_SCOPE, USER, Served, clean_azure_env, serve_emulator

SECRET = "emulator-client-secret-0123456789"


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch)


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_emulator()


def _token(flavour: str, make: Callable[[], Any]) -> Any:
    """Get a Cognitive Services token from a sync or async credential."""
    credential = make()
    if flavour == "sync":
        with credential:
            return credential.get_token(COGNITIVE_SCOPE)

    async def run() -> Any:
        async with credential:
            return await credential.get_token(COGNITIVE_SCOPE)

    import asyncio

    return asyncio.run(run())


def secret_credential(served: Served, flavour: str, secret: str = SECRET, **kwargs: Any) -> Callable[[], Any]:
    app = kwargs.pop("app", None) or next(iter(served.identity.apps.values()))
    tenant = kwargs.pop("tenant_id", app.tenant_id)
    client_id = kwargs.pop("client_id", app.client_id)
    if flavour == "sync":
        return lambda: ClientSecretCredential(tenant, client_id, secret, **served.msal_kwargs(), **kwargs)
    return lambda: AsyncClientSecretCredential(tenant, client_id, secret, **served.aad_kwargs(), **kwargs)


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- client secrets ---------------------------------------------------------------------------------


def test_client_secret_credential_token_reaches_a_chat_completion(served: Served) -> None:
    app = served.identity.add_app(secret=SECRET)
    credential = ClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.msal_kwargs())
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("one", "two")
    with credential, served.client(azure_ad_token_provider=provider) as client:
        first = client.chat.completions.create(model="gpt-4o", messages=USER)
        second = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert [first.choices[0].message.content, second.choices[0].message.content] == ["one", "two"]
    assert served.identity.issued[app.client_id] == 1  # an hour-long token is cached by the provider
    assert served.emulator.last_request.auth == "bearer"
    token_request = served.identity.requests[-1]
    assert token_request.path == f"/{app.tenant_id}/oauth2/v2.0/token"
    assert token_request.auth == "client_secret"
    assert token_request.body["client_secret"] == "<redacted>"
    assert token_request.body["grant_type"] == "client_credentials"
    assert token_request.body["scope"] == COGNITIVE_SCOPE


async def test_async_client_secret_credential_token_reaches_a_chat_completion(served: Served) -> None:
    app = served.identity.add_app(secret=SECRET)
    credential = AsyncClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.aad_kwargs())
    provider = async_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("async one", "async two")
    client = served.async_client(azure_ad_token_provider=provider)
    try:
        for expected in ("async one", "async two"):
            completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
            assert completion.choices[0].message.content == expected
    finally:
        await client.close()
        await credential.close()
    assert served.identity.issued[app.client_id] == 1


def test_token_claims_are_entras_v1_access_token_claims(served: Served, flavour: str) -> None:
    import jwt

    app = served.identity.add_app(secret=SECRET)
    token = _token(flavour, secret_credential(served, flavour))
    header = jwt.get_unverified_header(token.token)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert claims["aud"] == "https://cognitiveservices.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{app.tenant_id}/"
    assert claims["tid"] == app.tenant_id
    assert claims["appid"] == app.client_id
    assert claims["appidacr"] == "1"
    assert claims["oid"] == claims["sub"] == app.object_id
    assert claims["ver"] == "1.0"
    assert claims["exp"] - claims["iat"] == served.identity.token_lifetime
    assert abs(token.expires_on - (time.time() + served.identity.token_lifetime)) < 5


def test_wrong_secret_is_aadsts7000215_and_the_secret_is_nowhere(served: Served, flavour: str) -> None:
    app = served.identity.add_app(secret=SECRET)
    wrong = "not-the-secret-9876543210"
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, secret_credential(served, flavour, wrong))
    assert "AADSTS7000215: Invalid client secret provided" in str(caught.value)
    assert app.client_id in str(caught.value)
    for secret in (SECRET, wrong):
        assert secret not in str(caught.value)
        assert secret not in repr(served.identity.requests[-1])
    assert served.identity.requests[-1].status == 401
    assert served.identity.issued[app.client_id] == 0


def test_unknown_client_is_aadsts700016(served: Served, flavour: str) -> None:
    app = served.identity.add_app(secret=SECRET)
    stranger = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, secret_credential(served, flavour, app=app, client_id=stranger))
    assert f"AADSTS700016: Application with identifier '{stranger}' was not found" in str(caught.value)


def test_unknown_tenant_is_aadsts90002(served: Served, flavour: str) -> None:
    app = served.identity.add_app(secret=SECRET)
    stranger = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, secret_credential(served, flavour, app=app, tenant_id=stranger))
    expected = f"AADSTS90002: Tenant '{stranger}' not found"
    if flavour == "sync":
        # MSAL asks for the tenant's OIDC document first; Entra's answer is in the chain of causes.
        assert "Unable to get authority configuration" in str(caught.value)
        cause = caught.value.__cause__
        assert cause is not None
        assert expected in str(cause.__context__)
    else:  # azure-identity's own client posts to the token endpoint directly
        assert expected in str(caught.value)


def test_an_app_of_another_tenant_is_not_found_in_this_one(served: Served) -> None:
    other = served.identity.add_tenant(
        "22222222-3333-4444-5555-666666666666", domain="contoso.onmicrosoft.com"
    )
    app = served.identity.add_app(secret=SECRET, tenant_id=other)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        _token("sync", secret_credential(served, "sync", app=app, tenant_id=served.identity.tenant_id))
    # by its domain, the tenant is found and the app with it
    token = _token("async", secret_credential(served, "async", app=app, tenant_id="contoso.onmicrosoft.com"))
    assert token.token


# --- certificates -----------------------------------------------------------------------------------


def certificate_credential(served: Served, flavour: str, path: Path, **kwargs: Any) -> Callable[[], Any]:
    app = next(iter(served.identity.apps.values()))
    if flavour == "sync":
        return lambda: CertificateCredential(
            app.tenant_id, app.client_id, certificate_path=str(path), **served.msal_kwargs(), **kwargs
        )
    return lambda: AsyncCertificateCredential(
        app.tenant_id, app.client_id, certificate_path=str(path), **served.aad_kwargs(), **kwargs
    )


def test_certificate_credential_signs_an_assertion_the_emulator_verifies(
    served: Served, flavour: str
) -> None:
    cert = served.identity.new_certificate()
    app = served.identity.add_app(certificate=cert)
    token = _token(flavour, certificate_credential(served, flavour, cert.path))
    assert served.identity.issued[app.client_id] == 1
    recorded = served.identity.requests[-1]
    assert recorded.auth == "client_assertion"
    assert recorded.body["client_assertion"] == "<redacted>"
    assert recorded.body["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    served.emulator.scripted.push("with a certificate")
    with served.client(azure_ad_token=token.token) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content


def test_certificate_credential_sending_its_chain(served: Served) -> None:
    cert = served.identity.new_certificate()
    served.identity.add_app(certificate=cert)
    assert _token(
        "sync", certificate_credential(served, "sync", cert.path, send_certificate_chain=True)
    ).token


def test_an_unregistered_certificate_is_aadsts700027(served: Served, flavour: str) -> None:
    registered = served.identity.new_certificate()
    served.identity.add_app(certificate=registered)
    other = served.identity.new_certificate(name="someone-else")
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, certificate_credential(served, flavour, other.path))
    assert (
        "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found."
        in str(caught.value)
    )


def test_an_assertion_signed_with_another_key_fails_signature_validation(
    served: Served, flavour: str, tmp_path: Path
) -> None:
    registered = served.identity.new_certificate()
    served.identity.add_app(certificate=registered)
    other = served.identity.new_certificate(name="stolen-thumbprint")
    # the registered certificate (so its thumbprint), with another key: the signature cannot verify
    other_key = other.path.read_bytes().split(b"-----BEGIN CERTIFICATE-----")[0]
    forged = tmp_path / "forged.pem"
    forged.write_bytes(other_key + registered.certificate_pem)
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, certificate_credential(served, flavour, forged))
    assert "AADSTS700027" in str(caught.value)
    assert "Key was found, but use of the key to verify the signature failed" in str(caught.value)


def test_an_expired_assertion_is_aadsts700024(served: Served, flavour: str) -> None:
    cert = served.identity.new_certificate()
    served.identity.add_app(certificate=cert)
    served.identity.clock = lambda: time.time() + 7200  # Entra's clock is two hours ahead of the client's
    with pytest.raises(ClientAuthenticationError) as caught:
        _token(flavour, certificate_credential(served, flavour, cert.path))
    assert "AADSTS700024: Client assertion is not within its valid time range." in str(caught.value)


# --- the endpoint itself ----------------------------------------------------------------------------


def http(served: Served) -> httpx2.Client:
    return httpx2.Client(base_url=served.endpoint, verify=served.identity.ca.ssl_context())


def test_openid_configuration_names_the_tenants_token_endpoint(served: Served) -> None:
    tenant = served.identity.tenant_id
    with http(served) as client:
        document = client.get(f"/{tenant}/v2.0/.well-known/openid-configuration").json()
        keys = client.get(f"/{tenant}/discovery/v2.0/keys").json()
        unknown = client.get("/no-such-tenant/v2.0/.well-known/openid-configuration")
    assert document["token_endpoint"] == f"{served.endpoint}/{tenant}/oauth2/v2.0/token"
    assert document["issuer"] == f"{served.endpoint}/{tenant}/v2.0"
    assert document["jwks_uri"] == f"{served.endpoint}/{tenant}/discovery/v2.0/keys"
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert keys["keys"][0]["kty"] == "RSA"
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_tenant"
    assert unknown.json()["error_codes"] == [90002]


def test_instance_discovery_knows_only_this_host(served: Served) -> None:
    with http(served) as client:
        mine = client.get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": f"{served.endpoint}/x/oauth2/v2.0/authorize",
            },
        )
        other = client.get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": "https://contoso.example/x/oauth2/v2.0/authorize",
            },
        )
    assert (
        mine.json()["tenant_discovery_endpoint"]
        == f"{served.endpoint}/x/v2.0/.well-known/openid-configuration"
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_instance"
    assert other.json()["error_description"].startswith("AADSTS50049: Unknown or invalid instance.")


REFUSALS = [
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"scope": "https://cognitiveservices.azure.com"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://no-such-resource.example/.default"}, 400, "invalid_resource", 500011),
    ({"client_secret": None}, 401, "invalid_client", 7000218),
    ({"client_id": None}, 400, "invalid_request", 900144),
    (
        {"client_secret": None, "client_assertion": "x.y.z", "client_assertion_type": "x"},
        400,
        "invalid_request",
        50027,
    ),
]


@pytest.mark.parametrize(("form", "status", "error", "code"), REFUSALS)
def test_token_requests_entra_refuses(
    served: Served, form: dict[str, Any], status: int, error: str, code: int
) -> None:
    app = served.identity.add_app(secret=SECRET)
    data = {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": SECRET}
    data["scope"] = COGNITIVE_SCOPE
    data.update(form)
    data = {k: v for k, v in data.items() if v is not None}
    with http(served) as client:
        answer = client.post(f"/{app.tenant_id}/oauth2/v2.0/token", data=data)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    }
    assert SECRET not in answer.text


def test_token_response_is_entras_shape(served: Served) -> None:
    app = served.identity.add_app(secret=SECRET)
    served.identity.refresh_in = 1800
    with http(served) as client:
        data = {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": SECRET}
        answer = client.post(f"/{app.tenant_id}/oauth2/v2.0/token", data={**data, "scope": COGNITIVE_SCOPE})
    body = answer.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token", "refresh_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    assert body["refresh_in"] == 1800
    assert answer.headers["cache-control"] == "no-store, no-cache"
