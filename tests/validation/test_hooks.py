"""Hooks: `on` / `off` / `clear`, the order and payloads of every hook in sync, async and streamed calls
(across re-asks too), handlers that raise, and seed 000's `after_completion`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, Field, ValidationError
from validation_kit import Wire, collect, resolve

import instructor_az
from instructor_az import HOOK_NAMES, InstructorRetryException, PromptFilterError
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, Fault

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Recorder:
    """A handler on every hook, recording (name, payload) in order."""

    def __init__(self, client: Any) -> None:
        self.events: list[tuple[str, Any]] = []
        #: completion:usage payloads (the running total) with their attempt numbers, kept apart
        self.usages: list[tuple[Any, int]] = []
        client.on("completion:kwargs", self.kwargs)
        client.on("completion:usage", lambda usage, attempt_number: self.usages.append((usage, attempt_number)))
        for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
            client.on(name, lambda payload, name=name: self.events.append((name, payload)))

    def kwargs(self, **kwargs: Any) -> None:
        self.events.append(("completion:kwargs", kwargs))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def payloads(self, name: str) -> list[Any]:
        return [payload for n, payload in self.events if n == name]


def create(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, **kwargs)


REASK_ORDER = [
    "completion:kwargs",
    "completion:response",
    "parse:error",
    "completion:kwargs",
    "completion:response",
]


async def test_hooks_fire_in_order_with_their_payloads_across_a_reask(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    client = make()
    recorder = Recorder(client)
    user = await resolve(create(client, temperature=0.2, context={"k": "v"}, max_retries=2))
    assert user == User(**GOOD)
    assert recorder.names == REASK_ORDER
    first_kwargs, second_kwargs = recorder.payloads("completion:kwargs")
    # completion:kwargs: exactly the SDK kwargs of each request (none of ours)
    assert first_kwargs["model"] == "gpt-4o"
    assert first_kwargs["temperature"] == 0.2
    assert first_kwargs["messages"] == MESSAGES
    assert first_kwargs["tool_choice"] == {"type": "function", "function": {"name": "User"}}
    assert first_kwargs["tools"][0]["function"]["name"] == "User"
    assert not {"response_model", "max_retries", "context", "validation_context"} & set(first_kwargs)
    assert first_kwargs["messages"] == azure_emulator.requests[0].body["messages"]
    assert second_kwargs["messages"] == azure_emulator.requests[1].body["messages"]
    assert len(second_kwargs["messages"]) == len(MESSAGES) + 2
    # completion:response: the SDK's completion, as the emulator sent it
    responses = recorder.payloads("completion:response")
    assert all(isinstance(r, ChatCompletion) for r in responses)
    assert [r.id for r in responses] == [b["id"] for b in wire.completions]
    # parse:error: the validation exception of the first answer
    (error,) = recorder.payloads("parse:error")
    assert isinstance(error, ValidationError)
    assert error.errors()[0]["loc"] == ("age",)
    assert error.errors()[0]["input"] == 300


async def test_kwargs_payload_is_a_copy(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(GOOD)
    client = make()

    def vandal(**kwargs: Any) -> None:
        kwargs["messages"].append({"role": "user", "content": "injected"})
        kwargs["messages"][0]["content"] = "changed"
        kwargs["model"] = "gpt-4o-mini"

    client.on("completion:kwargs", vandal)
    await resolve(create(client))
    sent = azure_emulator.last_request
    assert sent.deployment == "gpt-4o"
    assert sent.body["messages"] == MESSAGES
    assert MESSAGES[0]["content"] == "John is 30 years old"


async def test_last_attempt_gets_the_last_exception(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, {"name": "John", "age": 301})
    client = make()
    recorder = Recorder(client)
    with pytest.raises(InstructorRetryException) as caught:
        await resolve(create(client, max_retries=1))
    assert recorder.names == [*REASK_ORDER[:3], *REASK_ORDER[:3], "completion:last_attempt"]
    (last,) = recorder.payloads("completion:last_attempt")
    assert last is caught.value.last_exception
    assert last is recorder.payloads("parse:error")[-1]
    assert [a.exception for a in caught.value.attempts] == recorder.payloads("parse:error")


async def test_error_hook_gets_the_exception_the_sdk_raised(make: Any, azure_emulator: Emulator) -> None:
    client = make()
    recorder = Recorder(client)
    with pytest.raises(openai.NotFoundError) as caught:
        await resolve(client.chat.completions.create(model="missing", response_model=User, messages=MESSAGES))
    assert recorder.names == ["completion:kwargs", "completion:error"]
    assert recorder.events[1][1] is caught.value


async def test_error_hook_on_a_prompt_filter_gets_the_sdks_error(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(Fault.prompt_filter(violence="high"))
    client = make()
    recorder = Recorder(client)
    with pytest.raises(PromptFilterError) as caught:
        await resolve(create(client))
    assert recorder.names == ["completion:kwargs", "completion:error"]
    (sdk_error,) = recorder.payloads("completion:error")
    assert type(sdk_error) is openai.BadRequestError
    assert sdk_error.response is caught.value.response


# --- streamed calls ------------------------------------------------------------------------------


async def test_partial_stream_hooks_across_a_reask(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    client = make()
    recorder = Recorder(client)
    items = await collect(
        client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=MESSAGES, stream_options={"include_usage": True}
        )
    )
    assert items[-1] == User(**GOOD)
    # the first stream stopped at the rejected field (no completion for it), then the re-ask streamed
    assert recorder.names == ["completion:kwargs", "parse:error", "completion:kwargs", "completion:response"]
    assert all(kw["stream"] is True for kw in recorder.payloads("completion:kwargs"))
    second = recorder.payloads("completion:kwargs")[1]
    assert second["messages"] == azure_emulator.requests[1].body["messages"]
    assert "(got 300)" in second["messages"][-1]["content"]
    (completion,) = recorder.payloads("completion:response")
    assert isinstance(completion, ChatCompletion)  # the stream assembled
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0  # the usage chunk reached the hook
    assert '"age": 30' in completion.choices[0].message.tool_calls[0].function.arguments


async def test_iterable_stream_hooks(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"tasks": [GOOD, {"name": "Mary", "age": 25}]})
    client = make()
    recorder = Recorder(client)
    users = await collect(
        client.chat.completions.create_iterable(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert [u.name for u in users] == ["John", "Mary"]
    assert recorder.names == ["completion:kwargs", "completion:response"]
    assert recorder.payloads("completion:kwargs")[0]["stream"] is True


async def test_iterable_stream_hooks_across_a_reask(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push({"tasks": [BAD]}, {"tasks": [GOOD]})
    client = make()
    recorder = Recorder(client)
    users = await collect(
        client.chat.completions.create_iterable(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert users == [User(**GOOD)]
    assert recorder.names == ["completion:kwargs", "parse:error", "completion:kwargs", "completion:response"]
    assert isinstance(recorder.payloads("parse:error")[0], ValidationError)


async def test_stream_exhaustion_fires_last_attempt(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(BAD, BAD)
    client = make()
    recorder = Recorder(client)
    with pytest.raises(InstructorRetryException) as caught:
        await collect(
            client.chat.completions.create_partial(
                model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=1
            )
        )
    assert recorder.names[-2:] == ["parse:error", "completion:last_attempt"]
    assert recorder.payloads("completion:last_attempt") == [caught.value.last_exception]


async def test_stream_dropped_mid_way_fires_the_error_hook(make: Any, azure_emulator: Emulator) -> None:
    azure_emulator.inject(Fault.drop_connection(after_chunks=3), times=1)
    azure_emulator.scripted.push(GOOD)
    client = make()
    recorder = Recorder(client)
    with pytest.raises(openai.APIConnectionError) as caught:
        await collect(
            client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
        )
    assert recorder.names == ["completion:kwargs", "completion:error"]
    assert recorder.payloads("completion:error") == [caught.value]
    assert len(azure_emulator.requests) == 1


# --- handlers that raise -------------------------------------------------------------------------


def broken(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("handler bug")


def handler_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "instructor_az" and r.exc_info and isinstance(r.exc_info[1], RuntimeError)
    ]


@pytest.mark.parametrize("kind", ["create", "partial", "iterable"])
async def test_a_raising_handler_is_logged_and_never_breaks_the_call(
    make: Any, azure_emulator: Emulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client = make()
    for name in HOOK_NAMES:
        client.on(name, broken)
    recorder = Recorder(client)  # registered after the broken ones: still called
    with caplog.at_level(logging.ERROR, logger="instructor_az"):
        if kind == "create":
            azure_emulator.scripted.push(BAD, GOOD)
            result = await resolve(create(client))
            assert result == User(**GOOD)
        elif kind == "partial":
            azure_emulator.scripted.push(BAD, GOOD)
            items = await collect(
                client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
            )
            assert items[-1] == User(**GOOD)
        else:
            azure_emulator.scripted.push({"tasks": [BAD]}, {"tasks": [GOOD]})
            items = await collect(
                client.chat.completions.create_iterable(
                    model="gpt-4o", response_model=User, messages=MESSAGES
                )
            )
            assert items == [User(**GOOD)]
    failures = handler_failures(caplog)
    # one log record per event, each with its traceback
    assert len(failures) == len(recorder.events) + len(recorder.usages)
    assert [r.levelno for r in failures] == [logging.ERROR] * len(failures)
    logged_names = [name for name in HOOK_NAMES for r in failures if repr(name) in r.getMessage()]
    assert sorted(logged_names) == sorted(recorder.names + ["completion:usage"] * len(recorder.usages))
    assert all("broken" in r.getMessage() for r in failures)


async def test_raising_handlers_do_not_change_an_error_outcome(
    make: Any, azure_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    azure_emulator.scripted.push(BAD, BAD)
    client = make()
    for name in HOOK_NAMES:
        client.on(name, broken)
    with caplog.at_level(logging.ERROR, logger="instructor_az"), pytest.raises(InstructorRetryException):
        await resolve(create(client, max_retries=1))
    # kwargs, response, usage, parse:error twice, then last_attempt
    assert len(handler_failures(caplog)) == 9

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="instructor_az"), pytest.raises(openai.NotFoundError):
        await resolve(client.chat.completions.create(model="missing", response_model=User, messages=MESSAGES))
    assert len(handler_failures(caplog)) == 2  # kwargs, error


# --- registering ---------------------------------------------------------------------------------


async def test_on_off_clear(make: Any, azure_emulator: Emulator) -> None:
    client = make()
    seen: list[str] = []

    def on_response(completion: Any) -> None:
        seen.append("response")

    def on_kwargs(**kwargs: Any) -> None:
        seen.append("kwargs")

    azure_emulator.scripted.push(*[GOOD] * 5)
    client.on("completion:response", on_response)
    client.on("completion:kwargs", on_kwargs)
    await resolve(create(client))
    assert seen == ["kwargs", "response"]

    client.off("completion:response", on_response)
    client.off("completion:response", on_response)  # removing a handler that is not there is fine
    await resolve(create(client))
    assert seen == ["kwargs", "response", "kwargs"]

    client.on("completion:response", on_response)
    client.clear("completion:kwargs")
    await resolve(create(client))
    assert seen[3:] == ["response"]

    client.clear()
    await resolve(create(client))
    assert seen[4:] == []

    client.on("completion:response", on_response)
    client.on("completion:response", on_response)  # twice registered, twice called
    await resolve(create(client))
    assert seen[4:] == ["response", "response"]


@pytest.mark.parametrize("name", ["completion:finished", "response", "", "COMPLETION:KWARGS"])
def test_unknown_hook_names_are_refused(azure_openai_client: Any, name: str) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    for method in (client.on, client.off):
        with pytest.raises(ValueError, match="unknown hook"):
            method(name, print)
    with pytest.raises(ValueError, match="unknown hook"):
        client.clear(name)


async def test_hooks_are_copied_by_with_options_and_rewrapping(make: Any, azure_emulator: Emulator) -> None:
    client = make()
    seen: list[str] = []
    client.on("completion:response", lambda completion: seen.append("original"))
    copies = [client.with_options(timeout=30), instructor_az.from_openai(client, mode="json")]
    for i, copy in enumerate(copies):
        copy.on("completion:response", lambda completion, i=i: seen.append(f"copy {i}"))
    azure_emulator.scripted.push(GOOD, GOOD, GOOD)
    for c in copies:
        await resolve(create(c))
    await resolve(create(client))
    assert seen == ["original", "copy 0", "original", "copy 1", "original"]


# --- after_completion (seed 000, "Instructor Hooks") ---------------------------------------------


def test_seed_000_after_completion_as_written(
    azure_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", DEFAULT_ENDPOINT)
    from openai import AzureOpenAI

    client = AzureOpenAI(
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        api_version=LATEST_GA,
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        http_client=azure_emulator.http_client(),  # in-process, instead of the network
    )

    # --- seed 000, "Instructor Hooks" (`from instructor import` reads `from instructor_az import`) ---
    from instructor_az import from_openai

    def log_completion(completion, model_response):  # type: ignore[no-untyped-def]
        print(f"Model used: {completion.model}")
        print(f"Tokens used: {completion.usage.total_tokens}")

    client = from_openai(client, mode="tools", after_completion=log_completion)
    # --- end of seed ---

    azure_emulator.scripted.push(BAD, GOOD)
    user, completion = client.chat.completions.create_with_completion(
        model="gpt-4o", response_model=User, messages=MESSAGES
    )
    assert user == User(**GOOD)
    printed = capsys.readouterr().out.splitlines()
    # once, after the successful attempt, with the tokens of both attempts
    assert printed == [f"Model used: {completion.model}", f"Tokens used: {completion.usage.total_tokens}"]
    assert completion.model.startswith("gpt-4o")


async def test_after_completion_gets_the_completion_and_the_validated_object(
    azure_emulator: Emulator, wire: Wire, make: Any
) -> None:
    received: list[tuple[Any, Any]] = []

    def log_completion(completion: Any, model_response: Any) -> None:
        received.append((completion, model_response))

    client = instructor_az.from_openai(make(), mode="tools", after_completion=log_completion)
    azure_emulator.scripted.push(BAD, GOOD)
    user, completion = await resolve(
        client.chat.completions.create_with_completion(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert len(received) == 1  # not for the rejected answer
    got_completion, got_value = received[0]
    assert got_value is user
    assert got_completion is completion
    assert completion.id == wire.completions[-1]["id"]
    assert completion.usage.total_tokens == wire.total().total_tokens


async def test_after_completion_in_streams_and_parallel_tools(make: Any, azure_emulator: Emulator) -> None:
    received: list[Any] = []
    client = instructor_az.from_openai(
        make(), after_completion=lambda completion, value: received.append(value)
    )
    azure_emulator.scripted.push(GOOD)
    *_, last = await collect(
        client.chat.completions.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert received == [last]

    parallel = instructor_az.from_openai(client, mode="parallel_tools")  # keeps the callback
    azure_emulator.scripted.push(GOOD)
    users = await resolve(
        parallel.chat.completions.create(model="gpt-4o", response_model=Iterable[User], messages=MESSAGES)
    )
    assert received[1] == users == [User(**GOOD)]


async def test_a_raising_after_completion_is_logged_and_never_breaks_the_call(
    make: Any, azure_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = instructor_az.from_openai(make(), after_completion=broken)
    azure_emulator.scripted.push(GOOD)
    with caplog.at_level(logging.ERROR, logger="instructor_az"):
        assert await resolve(create(client)) == User(**GOOD)
    assert len(handler_failures(caplog)) == 1


async def test_response_payloads_keep_the_usage_each_response_reported(
    make: Any, azure_emulator: Emulator, wire: Wire
) -> None:
    """The completions hooks received are not changed afterwards: summing their usage counts each token once."""
    azure_emulator.scripted.push(BAD, BAD, GOOD)
    client = make()
    responses: list[Any] = []
    client.on("completion:response", responses.append)
    _, completion = await resolve(
        client.chat.completions.create_with_completion(model="gpt-4o", response_model=User, messages=MESSAGES)
    )
    assert [instructor_az.Usage.of(r) for r in responses] == wire.usages()
    assert instructor_az.Usage.of(completion) == wire.total()  # the returned completion has the sum
    assert completion.id == responses[-1].id
    assert completion._request_id == responses[-1]._request_id


async def test_last_attempt_fires_when_retry_error_callback_supplies_the_value(
    make: Any, azure_emulator: Emulator
) -> None:
    """Attempts ran out all the same: the hook sees the last exception before the fallback is returned."""
    from tenacity import Retrying, stop_after_attempt

    azure_emulator.scripted.push(BAD, {"name": "John", "age": 301})
    client = make()
    recorder = Recorder(client)
    fallback = User(name="unknown", age=0)
    policy = Retrying(stop=stop_after_attempt(2), retry_error_callback=lambda state: fallback)
    assert await resolve(create(client, max_retries=policy)) is fallback
    assert recorder.names == [*REASK_ORDER[:3], *REASK_ORDER[:3], "completion:last_attempt"]
    (last,) = recorder.payloads("completion:last_attempt")
    assert last is recorder.payloads("parse:error")[-1]
    assert last.errors()[0]["input"] == 301


async def test_usage_hook_sees_the_running_total_after_each_answer(make: Any, azure_emulator: Emulator, wire: Any) -> None:
    client = make()
    recorder = Recorder(client)
    azure_emulator.scripted.push(BAD, GOOD)
    assert await resolve(create(client)) == User(**GOOD)
    (first, one), (total, two) = recorder.usages
    assert (one, two) == (1, 2)
    reported = wire.usages()  # what the emulator sent for each answer
    assert (first.prompt_tokens, first.completion_tokens) == (reported[0].prompt_tokens, reported[0].completion_tokens)
    assert total.total_tokens == reported[0].total_tokens + reported[1].total_tokens
    assert not total.estimated
