"""instructor's `patch(client)` / `apatch`: the SDK client patched in place, through the real SDK and the emulator."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationInfo, field_validator

import instructor_az
from instructor_az import ConfigurationError, Hooks, InstructorRetryException, Partial
from instructor_az.emulator import Emulator
from instructor_az.patch import is_async

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
ANSWER = {"name": "John", "age": 30}


class User(BaseModel):
    """A person."""

    name: str
    age: int


class Checked(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def known(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("allowed", [])
        if value not in allowed:
            raise ValueError(f"{value} is not one of {allowed}")
        return value


def test_patch_returns_the_same_client_taking_response_model(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.patch(azure_openai_client)

    assert client is azure_openai_client
    user = client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)

    assert user == User(name="John", age=30)
    body = azure_emulator.last_request.body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "User"}}
    assert azure_emulator.last_request.deployment == "gpt-4o"


def test_without_response_model_it_is_the_sdk_call(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push("Hello!")
    client = instructor_az.patch(azure_openai_client)

    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content == "Hello!"
    assert "tools" not in azure_emulator.last_request.body


def test_one_reask_unless_max_retries_says_otherwise(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    # instructor's patch defaults to max_retries=1: the first attempt and one re-ask.
    client = instructor_az.patch(azure_openai_client)
    azure_emulator.scripted.push({"name": "John", "age": "thirty"}, {"name": "John", "age": "thirty"})
    with pytest.raises(InstructorRetryException):
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert len(azure_emulator.requests) == 2

    azure_emulator.reset()
    azure_emulator.scripted.push({"name": "John", "age": "thirty"}, ANSWER)
    with pytest.raises(InstructorRetryException):
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=0)
    assert len(azure_emulator.requests) == 1


def test_context_and_validation_context_reach_the_validators(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    client = instructor_az.patch(azure_openai_client)
    azure_emulator.scripted.push({"name": "John"}, {"name": "John"})

    first = client.chat.completions.create(
        model="gpt-4o", response_model=Checked, messages=MESSAGES, context={"allowed": ["John"]}
    )
    second = client.chat.completions.create(
        model="gpt-4o", response_model=Checked, messages=MESSAGES, validation_context={"allowed": ["John"]}
    )
    assert first.name == second.name == "John"


def test_mode_is_a_mode_or_its_string(azure_openai_client: AzureOpenAI, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.patch(azure_openai_client, mode="json_schema")

    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)

    body = azure_emulator.last_request.body
    assert body["response_format"]["type"] == "json_schema"
    assert "tools" not in body


def test_per_call_hooks(azure_openai_client: AzureOpenAI, azure_emulator: Emulator) -> None:
    seen: list[dict[str, Any]] = []
    hooks = Hooks()
    hooks.on("completion:kwargs", lambda **kwargs: seen.append(kwargs))
    client = instructor_az.patch(azure_openai_client)
    azure_emulator.scripted.push(ANSWER, ANSWER)

    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, hooks=hooks)
    assert len(seen) == 1
    assert seen[0]["model"] == "gpt-4o"
    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert len(seen) == 1  # only the call that passed them


def test_patching_twice_wraps_once(azure_openai_client: AzureOpenAI, azure_emulator: Emulator) -> None:
    original = azure_openai_client.chat.completions.create
    client = instructor_az.patch(instructor_az.patch(azure_openai_client), mode="json_schema")
    azure_emulator.scripted.push(ANSWER)

    assert client.chat.completions.create.__wrapped__ == original  # type: ignore[attr-defined]
    assert client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES).age == 30
    assert len(azure_emulator.requests) == 1
    assert "response_format" in azure_emulator.last_request.body


def test_streamed_partials_through_the_patched_create(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.patch(azure_openai_client)

    partials = list(
        client.chat.completions.create(
            model="gpt-4o", response_model=Partial[User], messages=MESSAGES, stream=True
        )
    )
    assert partials[-1] == User(name="John", age=30)


def test_create_function_form(azure_openai_client: AzureOpenAI, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    create = instructor_az.patch(create=azure_openai_client.chat.completions.create)

    assert create(model="gpt-4o", response_model=User, messages=MESSAGES).name == "John"


async def test_async_client(async_azure_openai_client: AsyncAzureOpenAI, azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.patch(async_azure_openai_client)

    assert is_async(client.chat.completions.create)
    user = await client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert user == User(name="John", age=30)


async def test_apatch_is_deprecated_but_patches(
    async_azure_openai_client: AsyncAzureOpenAI, azure_emulator: Emulator
) -> None:
    azure_emulator.scripted.push(ANSWER)
    with pytest.warns(DeprecationWarning, match="apatch is deprecated, use patch instead"):
        client = instructor_az.apatch(async_azure_openai_client)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        user = await client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert user.age == 30


def test_what_it_cannot_patch(azure_openai_client: AzureOpenAI) -> None:
    with pytest.raises(ConfigurationError, match="needs an openai client"):
        instructor_az.patch(object())
    with pytest.raises(ConfigurationError, match="not served by instructor-az"):
        instructor_az.patch(azure_openai_client, provider="anthropic")
    with pytest.raises(ConfigurationError, match="needs a client"):
        instructor_az.patch()


def test_any_object_with_an_openai_shaped_create(
    azure_openai_client: AzureOpenAI, azure_emulator: Emulator
) -> None:
    from types import SimpleNamespace

    azure_emulator.scripted.push(ANSWER)
    shim = SimpleNamespace(
        chat=SimpleNamespace(completions=SimpleNamespace(create=azure_openai_client.chat.completions.create))
    )

    patched = instructor_az.patch(shim)

    assert patched is shim
    assert shim.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES).age == 30
