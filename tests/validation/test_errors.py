"""Azure-aware errors: content filters, cut-off answers and refusals end the call after one request; SDK
errors surface unchanged; transport failures are the SDK's to retry and never count as re-asks."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field
from validation_kit import Wire, collect, resolve

from instructor_az import (
    AzureResponseError,
    ContentFilterError,
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
    Mode,
    PromptFilterError,
    RefusalError,
)
from instructor_az.emulator import Emulator, Fault, Reply

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}
LONG = {"name": "John " * 20, "age": 30}


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Events:
    """Every hook event of a client, by name."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, Any]] = []
        client.on("completion:kwargs", lambda **kwargs: self.seen.append(("completion:kwargs", kwargs)))
        for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
            client.on(name, lambda payload, name=name: self.seen.append((name, payload)))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def attempts(self) -> int:
        return self.names.count("completion:kwargs")


def create(client: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-4o")
    return client.chat.completions.create(response_model=User, messages=MESSAGES, **kwargs)


# --- content filters -----------------------------------------------------------------------------


async def test_prompt_filter_is_a_content_filter_error_after_one_call(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(Fault.prompt_filter(violence="high"), GOOD)
    client = make()
    events = Events(client)
    with pytest.raises(ContentFilterError) as caught:
        await resolve(create(client, max_retries=3))
    exc = caught.value
    assert len(azure_emulator.requests) == 1  # never re-asked
    assert azure_emulator.scripted.pending == 1
    assert isinstance(exc, PromptFilterError)
    assert isinstance(exc, openai.BadRequestError)  # Azure's documented `except openai.BadRequestError` works
    assert exc.status_code == 400
    assert exc.code == "content_filter"
    assert exc.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert exc.request_id
    assert exc.request_id == exc.response.headers["x-request-id"]
    assert exc.source == "prompt"
    assert exc.filtered_categories == ["violence"]
    assert exc.categories["violence"].filtered is True
    assert exc.categories["violence"].severity == "high"
    assert exc.categories["hate"].filtered is False
    assert exc.categories["hate"].severity == "safe"
    assert "violence (severity high)" in str(exc)
    assert "prompt" in str(exc)
    assert events.names == ["completion:kwargs", "completion:error"]


async def test_prompt_filter_names_every_blocking_category(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(Fault.prompt_filter(hate="medium", self_harm="high", jailbreak="detected"))
    with pytest.raises(ContentFilterError) as caught:
        await resolve(create(make()))
    exc = caught.value
    assert sorted(exc.filtered_categories) == ["hate", "jailbreak", "self_harm"]
    assert exc.categories["jailbreak"].detected is True
    for named in ("hate (severity medium)", "self_harm (severity high)", "jailbreak (detected)"):
        assert named in str(exc)
    assert "violence" not in str(exc)  # reported, but it did not block
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON, Mode.JSON_SCHEMA])
async def test_completion_filter_is_a_content_filter_error_after_one_call(
    make: Any, azure_emulator: Emulator, wire: Wire, mode: Mode
) -> None:
    azure_emulator.scripted.push(Fault.completion_filter(after_chars=10, sexual="medium"), GOOD, GOOD)
    client = make(mode)
    events = Events(client)
    with pytest.raises(ContentFilterError) as caught:
        await resolve(create(client, max_retries=3))
    exc = caught.value
    assert len(azure_emulator.requests) == 1
    assert not isinstance(exc, openai.APIError)  # Azure answered 200: not an HTTP error
    assert exc.source == "completion"
    assert exc.filtered_categories == ["sexual"]
    assert exc.categories["sexual"].severity == "medium"
    assert exc.categories["protected_material_text"].detected is False
    assert "sexual (severity medium)" in str(exc)
    assert "completion" in str(exc)
    assert exc.completion.id == wire.completions[0]["id"]
    assert exc.completion.choices[0].finish_reason == "content_filter"
    assert exc.partial_text == '{"name": "'  # the first 10 characters, as sent
    assert exc.usage.total_tokens == wire.completions[0]["usage"]["total_tokens"]
    assert "parse:error" not in events.names
    assert events.names == ["completion:kwargs", "completion:response"]


async def test_completion_filter_while_streaming_is_raised_from_the_stream(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(Fault.completion_filter(after_chars=12, violence="high"), LONG, GOOD)
    client = make()
    with pytest.raises(ContentFilterError) as caught:
        await collect(
            client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
        )
    assert caught.value.source == "completion"
    assert caught.value.filtered_categories == ["violence"]
    assert len(azure_emulator.requests) == 1


async def test_filter_on_a_reask_carries_the_tokens_spent_so_far(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    azure_emulator.scripted.push(BAD, Fault.completion_filter(hate="high"), GOOD, GOOD)
    with pytest.raises(ContentFilterError) as caught:
        await resolve(create(make(), max_retries=5))
    assert len(azure_emulator.requests) == 2  # the re-ask was filtered: no third request
    assert caught.value.usage == wire.total()


async def test_prompt_filter_on_a_reask_carries_the_tokens_spent_so_far(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    azure_emulator.scripted.push(BAD, Fault.prompt_filter(jailbreak="detected"), GOOD)
    with pytest.raises(PromptFilterError) as caught:
        await resolve(create(make(), max_retries=5))
    assert len(azure_emulator.requests) == 2
    assert caught.value.usage == wire.total()  # the first answer's tokens; a filtered prompt costs none here
    assert caught.value.usage.total_tokens > 0


# --- cut-off answers and refusals ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["fault", "max_tokens", "max_completion_tokens"])
async def test_cut_off_answer_is_incomplete_output_after_one_call(
    make: Any, azure_emulator: Emulator, wire: Wire, how: str
) -> None:
    kwargs: dict[str, Any] = {}
    if how == "fault":
        azure_emulator.scripted.push(Fault.length(after_chars=12), LONG, LONG)
    else:
        azure_emulator.scripted.push(LONG, LONG)
        kwargs[how] = 5
    client = make()
    events = Events(client)
    with pytest.raises(IncompleteOutputException) as caught:
        await resolve(create(client, max_retries=3, **kwargs))
    exc = caught.value
    assert len(azure_emulator.requests) == 1
    assert isinstance(exc, AzureResponseError)
    assert "max_tokens" in str(exc)
    assert "max_completion_tokens" in str(exc)
    assert exc.partial_text
    assert exc.partial_text.startswith('{"name": ')
    assert LONG["name"].startswith(exc.partial_text[len('{"name": "') :])
    assert exc.completion.choices[0].finish_reason == "length"
    assert exc.usage.total_tokens == wire.completions[0]["usage"]["total_tokens"]
    assert "parse:error" not in events.names


async def test_cut_off_json_mode_answer_is_incomplete_output(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(Fault.length(after_chars=15), LONG)
    with pytest.raises(IncompleteOutputException) as caught:
        await resolve(create(make(Mode.JSON)))
    assert caught.value.partial_text.startswith('{"name": "John')
    assert len(azure_emulator.requests) == 1


async def test_refusal_is_a_refusal_error_after_one_call(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(Reply(refusal="I can't help with that."), GOOD)
    with pytest.raises(RefusalError) as caught:
        await resolve(create(make(Mode.JSON_SCHEMA), max_retries=3))
    assert caught.value.refusal == "I can't help with that."
    assert "I can't help with that." in str(caught.value)
    assert len(azure_emulator.requests) == 1


# --- SDK errors: unchanged, never re-asked --------------------------------------------------------


async def test_wrong_key_is_the_sdks_authentication_error_after_one_call(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(GOOD)
    client = make(api_key="wrong-key", max_retries=2)  # the SDK may retry, but never a 401
    events = Events(client)
    with pytest.raises(openai.AuthenticationError) as caught:
        await resolve(create(client, max_retries=3))
    exc = caught.value
    assert type(exc) is openai.AuthenticationError  # the SDK's own class, not wrapped
    assert exc.status_code == 401
    assert "Access denied" in str(exc)
    assert len(azure_emulator.requests) == 1
    assert azure_emulator.requests[0].status == 401
    assert events.names == ["completion:kwargs", "completion:error"]
    assert events.seen[1][1] is exc


async def test_wrong_bearer_token_is_the_sdks_authentication_error(
    azure_emulator: Emulator, make: Any
) -> None:
    azure_emulator.bearer_tokens = frozenset({Emulator.entra_token("allowed")})
    client = make(api_key=None, azure_ad_token=Emulator.entra_token("someone-else"))
    with pytest.raises(openai.AuthenticationError):
        await resolve(create(client))
    assert len(azure_emulator.requests) == 1
    assert azure_emulator.requests[0].auth == "bearer"


async def test_unknown_deployment_is_the_sdks_not_found_error_after_one_call(
    make: Any, azure_emulator: Emulator
) -> None:
    client = make(max_retries=2)
    with pytest.raises(openai.NotFoundError) as caught:
        await resolve(create(client, model="no-such-deployment", max_retries=3))
    assert type(caught.value) is openai.NotFoundError
    assert caught.value.code == "DeploymentNotFound"
    assert len(azure_emulator.requests) == 1


async def test_other_bad_request_is_the_sdks_error_not_a_content_filter(
    make: Any, azure_emulator: Emulator
) -> None:
    """gpt-4 (turbo-2024-04-09) has no structured outputs: Azure's 400, as the SDK raises it."""
    with pytest.raises(openai.BadRequestError) as caught:
        await resolve(create(make(Mode.JSON_SCHEMA), model="gpt-4", max_retries=3))
    assert type(caught.value) is openai.BadRequestError
    assert not isinstance(caught.value, InstructorError)
    assert "json_schema" in str(caught.value)
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limit(retry_after_ms=30),
        Fault.server_error(500),
        Fault.server_error(503, retry_after_ms=30),
    ],
    ids=["429", "500", "503"],
)
async def test_transport_errors_are_retried_by_the_sdk_not_reasked(
    make: Any, azure_emulator: Emulator, fault: Fault
) -> None:
    azure_emulator.inject(fault, times=1)
    azure_emulator.scripted.push(GOOD)
    client = make(max_retries=2)  # the SDK's transport retries
    events = Events(client)
    started = time.perf_counter()
    user, _ = await resolve(
        client.chat.completions.create_with_completion(
            model="gpt-4o",
            response_model=User,
            messages=MESSAGES,
            max_retries=0,  # no re-ask budget at all
        )
    )
    assert user == User(**GOOD)
    assert [r.status for r in azure_emulator.requests] == [fault.status, 200]  # the SDK sent it twice
    assert events.names == ["completion:kwargs", "completion:response"]  # one attempt, no error seen
    if fault.retry_after_ms:
        assert time.perf_counter() - started >= fault.retry_after_ms / 1000  # retry-after-ms honoured


async def test_a_rate_limit_does_not_use_up_a_reask(make: Any, azure_emulator: Emulator) -> None:
    """429, then an invalid answer, then a valid one: two attempts, three requests."""
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=10), times=1)
    azure_emulator.scripted.push(BAD, GOOD)
    client = make(max_retries=2)
    events = Events(client)
    user = await resolve(create(client, max_retries=2))
    assert user == User(**GOOD)
    assert [r.status for r in azure_emulator.requests] == [429, 200, 200]
    assert events.attempts() == 2


async def test_retry_exception_counts_attempts_not_transport_retries(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.inject(Fault.server_error(503, retry_after_ms=10), times=1)
    azure_emulator.scripted.push(BAD, GOOD)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(make(max_retries=2), max_retries=0))
    assert caught.value.n_attempts == 1
    assert [r.status for r in azure_emulator.requests] == [503, 200]


async def test_transport_error_without_sdk_retries_surfaces_unchanged(
    make: Any, azure_emulator: Emulator
) -> None:
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=20), times=1)
    azure_emulator.scripted.push(GOOD)
    client = make(max_retries=0)
    events = Events(client)
    with pytest.raises(openai.RateLimitError) as caught:
        await resolve(create(client, max_retries=3))
    assert type(caught.value) is openai.RateLimitError
    assert caught.value.response.headers["retry-after-ms"] == "20"
    assert len(azure_emulator.requests) == 1
    assert events.names == ["completion:kwargs", "completion:error"]


async def test_dropped_connection_is_the_sdks_connection_error(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.inject(Fault.drop_connection(), times=1)
    azure_emulator.scripted.push(GOOD, GOOD)
    with pytest.raises(openai.APIConnectionError) as caught:
        await resolve(create(make(max_retries=0), max_retries=3))
    assert not isinstance(caught.value, InstructorError)
    assert len(azure_emulator.requests) == 1


# --- timeouts: the SDK's, like any transport failure ----------------------------------------------


async def test_timeout_surfaces_unchanged_after_one_attempt(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.inject(Fault.latency(0.5), times=1)
    azure_emulator.scripted.push(GOOD, GOOD)
    client = make(max_retries=0, timeout=0.1)
    events = Events(client)
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError) as caught:
        await resolve(create(client, max_retries=3))
    assert time.perf_counter() - started < 0.45  # not waited out, not re-asked
    assert type(caught.value) is openai.APITimeoutError
    assert not isinstance(caught.value, InstructorError)
    assert events.names == ["completion:kwargs", "completion:error"]
    assert events.seen[1][1] is caught.value
    assert azure_emulator.scripted.pending >= 1  # the re-ask budget was not spent on it


async def test_timeout_is_retried_by_the_sdk_not_reasked(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.inject(Fault.latency(0.5), times=1)
    azure_emulator.scripted.push(GOOD)
    client = make(max_retries=1, timeout=0.1)
    events = Events(client)
    user = await resolve(create(client, max_retries=1))
    assert user == User(**GOOD)
    assert events.names == ["completion:kwargs", "completion:response"]  # one attempt
    assert azure_emulator.scripted.pending == 0
