"""Authentication as Azure does it: `api-key`, Entra ID bearer tokens, v1 bearer keys; keys never recorded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest

from instructor_az.emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, LATEST_GA, Emulator

USER = [{"role": "user", "content": "hello"}]
KEY_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)
TOKEN_MESSAGE_START = "Unauthorized. Access token is missing, invalid, audience is incorrect"
TOKEN_MESSAGE = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), "
    "or have expired."
)


def test_api_key_is_accepted_and_recorded_as_api_key_auth(emulator: Emulator) -> None:
    emulator.scripted.push("welcome")
    with emulator.client(max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "welcome"
    assert emulator.last_request.auth == "api-key"
    assert emulator.last_request.status == 200


def test_a_second_configured_key_is_accepted() -> None:
    emulator = Emulator(backend="scripted", api_keys=["key-one", "key-two"])
    emulator.scripted.push("second key")
    try:
        with emulator.client(api_key="key-two", max_retries=0) as client:
            assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
    finally:
        emulator.close()


def test_wrong_api_key_is_authentication_error_with_azures_message(emulator: Emulator) -> None:
    emulator.scripted.push("never sent")
    with (
        emulator.client(api_key="not-the-key", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.status_code == 401
    assert exc.value.body == {"code": "401", "message": KEY_MESSAGE}
    assert emulator.last_request.status == 401
    assert emulator.scripted.pending == 1  # the backend was never asked


def test_no_credentials_at_all_is_a_401(emulator: Emulator) -> None:
    with emulator.http_client() as http:
        response = http.post(
            f"{DEFAULT_ENDPOINT}/openai/deployments/gpt-4o/chat/completions?api-version={LATEST_GA}",
            json={"messages": USER},
        )
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "401", "message": KEY_MESSAGE}}


def test_wrong_key_on_an_unknown_deployment_is_still_a_401(emulator: Emulator) -> None:
    # Authentication comes before the deployment lookup: a bad key learns nothing about deployments.
    with emulator.client(api_key="wrong", max_retries=0) as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="no-such-deployment", messages=USER)


def test_entra_id_token_provider_is_accepted(emulator: Emulator) -> None:
    emulator.scripted.push("hello Entra")
    calls = []

    def provider() -> str:
        calls.append(1)
        return Emulator.entra_token()

    with emulator.client(azure_ad_token_provider=provider, max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "hello Entra"
    assert calls  # the SDK asked the provider for a token
    assert emulator.last_request.auth == "bearer"
    assert "api-key" not in emulator.last_request.headers


async def test_entra_id_token_provider_with_async_client(emulator: Emulator) -> None:
    emulator.scripted.push("hello async Entra")
    client = emulator.async_client(azure_ad_token_provider=lambda: Emulator.entra_token(), max_retries=0)
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "hello async Entra"
    assert emulator.last_request.auth == "bearer"


def test_static_azure_ad_token_is_accepted(emulator: Emulator) -> None:
    emulator.scripted.push("static token")
    with emulator.client(azure_ad_token=Emulator.entra_token("alice"), max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "static token"
    assert emulator.last_request.auth == "bearer"


def test_a_token_that_is_not_jwt_shaped_is_rejected(emulator: Emulator) -> None:
    with (
        emulator.client(azure_ad_token="not a jwt", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.body["message"].startswith(TOKEN_MESSAGE_START)


@pytest.fixture
def restricted() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", bearer_tokens=["token-for-ci"])
    yield emulator
    emulator.close()


def test_restricted_bearer_tokens_accept_only_the_listed_tokens(restricted: Emulator) -> None:
    restricted.scripted.push("allowed")
    with restricted.client(azure_ad_token="token-for-ci", max_retries=0) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content == (
            "allowed"
        )
    with (
        restricted.client(azure_ad_token=Emulator.entra_token(), max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.status_code == 401
    assert exc.value.body == {"statusCode": 401, "message": TOKEN_MESSAGE}


def test_v1_route_takes_the_api_key_as_a_bearer_token(emulator: Emulator) -> None:
    emulator.scripted.push("v1 bearer")
    with emulator.openai_client(max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "v1 bearer"
    assert emulator.last_request.auth == "bearer"
    assert emulator.last_request.headers["authorization"] == "<redacted>"


def test_v1_route_with_a_wrong_bearer_key_is_a_401(emulator: Emulator) -> None:
    with (
        emulator.openai_client(api_key="wrong-key", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        client.models.list()
    assert exc.value.status_code == 401


def test_recorded_requests_never_contain_the_key_or_token(emulator: Emulator) -> None:
    emulator.scripted.push("one", "two")
    token = Emulator.entra_token("secret-subject")
    with emulator.client(max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    recorded_key = emulator.requests[-1]
    with emulator.client(azure_ad_token=token, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    recorded_token = emulator.requests[-1]
    with (
        emulator.client(api_key="a-wrong-secret-key", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    recorded_wrong = emulator.requests[-1]

    assert recorded_key.headers["api-key"] == "<redacted>"
    assert recorded_token.headers["authorization"] == "<redacted>"
    assert recorded_wrong.headers["api-key"] == "<redacted>"
    everything = repr(list(emulator.requests))
    for secret in (DEFAULT_API_KEY, token, "a-wrong-secret-key"):
        assert secret not in everything
        for request in emulator.requests:
            assert secret not in str(dict(request.headers).values())


def test_header_names_are_matched_case_insensitively(emulator: Emulator) -> None:
    emulator.scripted.push("case")
    with emulator.http_client() as http:
        response = http.post(
            f"{DEFAULT_ENDPOINT}/openai/deployments/gpt-4o/chat/completions",
            params={"api-version": LATEST_GA},
            json={"messages": USER},
            headers={"API-Key": DEFAULT_API_KEY},
        )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "case"
    assert httpx2.Headers(emulator.last_request.headers)["api-key"] == "<redacted>"
