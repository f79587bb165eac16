"""Hooks: names, order and payloads in sync, async and streaming calls; handlers never break a call."""

from __future__ import annotations

import logging
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field, ValidationError

import instructor_az
from instructor_az import InstructorRetryException, ResponseParseError
from instructor_az.emulator import Emulator, Fault

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
BAD = {"name": "John", "age": 300}
GOOD = {"name": "John", "age": 30}


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)


class Recorder:
    """Registers a handler on every hook and records (name, payload) in order."""

    def __init__(self, client: Any) -> None:
        self.events: list[tuple[str, Any]] = []
        client.on("completion:kwargs", lambda *args, **kwargs: self.events.append(("completion:kwargs", kwargs)))
        for name in ("completion:response", "completion:error", "completion:last_attempt", "parse:error"):
            client.on(name, lambda payload, name=name: self.events.append((name, payload)))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def test_hooks_fire_in_order_across_a_reask(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    client = instructor_az.from_openai(azure_openai_client)
    recorder = Recorder(client)
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, temperature=0.2)
    assert recorder.names == [
        "completion:kwargs",
        "completion:response",
        "parse:error",
        "completion:kwargs",
        "completion:response",
    ]
    first_kwargs, first_response, error, second_kwargs, _ = (payload for _, payload in recorder.events)
    assert first_kwargs["model"] == "gpt-4o"
    assert first_kwargs["temperature"] == 0.2
    assert first_kwargs["messages"] == MESSAGES
    assert first_kwargs["tool_choice"] == {"type": "function", "function": {"name": "User"}}
    assert isinstance(first_response, openai.types.chat.ChatCompletion)
    assert isinstance(error, (ValidationError, ResponseParseError))
    assert "less than or equal to 130" in str(error)
    assert len(second_kwargs["messages"]) == len(MESSAGES) + 2  # the answer and its errors


async def test_async_hooks_fire_in_the_same_order(azure_emulator: Emulator, async_azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(BAD, GOOD)
    client = instructor_az.from_openai(async_azure_openai_client)
    recorder = Recorder(client)
    await client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert recorder.names == [
        "completion:kwargs",
        "completion:response",
        "parse:error",
        "completion:kwargs",
        "completion:response",
    ]


def test_last_attempt_and_error_hooks(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(BAD, BAD)
    client = instructor_az.from_openai(azure_openai_client)
    recorder = Recorder(client)
    with pytest.raises(InstructorRetryException):
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=2)
    assert recorder.names[-2:] == ["parse:error", "completion:last_attempt"]
    assert recorder.events[-1][1] is recorder.events[-2][1]  # the last attempt's exception

    recorder.events.clear()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", response_model=User, messages=MESSAGES)
    assert recorder.names == ["completion:kwargs", "completion:error"]
    assert isinstance(recorder.events[1][1], openai.NotFoundError)


@pytest.mark.parametrize("kind", ["partial", "iterable"])
def test_streaming_hooks_and_usage_chunk(azure_emulator: Emulator, azure_openai_client: Any, kind: str) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    recorder = Recorder(client)
    if kind == "partial":
        azure_emulator.scripted.push(BAD, GOOD)
        *_, last = client.chat.completions.create_partial(
            model="gpt-4o", response_model=User, messages=MESSAGES, stream_options={"include_usage": True}
        )
        assert last.model_dump() == GOOD
        # the first stream stopped at the rejected field: a parse error, then the re-ask
        assert recorder.names == ["completion:kwargs", "parse:error", "completion:kwargs", "completion:response"]
    else:
        azure_emulator.scripted.push({"tasks": [GOOD, {"name": "Mary", "age": 25}]})
        users = list(
            client.chat.completions.create_iterable(
                model="gpt-4o", response_model=User, messages=MESSAGES, stream_options={"include_usage": True}
            )
        )
        assert [u.name for u in users] == ["John", "Mary"]
        assert recorder.names == ["completion:kwargs", "completion:response"]
    completion = recorder.events[-1][1]
    assert completion.usage is not None  # the usage chunk reached the hook
    assert completion.usage.total_tokens > 0
    assert recorder.events[-2][1]["stream"] is True


def test_a_raising_handler_is_logged_and_never_breaks_the_call(
    azure_emulator: Emulator, azure_openai_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    azure_emulator.scripted.push(GOOD)
    client = instructor_az.from_openai(azure_openai_client)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("handler bug")

    for name in ("completion:kwargs", "completion:response"):
        client.on(name, broken)
    with caplog.at_level(logging.ERROR, logger="instructor_az"):
        user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert user == User(**GOOD)
    logged = [r for r in caplog.records if "handler bug" in (r.exc_text or "") or "raised" in r.getMessage()]
    assert len(logged) == 2


def test_on_off_clear(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    seen: list[str] = []

    def handler(payload: Any) -> None:
        seen.append("response")

    client.on("completion:response", handler)
    azure_emulator.scripted.push(GOOD, GOOD, GOOD)
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    client.off("completion:response", handler)
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert seen == ["response"]
    client.on("completion:response", handler)
    client.clear()
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert seen == ["response"]
    with pytest.raises(ValueError, match="unknown hook"):
        client.on("completion:finished", handler)


def test_seed_000_after_completion_form(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    client = azure_openai_client
    received: list[tuple[Any, Any]] = []

    # seed 000, "Instructor Hooks", as written (the print lines kept)
    from instructor_az import from_openai

    def log_completion(completion, model_response):  # type: ignore[no-untyped-def]
        print(f"Model used: {completion.model}")
        print(f"Tokens used: {completion.usage.total_tokens}")
        received.append((completion, model_response))

    client = from_openai(client, mode="tools", after_completion=log_completion)

    azure_emulator.scripted.push(GOOD)
    user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert len(received) == 1
    completion, model_response = received[0]
    assert model_response is user
    assert completion.usage.total_tokens > 0
    assert completion.model == "gpt-4o-2024-08-06" or completion.model.startswith("gpt-4o")


def test_hooks_see_completion_filter_as_a_response(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(Fault.completion_filter(hate="high"), GOOD)
    client = instructor_az.from_openai(azure_openai_client)
    recorder = Recorder(client)
    with pytest.raises(instructor_az.ContentFilterError):
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert recorder.names == ["completion:kwargs", "completion:response"]
    assert recorder.events[1][1].choices[0].finish_reason == "content_filter"
