"""No API key or bearer token appears in an error, a repr, a log line or a hook payload."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai import AzureOpenAI
from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, Fault

KEY = "sk-SECRET-1234567890abcdef"
TOKEN = Emulator.entra_token("secret-subject")
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
SECRETS = (KEY, TOKEN, TOKEN.split(".")[1])  # the key, the token, and its claims part


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=[KEY])
    yield emulator
    emulator.close()


def by_key(emulator: Emulator) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_key=KEY,
        api_version=LATEST_GA,
        http_client=emulator.http_client(),
        max_retries=0,
    )


def by_token(emulator: Emulator) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        azure_ad_token=TOKEN,
        api_version=LATEST_GA,
        http_client=emulator.http_client(),
        max_retries=0,
    )


def by_token_provider(emulator: Emulator) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        azure_ad_token_provider=lambda: TOKEN,
        api_version=LATEST_GA,
        http_client=emulator.http_client(),
        max_retries=0,
    )


CLIENTS: dict[str, Callable[[Emulator], AzureOpenAI]] = {
    "api-key": by_key,
    "token": by_token,
    "token-provider": by_token_provider,
}

# Each way a call can fail, as (what the deployment answers, the error expected).
FAILURES: dict[str, tuple[list[Any], type[BaseException]]] = {
    "retries exhausted": ([{"name": "John", "age": 300}] * 2, instructor_az.InstructorRetryException),
    "prompt filter": ([Fault.prompt_filter(violence="high")], instructor_az.ContentFilterError),
    "completion filter": ([Fault.completion_filter(hate="high"), {"name": "John", "age": 30}], instructor_az.ContentFilterError),
    "cut off": ([Fault.length(after_chars=5), {"name": "John", "age": 30}], instructor_az.IncompleteOutputException),
    "not json": (["this is not JSON"] * 2, instructor_az.InstructorRetryException),
    "server error": ([Fault.server_error(500)], Exception),
}


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential leaked into {where}"


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("credential", list(CLIENTS))
def test_no_secret_in_errors_hooks_or_logs(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, credential: str, failure: str
) -> None:
    answers, expected = FAILURES[failure]
    emulator.scripted.push(*answers)
    client = instructor_az.from_openai(CLIENTS[credential](emulator))
    payloads: list[Any] = []
    client.on("completion:kwargs", lambda *a, **kw: payloads.append((a, kw)))
    for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
        client.on(name, payloads.append)
    with caplog.at_level(logging.DEBUG), pytest.raises(expected) as caught:
        client.chat.completions.create(
            model="gpt-4o",
            response_model=User,
            messages=MESSAGES,
            max_retries=2,
            extra_headers={"api-key": KEY, "Authorization": f"Bearer {TOKEN}"},
        )
    exc = caught.value
    assert_clean(str(exc), "str(error)")
    assert_clean(repr(exc), "repr(error)")
    for attempt in getattr(exc, "attempts", ()):
        assert_clean(repr(attempt), "an attempt")
    assert_clean(repr(getattr(exc, "messages", "")), "the error's messages")
    assert_clean(repr(payloads), "hook payloads")
    for record in caplog.records:
        assert_clean(record.getMessage(), f"a log line of {record.name}")
        assert_clean(record.exc_text or "", f"a logged traceback of {record.name}")
    assert_clean(repr(client), "repr(client)")
    assert_clean(repr(client.chat.completions), "repr(client.chat.completions)")


def test_wrong_key_error_does_not_echo_the_key(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "sk-WRONG-0987654321fedcba"
    client = instructor_az.from_openai(
        AzureOpenAI(
            azure_endpoint=DEFAULT_ENDPOINT,
            api_key=wrong,
            api_version=LATEST_GA,
            http_client=emulator.http_client(),
            max_retries=0,
        )
    )
    import openai

    with caplog.at_level(logging.DEBUG), pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value.body)
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_emulator_records_no_credentials(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    instructor_az.from_openai(by_key(emulator)).chat.completions.create(
        model="gpt-4o", response_model=User, messages=MESSAGES
    )
    assert_clean(repr(emulator.requests[-1]), "the emulator's recorded request")
