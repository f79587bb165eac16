"""The pytest plugin as a user meets it: fixtures available with no conftest, via the pytest11 entry point."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import json

import openai
import pytest

from instructor_az.emulator import Emulator, Fault


def test_sync_client_gets_the_scripted_answer(azure_emulator, azure_openai_client):
    assert isinstance(azure_emulator, Emulator)
    azure_emulator.scripted.push({"name": "John", "age": 30})
    completion = azure_openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "John is 30 years old. Reply in JSON."}],
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content) == {"name": "John", "age": 30}
    assert azure_emulator.last_request.deployment == "gpt-4o"


def test_sync_client_sees_injected_faults(azure_emulator, azure_openai_client):
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=10))
    with pytest.raises(openai.RateLimitError):
        azure_openai_client.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )


def test_each_test_gets_a_fresh_emulator(azure_emulator):
    assert list(azure_emulator.requests) == []
    assert azure_emulator.scripted.pending == 0


@pytest.mark.asyncio
async def test_async_client_gets_the_scripted_answer(azure_emulator, async_azure_openai_client):
    azure_emulator.scripted.push("async hello")
    completion = await async_azure_openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "async hello"


def test_endpoint_fixture_serves_on_loopback(azure_emulator, azure_emulator_endpoint):
    from openai import AzureOpenAI

    azure_emulator.scripted.push("over the wire")
    with AzureOpenAI(
        azure_endpoint=azure_emulator_endpoint, api_key="test-key", api_version="2024-10-21", max_retries=0
    ) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "over the wire"
"""


FAILING_USER_TEST = """

def test_wrong_expectation(azure_emulator, azure_openai_client):
    azure_emulator.scripted.push("actual")
    completion = azure_openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "expected"
"""
INI = ("-o", "asyncio_default_fixture_loop_scope=function")


def test_plugin_fixtures_work_in_a_users_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_code=USER_TESTS + FAILING_USER_TEST)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", *INI)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_user_code.py::test_wrong_expectation - AssertionError*"])


def test_plugin_fixtures_work_under_strict_asyncio_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_code=USER_TESTS)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=strict", *INI)
    result.assert_outcomes(passed=5)


LOCAL_USER_TEST = """
import instructor_az
from pydantic import BaseModel


class User(BaseModel):
    name: str
    age: int


def test_extracts_with_the_real_local_model(local_azure_emulator, local_azure_openai_client):
    client = instructor_az.from_openai(local_azure_openai_client)
    user = client.chat.completions.create(
        model="gpt-4o", response_model=User, messages=[{"role": "user", "content": "John is 30 years old"}]
    )
    assert user == User(name="John", age=30)
    assert local_azure_emulator.last_request.body["tool_choice"]["function"]["name"] == "User"
"""


@pytest.mark.local_model
def test_local_model_fixtures_in_a_users_test_file(pytester: pytest.Pytester) -> None:
    pytest.importorskip("llama_cpp")
    pytester.makepyfile(test_user_local=LOCAL_USER_TEST)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", *INI)
    result.assert_outcomes(passed=1)
