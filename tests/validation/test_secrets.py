"""No API key or bearer token ends up in an error (str, repr, traceback), a hook payload, a log record or
a client's repr, on any path a call can take: key, token and token-provider clients, sync and async."""

from __future__ import annotations

import inspect
import json
import logging
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from pydantic import BaseModel, Field
from validation_kit import collect, resolve

import instructor_az
from instructor_az import (
    ConfigurationError,
    ContentFilterError,
    IncompleteOutputException,
    InstructorRetryException,
    PromptFilterError,
)
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, Fault

KEY = "sk-SECRET-abc123def456ghi789"
TOKEN = Emulator.entra_token("secret-subject-0042")
SECRETS = (KEY, "abc123def456", TOKEN, TOKEN.split(".")[1])  # the key, part of it, the token, its claims
EXTRA_HEADERS = {"api-key": KEY, "Authorization": f"Bearer {TOKEN}", "x-trace": "kept"}
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
GOOD = {"name": "John", "age": 30}
BAD = {"name": "John", "age": 300}
LOGGERS = ("", "openai", "openai._base_client", "httpx", "httpx2", "instructor_az")


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential leaked into {where}: {text[:300]!r}"


# --- clients -------------------------------------------------------------------------------------


def raw_client(emulator: Emulator, credential: str, flavour: str) -> Any:
    kwargs: dict[str, Any] = {"azure_endpoint": DEFAULT_ENDPOINT, "api_version": LATEST_GA, "max_retries": 0}
    if credential == "api-key":
        kwargs["api_key"] = KEY
    elif credential == "token":
        kwargs["azure_ad_token"] = TOKEN
    elif flavour == "sync":
        kwargs["azure_ad_token_provider"] = lambda: TOKEN
    else:

        async def provider() -> str:
            return TOKEN

        kwargs["azure_ad_token_provider"] = provider
    if flavour == "sync":
        return AzureOpenAI(http_client=emulator.http_client(), **kwargs)
    return AsyncAzureOpenAI(http_client=emulator.async_http_client(), **kwargs)


@dataclass
class Setup:
    emulator: Emulator
    client: Any
    payloads: list[Any]


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["api-key", "token", "token-provider"])
async def setup(request: pytest.FixtureRequest, flavour: str) -> AsyncIterator[Setup]:
    emulator = Emulator(backend="scripted", api_keys=[KEY])
    raw = raw_client(emulator, str(request.param), flavour)
    client = instructor_az.from_openai(raw)
    payloads: list[Any] = []
    client.on(
        "completion:kwargs", lambda *args, **kwargs: payloads.append(("completion:kwargs", args, kwargs))
    )
    for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
        client.on(name, lambda *args, name=name, **kwargs: payloads.append((name, args, kwargs)))
    yield Setup(emulator, client, payloads)
    closed = raw.close()
    if inspect.isawaitable(closed):
        await closed
    emulator.close()


# --- the ways a call fails -----------------------------------------------------------------------


def create(client: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-4o")
    return client.chat.completions.create(
        response_model=User, messages=MESSAGES, extra_headers=EXTRA_HEADERS, **kwargs
    )


async def retries_exhausted(s: Setup) -> None:
    s.emulator.scripted.push(BAD, BAD)
    await resolve(create(s.client, max_retries=1))


async def not_json(s: Setup) -> None:
    s.emulator.scripted.push("not JSON at all", "still not JSON")
    await resolve(create(instructor_az.from_openai(s.client, mode="json"), max_retries=1))


async def stream_exhausted(s: Setup) -> None:
    s.emulator.scripted.push(BAD, BAD)
    await collect(
        s.client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=MESSAGES, extra_headers=EXTRA_HEADERS, max_retries=1
        )
    )


async def prompt_filter(s: Setup) -> None:
    s.emulator.scripted.push(Fault.prompt_filter(violence="high"))
    await resolve(create(s.client))


async def completion_filter(s: Setup) -> None:
    s.emulator.scripted.push(Fault.completion_filter(hate="high"), GOOD)
    await resolve(create(s.client))


async def incomplete(s: Setup) -> None:
    s.emulator.scripted.push(Fault.length(after_chars=5), GOOD)
    await resolve(create(s.client))


async def unauthorized(s: Setup) -> None:
    """Azure refuses the credential (the key is not the resource's; the token is not allowed)."""
    s.emulator.api_keys = ("another-key",)
    s.emulator.bearer_tokens = frozenset({"another-token"})
    await resolve(s.client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES))


async def not_found(s: Setup) -> None:
    await resolve(create(s.client, model="no-such-deployment"))


async def server_error(s: Setup) -> None:
    s.emulator.scripted.push(Fault.server_error(500))
    await resolve(create(s.client))


async def dropped(s: Setup) -> None:
    s.emulator.inject(Fault.drop_connection(after_chunks=2))
    s.emulator.scripted.push(GOOD)
    await collect(
        s.client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=MESSAGES, extra_headers=EXTRA_HEADERS
        )
    )


async def configuration(s: Setup) -> None:
    await resolve(create(s.client, tools=[{"type": "function", "function": {"name": "f"}}]))


FAILURES: dict[str, tuple[Callable[[Setup], Any], type[BaseException]]] = {
    "retries exhausted": (retries_exhausted, InstructorRetryException),
    "not json": (not_json, InstructorRetryException),
    "stream exhausted": (stream_exhausted, InstructorRetryException),
    "prompt filter": (prompt_filter, PromptFilterError),
    "completion filter": (completion_filter, ContentFilterError),
    "incomplete": (incomplete, IncompleteOutputException),
    "unauthorized": (unauthorized, openai.AuthenticationError),
    "not found": (not_found, openai.NotFoundError),
    "server error": (server_error, openai.InternalServerError),
    "dropped connection": (dropped, openai.APIConnectionError),
    "configuration": (configuration, ConfigurationError),
}


def check_error(exc: BaseException) -> None:
    assert_clean(str(exc), "str(error)")
    assert_clean(repr(exc), "repr(error)")
    assert_clean("".join(traceback.format_exception(exc)), "the formatted traceback")
    assert_clean(repr(vars(exc)), "the error's attributes")
    for attempt in getattr(exc, "attempts", ()):
        assert_clean(repr(attempt), "an attempt")
        assert_clean(str(attempt.exception), "an attempt's exception")
    assert_clean(json.dumps(getattr(exc, "messages", []), default=repr), "the error's messages")
    assert_clean(repr(getattr(exc, "body", None)), "the error's body")


def check_logs(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert_clean(formatter.format(record), f"a log record of {record.name}")  # message and traceback
        assert_clean(repr(record.args), f"a log record's arguments ({record.name})")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_no_secret_anywhere(setup: Setup, debug_logs: pytest.LogCaptureFixture, failure: str) -> None:
    provoke, expected = FAILURES[failure]
    with pytest.raises(expected) as caught:
        await provoke(setup)
    check_error(caught.value)
    # every hook payload, serialised both ways
    assert_clean(repr(setup.payloads), "hook payloads")
    assert_clean(json.dumps(setup.payloads, default=repr), "hook payloads as JSON")
    check_logs(debug_logs)
    if failure not in ("configuration",):
        assert debug_logs.records, "DEBUG logging was on: the SDK's and httpx's records were checked"
    assert_clean(repr(setup.client), "repr(client)")
    for recorded in setup.emulator.requests:
        assert_clean(repr(recorded), "the emulator's record of a request")


async def test_kwargs_hook_sees_credential_headers_redacted(setup: Setup) -> None:
    setup.emulator.scripted.push(GOOD)
    assert await resolve(create(setup.client)) == User(**GOOD)
    (name, _, kwargs), *_ = setup.payloads
    assert name == "completion:kwargs"
    assert kwargs["extra_headers"] == {
        "api-key": "<redacted>",
        "Authorization": "<redacted>",
        "x-trace": "kept",
    }
    assert setup.emulator.last_request.headers["x-trace"] == "kept"  # the real request still had them all


async def test_success_logs_and_payloads_hold_no_secret(
    setup: Setup, debug_logs: pytest.LogCaptureFixture
) -> None:
    setup.emulator.scripted.push(BAD, GOOD)
    assert await resolve(create(setup.client)) == User(**GOOD)
    assert_clean(json.dumps(setup.payloads, default=repr), "hook payloads")
    check_logs(debug_logs)


@pytest.mark.parametrize("credentials", ["api_key", "azure_ad_token", "azure_ad_token_provider"])
def test_from_azure_clients_and_their_config_errors_hold_no_secret(
    azure_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, credentials: str
) -> None:
    for variable in (
        "AZURE_OPENAI_ENDPOINT",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
    ):
        monkeypatch.delenv(variable, raising=False)
    secret: Any = {"api_key": KEY, "azure_ad_token": TOKEN, "azure_ad_token_provider": lambda: TOKEN}[
        credentials
    ]
    with pytest.raises(ConfigurationError) as caught:
        instructor_az.from_azure(api_version=LATEST_GA, **{credentials: secret})  # no endpoint
    check_error(caught.value)
    client = instructor_az.from_azure(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_version=LATEST_GA,
        http_client=azure_emulator.http_client(),
        **{credentials: secret},
    )
    assert_clean(repr(client), "repr(client)")
    assert_clean(repr(client.chat.completions), "repr(client.chat.completions)")
    with pytest.raises(ConfigurationError) as unknown:
        instructor_az.from_openai(client, api_key=KEY)  # type: ignore[call-overload]
    check_error(unknown.value)


# --- credentials given to the client in other ways ------------------------------------------------

BRIEF_KEY = "sk-SECRET-1234567890"


@pytest.mark.parametrize("how", ["constructor", "with_options", "copy"])
async def test_client_level_credentials_stay_out_of_payloads_errors_logs_and_reprs(
    flavour: str, debug_logs: pytest.LogCaptureFixture, how: str
) -> None:
    """A key set on the client (in the constructor, `with_options`, `copy`) never reaches what users see."""
    emulator = Emulator(backend="scripted", api_keys=[BRIEF_KEY])
    kwargs: dict[str, Any] = {"azure_endpoint": DEFAULT_ENDPOINT, "api_version": LATEST_GA, "max_retries": 0}
    kwargs["api_key"] = BRIEF_KEY if how == "constructor" else "placeholder"
    if flavour == "sync":
        raw: Any = AzureOpenAI(http_client=emulator.http_client(), **kwargs)
    else:
        raw = AsyncAzureOpenAI(http_client=emulator.async_http_client(), **kwargs)
    client = instructor_az.from_openai(raw)
    if how == "with_options":
        client = client.with_options(api_key=BRIEF_KEY)
    elif how == "copy":
        client = client.copy(api_key=BRIEF_KEY)
    seen: list[Any] = []
    client.on("completion:kwargs", lambda **kw: seen.append(kw))
    for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
        client.on(name, seen.append)

    emulator.scripted.push(BAD, BAD)
    with pytest.raises(InstructorRetryException) as exhausted:
        await resolve(
            client.chat.completions.create(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=1
            )
        )
    assert [r.status for r in emulator.requests] == [200, 200]  # the key was accepted: it was really sent
    emulator.api_keys = ("another-key",)
    with pytest.raises(openai.AuthenticationError) as refused:
        await resolve(client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES))

    for exc in (exhausted.value, refused.value):
        for text in (str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))):
            assert BRIEF_KEY not in text
            assert "1234567890" not in text
    assert seen  # every hook fired at least once
    assert BRIEF_KEY not in repr(seen)
    assert BRIEF_KEY not in json.dumps(seen, default=repr)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert debug_logs.records
    for record in debug_logs.records:
        assert BRIEF_KEY not in formatter.format(record)
        assert BRIEF_KEY not in repr(record.args)
    assert BRIEF_KEY not in repr(client)
    assert BRIEF_KEY not in repr(client.chat.completions)
    closed = raw.close()
    if inspect.isawaitable(closed):
        await closed
    emulator.close()
