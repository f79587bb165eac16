"""Azure-aware errors: content filters, cut-off answers, SDK errors, and which failures are never re-asked."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az import ContentFilterError, IncompleteOutputException
from instructor_az.emulator import Emulator, Fault

MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


class User(BaseModel):
    name: str
    age: int


def test_prompt_filter_is_content_filter_error_after_one_call(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    azure_emulator.scripted.push(Fault.prompt_filter(violence="high"), {"name": "John", "age": 30})
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(ContentFilterError) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3)
    exc = caught.value
    assert isinstance(exc, openai.BadRequestError)  # seed 001's `except openai.BadRequestError` still catches it
    assert exc.source == "prompt"
    assert exc.filtered_categories == ["violence"]
    assert exc.categories["violence"].filtered is True
    assert exc.categories["violence"].severity == "high"
    assert exc.categories["hate"].filtered is False
    assert "violence" in str(exc)
    assert len(azure_emulator.requests) == 1


async def test_completion_filter_is_content_filter_error_after_one_call(
    azure_emulator: Emulator, async_azure_openai_client: Any
) -> None:
    azure_emulator.scripted.push(Fault.completion_filter(sexual="medium"), {"name": "John", "age": 30})
    client = instructor_az.from_openai(async_azure_openai_client)
    with pytest.raises(ContentFilterError) as caught:
        await client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3)
    exc = caught.value
    assert exc.source == "completion"
    assert exc.filtered_categories == ["sexual"]
    assert exc.categories["sexual"].severity == "medium"
    assert "sexual" in str(exc)
    assert exc.usage.total_tokens > 0
    assert len(azure_emulator.requests) == 1


def test_jailbreak_is_named(azure_emulator: Emulator, azure_openai_client: Any) -> None:
    azure_emulator.scripted.push(Fault.prompt_filter(jailbreak="detected"))
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(ContentFilterError) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert caught.value.categories["jailbreak"].detected is True
    assert "jailbreak" in str(caught.value)


@pytest.mark.parametrize("how", ["fault", "max_tokens"])
def test_cut_off_answer_is_incomplete_output_after_one_call(
    azure_emulator: Emulator, azure_openai_client: Any, how: str
) -> None:
    value = {"name": "John " * 30, "age": 30}
    if how == "fault":
        azure_emulator.scripted.push(Fault.length(after_chars=12), value, value)
        kwargs: dict[str, Any] = {}
    else:
        azure_emulator.scripted.push(value, value)
        kwargs = {"max_tokens": 5}
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(IncompleteOutputException) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3, **kwargs)
    exc = caught.value
    assert "max_tokens" in str(exc)
    assert "max_completion_tokens" in str(exc)
    assert exc.partial_text
    assert exc.partial_text.startswith('{"name": ')
    assert len(azure_emulator.requests) == 1


def test_wrong_key_is_the_sdks_authentication_error_after_one_call(azure_emulator: Emulator) -> None:
    client = instructor_az.from_openai(azure_emulator.client(api_key="wrong-key", max_retries=2))
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3)
    assert caught.value.status_code == 401
    assert len(azure_emulator.requests) == 1


def test_unknown_deployment_is_the_sdks_not_found_error_after_one_call(
    azure_emulator: Emulator, azure_openai_client: Any
) -> None:
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-deployment", response_model=User, messages=MESSAGES)
    assert caught.value.code == "DeploymentNotFound"
    assert len(azure_emulator.requests) == 1


@pytest.mark.parametrize("fault", [Fault.rate_limit(retry_after_ms=20), Fault.server_error(503, retry_after_ms=20)])
def test_transport_errors_are_retried_by_the_sdk_not_reasked(azure_emulator: Emulator, fault: Fault) -> None:
    azure_emulator.inject(fault, times=1)
    azure_emulator.scripted.push({"name": "John", "age": 30})
    client = instructor_az.from_openai(azure_emulator.client(max_retries=2))  # the SDK's transport retries
    sent: list[Any] = []
    client.on("completion:kwargs", lambda **kw: sent.append(kw))
    user, _completion = client.chat.completions.create_with_completion(
        model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=1  # no re-ask budget at all
    )
    assert user == User(name="John", age=30)
    assert [r.status for r in azure_emulator.requests] == [fault.status, 200]  # the SDK sent it twice
    assert len(sent) == 1  # one attempt as far as validation is concerned


def test_transport_error_without_sdk_retries_surfaces_unchanged(azure_emulator: Emulator) -> None:
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=20), times=1)
    client = instructor_az.from_openai(azure_emulator.client(max_retries=0))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES, max_retries=3)
    assert caught.value.response.headers["retry-after-ms"] == "20"
    assert len(azure_emulator.requests) == 1
