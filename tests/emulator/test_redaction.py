"""Recorded requests never hold a credential: api-key, Authorization, Ocp-Apim-Subscription-Key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from instructor_az.emulator import Emulator

USER = [{"role": "user", "content": "hi"}]
SECRET_KEY = "sk-very-secret-key-1234"
APIM_KEY = "apim-subscription-secret-5678"


@pytest.fixture
def keyed() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=[SECRET_KEY])
    emulator.scripted.push("a", "b", "c")
    yield emulator
    emulator.close()


def _assert_nowhere(emulator: Emulator, *secrets: str) -> None:
    for request in emulator.requests:
        dumped = repr(request) + json.dumps(request.to_json())
        for secret in secrets:
            assert secret not in dumped


def test_api_key_header_is_redacted(keyed: Emulator) -> None:
    with keyed.client(max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    recorded = keyed.last_request
    assert recorded.headers["api-key"] == "<redacted>"
    assert recorded.auth == "api-key"
    _assert_nowhere(keyed, SECRET_KEY)


def test_authorization_bearer_is_redacted(keyed: Emulator) -> None:
    token = Emulator.entra_token("alice")
    with keyed.client(max_retries=0, azure_ad_token=token) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    with keyed.openai_client(max_retries=0) as v1:  # the key as a bearer token on the v1 routes
        v1.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert [r.headers["authorization"] for r in keyed.requests] == ["<redacted>", "<redacted>"]
    assert [r.auth for r in keyed.requests] == ["bearer", "bearer"]
    _assert_nowhere(keyed, token, token.split(".")[1], SECRET_KEY)


def test_apim_subscription_key_is_redacted(keyed: Emulator) -> None:
    with keyed.client(max_retries=0, default_headers={"Ocp-Apim-Subscription-Key": APIM_KEY}) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert keyed.last_request.headers["ocp-apim-subscription-key"] == "<redacted>"
    _assert_nowhere(keyed, APIM_KEY, SECRET_KEY)


def test_a_rejected_key_is_not_recorded_either(keyed: Emulator) -> None:
    import openai

    with (
        keyed.client(max_retries=0, api_key="wrong-but-secret-999") as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert keyed.last_request.status == 401
    _assert_nowhere(keyed, "wrong-but-secret-999")


def test_a_key_in_the_query_string_is_redacted(keyed: Emulator) -> None:
    with keyed.http_client() as http:
        http.post(
            "https://emulator.openai.azure.com/openai/deployments/gpt-4o/chat/completions",
            params={"api-version": "2024-10-21", "subscription-key": APIM_KEY},
            headers={"api-key": SECRET_KEY},
            json={"messages": USER},
        )
    assert keyed.last_request.query["subscription-key"] == "<redacted>"
    _assert_nowhere(keyed, APIM_KEY, SECRET_KEY)
