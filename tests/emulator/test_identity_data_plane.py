"""The data plane checks the Entra ID tokens it receives, as Azure OpenAI does: the emulated Entra ID's
signature, `aud` (Cognitive Services; also `https://ai.azure.com` on the v1 routes), `exp`, and `tid`
when the emulator has a tenant. Every refusal is Azure's 401 for a bad token. Tokens are refreshed by
azure-identity across expiry (real time, a two-second lifetime)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import openai
import pytest
from azure.identity import ClientSecretCredential, get_bearer_token_provider
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from azure.identity.aio import get_bearer_token_provider as async_bearer_token_provider
from cryptography.hazmat.primitives.asymmetric import rsa
from identity_kit import COGNITIVE_SCOPE, USER, Served, clean_azure_env, serve_emulator
from openai import OpenAI

from instructor_az.emulator import AI_AZURE, DEFAULT_ENDPOINT, DEFAULT_TENANT_ID, Emulator

SECRET = "data-plane-secret-0123456789"
UNAUTHORIZED = {
    "statusCode": 401,
    "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired.",
}


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_azure_env(monkeypatch)


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_emulator()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted")
    yield emulator
    emulator.close()


def refused(emulator: Emulator, token: str, *, v1: bool = False) -> openai.AuthenticationError:
    if v1:
        client: OpenAI = emulator.openai_client(api_key=token, max_retries=0)
    else:
        client = emulator.client(azure_ad_token=token, max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert emulator.last_request.status == 401
    return caught.value


def accepted(emulator: Emulator, token: str, *, v1: bool = False) -> str | None:
    emulator.scripted.push("accepted")
    if v1:
        client: OpenAI = emulator.openai_client(api_key=token, max_retries=0)
    else:
        client = emulator.client(azure_ad_token=token, max_retries=0)
    with client:
        return client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content


# --- audience, expiry, tenant, signature ------------------------------------------------------------


def test_a_token_for_another_resource_is_azures_401(served: Served) -> None:
    app = served.identity.add_app(secret=SECRET)
    credential = ClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.msal_kwargs())
    provider = get_bearer_token_provider(credential, "https://management.azure.com/.default")
    with (
        credential,
        served.client(azure_ad_token_provider=provider) as client,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.body == UNAUTHORIZED
    assert served.identity.issued[app.client_id] == 1  # Entra issued it; Azure OpenAI refused it
    assert served.emulator.scripted.pending == 0


async def test_async_a_token_for_another_resource_is_azures_401(served: Served) -> None:
    app = served.identity.add_app(secret=SECRET)
    credential = AsyncClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.aad_kwargs())
    provider = async_bearer_token_provider(credential, "https://vault.azure.net/.default")
    client = served.async_client(azure_ad_token_provider=provider)
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        await client.close()
        await credential.close()
    assert caught.value.body == UNAUTHORIZED


def test_the_v1_routes_also_take_ai_azure_com_tokens(emulator: Emulator) -> None:
    token = emulator.entra_token(audience=AI_AZURE)
    assert accepted(emulator, token, v1=True) == "accepted"
    assert refused(emulator, token).body == UNAUTHORIZED  # the dated routes want Cognitive Services
    assert accepted(emulator, emulator.entra_token(), v1=True) == "accepted"
    assert refused(emulator, emulator.entra_token(audience="https://management.azure.com"), v1=True)


def test_an_expired_token_is_azures_401(emulator: Emulator) -> None:
    assert refused(emulator, emulator.entra_token(lifetime=-1)).body == UNAUTHORIZED


def test_a_token_expires_on_the_emulators_clock(emulator: Emulator) -> None:
    token = emulator.entra_token(lifetime=60)
    assert accepted(emulator, token) == "accepted"
    emulator.identity.clock = lambda: time.time() + 61
    assert refused(emulator, token).status_code == 401
    emulator.identity.clock_skew = 300  # a tolerance, as Entra's validators allow
    assert accepted(emulator, token) == "accepted"


def test_a_token_signed_with_another_key_is_refused(emulator: Emulator) -> None:
    genuine = emulator.entra_token()
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]})
    assert refused(emulator, forged).body == UNAUTHORIZED
    tampered = genuine.split(".")
    tampered[1] = jwt.utils.base64url_encode(
        b'{"aud":"https://cognitiveservices.azure.com","exp":9999999999}'
    ).decode()
    assert refused(emulator, ".".join(tampered)).status_code == 401


def test_a_tenant_emulator_refuses_tokens_of_other_tenants() -> None:
    tenant = "44444444-5555-6666-7777-888888888888"
    emulator = Emulator(backend="scripted", tenant_id=tenant)
    try:
        assert emulator.identity.tenant_id == tenant
        assert jwt.decode(emulator.entra_token(), options={"verify_signature": False})["tid"] == tenant
        assert accepted(emulator, emulator.entra_token()) == "accepted"  # the instance's tenant
        assert refused(emulator, Emulator.entra_token()).body == UNAUTHORIZED  # the default tenant's
        assert refused(emulator, emulator.entra_token(tenant_id=DEFAULT_TENANT_ID)).status_code == 401
    finally:
        emulator.close()


# --- tokens the emulator did not sign ---------------------------------------------------------------


UNSIGNED = ".".join(
    jwt.utils.base64url_encode(part).decode()
    for part in (
        b'{"alg":"none","typ":"JWT"}',
        b'{"aud":"https://cognitiveservices.azure.com","sub":"x"}',
        b"",
    )
)


def test_unsigned_tokens_pass_until_an_identity_is_configured(emulator: Emulator) -> None:
    assert accepted(emulator, UNSIGNED) == "accepted"  # as before the emulator had an Entra ID
    assert accepted(emulator, "header.payload.signature") == "accepted"
    emulator.identity.add_app(secret=SECRET)
    assert refused(emulator, UNSIGNED).body == UNAUTHORIZED
    assert accepted(emulator, emulator.entra_token()) == "accepted"
    emulator.identity.accept_unsigned_tokens = True
    assert accepted(emulator, UNSIGNED) == "accepted"


def test_unsigned_tokens_can_be_refused_from_the_start(emulator: Emulator) -> None:
    emulator.identity.accept_unsigned_tokens = False
    assert refused(emulator, UNSIGNED).body == UNAUTHORIZED
    assert refused(emulator, "not a jwt").body == UNAUTHORIZED


def test_a_tenant_alone_turns_the_checks_on() -> None:
    emulator = Emulator(backend="scripted", tenant_id="55555555-6666-7777-8888-999999999999")
    try:
        assert emulator.identity.configured
        assert refused(emulator, UNSIGNED).status_code == 401
    finally:
        emulator.close()


def test_entra_token_is_signed_on_the_class_and_on_an_instance(emulator: Emulator) -> None:
    for token in (Emulator.entra_token(), Emulator.entra_token("alice"), emulator.entra_token("bob")):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == "https://cognitiveservices.azure.com"
        assert claims["exp"] - claims["iat"] == 3600
        emulator.identity.add_app()  # strict from the second round on: still accepted, it is signed
        assert accepted(emulator, token) == "accepted"
    assert jwt.decode(Emulator.entra_token("alice"), options={"verify_signature": False})["sub"] == "alice"
    # a signed token is good on any emulator of the process (one Entra ID, many resources)
    other = Emulator(backend="scripted")
    try:
        assert accepted(other, emulator.entra_token()) == "accepted"
    finally:
        other.close()


def test_bearer_tokens_still_restrict_to_their_list() -> None:
    emulator = Emulator(backend="scripted", bearer_tokens=["opaque-ci-token"])
    try:
        assert accepted(emulator, "opaque-ci-token") == "accepted"
        assert refused(emulator, emulator.entra_token()).body == UNAUTHORIZED
    finally:
        emulator.close()


# --- refresh across expiry --------------------------------------------------------------------------


def test_calls_keep_working_across_token_expiry(served: Served) -> None:
    """azure-identity renews a token within five minutes of its expiry: with a two-second lifetime, the
    sync credential (MSAL) fetches one per call, and the call after the first token expired still works."""
    served.identity.token_lifetime = 2
    app = served.identity.add_app(secret=SECRET)
    credential = ClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.msal_kwargs())
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("before", "after")
    with credential, served.client(azure_ad_token_provider=provider) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
        first = provider()
        issued = served.identity.issued[app.client_id]
        time.sleep(2.1)
        # the first token is now refused...
        with served.client(azure_ad_token=first) as stale, pytest.raises(openai.AuthenticationError):
            stale.chat.completions.create(model="gpt-4o", messages=USER)
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)  # ...the provider's is not
    assert completion.choices[0].message.content == "after"
    assert served.identity.issued[app.client_id] > issued


async def test_async_credential_caches_until_expiry_then_refreshes(served: Served) -> None:
    """azure-identity's own client (the async credentials) reuses a token it got less than 30 seconds ago
    while it is valid: three quick calls share one token, the call after expiry gets a second one."""
    import asyncio

    served.identity.token_lifetime = 2
    app = served.identity.add_app(secret=SECRET)
    credential = AsyncClientSecretCredential(app.tenant_id, app.client_id, SECRET, **served.aad_kwargs())
    provider = async_bearer_token_provider(credential, COGNITIVE_SCOPE)
    served.emulator.scripted.push("a", "b", "c", "d")
    client = served.async_client(azure_ad_token_provider=provider)
    try:
        for _ in range(3):
            await client.chat.completions.create(model="gpt-4o", messages=USER)
        assert served.identity.issued[app.client_id] == 1
        await asyncio.sleep(2.1)
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        await client.close()
        await credential.close()
    assert completion.choices[0].message.content == "d"
    assert served.identity.issued[app.client_id] == 2
    assert [r.status for r in served.emulator.requests] == [200, 200, 200, 200]


def test_tls_serves_the_data_plane_too(served: Served) -> None:
    assert served.endpoint.startswith("https://127.0.0.1:")
    served.emulator.scripted.push("over https")
    with served.client(api_key=served.emulator.api_keys[0]) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content


def test_identity_helpers_need_a_served_emulator(emulator: Emulator) -> None:
    with pytest.raises(RuntimeError, match="serve"):
        _ = emulator.identity.authority_host
    with emulator.serve() as endpoint:
        assert emulator.identity.managed_identity_endpoint == f"{endpoint}/msi/token"
        with pytest.raises(RuntimeError, match="tls=True"):
            _ = emulator.identity.authority_host
    assert emulator.identity.endpoint is None
    assert DEFAULT_ENDPOINT.startswith("https://")
