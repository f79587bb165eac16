"""instructor's `from_provider("azure_openai/<deployment>")` / `("openai/<model>")`, through the real SDK."""

from __future__ import annotations

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI, OpenAI
from pydantic import BaseModel

import instructor_az
from instructor_az import AsyncInstructor, ConfigurationError, Instructor, Mode
from instructor_az.auto_client import DEFAULT_AZURE_API_VERSION
from instructor_az.emulator import Emulator
from instructor_az.testing import TEST_API_KEY

ENDPOINT = "https://emulator.openai.azure.com"
MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
ANSWER = {"name": "John", "age": 30}


class User(BaseModel):
    name: str
    age: int


@pytest.fixture(autouse=True)
def no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_OPENAI_DEPLOYMENT",
        "OPENAI_API_VERSION",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_deployment_is_every_calls_model(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER, ANSWER)
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o-mini",
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        api_version="2024-10-21",
        http_client=azure_emulator.http_client(),
    )

    assert isinstance(client, Instructor)
    assert isinstance(client.client, AzureOpenAI)
    assert client.default_model == "gpt-4o-mini"
    assert client.chat.completions.create(response_model=User, messages=MESSAGES) == User(name="John", age=30)
    assert azure_emulator.last_request.deployment == "gpt-4o-mini"
    assert azure_emulator.last_request.api_version == "2024-10-21"

    client.chat.completions.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert azure_emulator.last_request.deployment == "gpt-4o"  # a call's own model= wins


def test_response_model_none_gets_the_model_too(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push("Hi")
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o",
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        http_client=azure_emulator.http_client(),
    )

    completion = client.chat.completions.create(messages=MESSAGES)

    assert completion.choices[0].message.content == "Hi"
    assert azure_emulator.last_request.deployment == "gpt-4o"
    assert azure_emulator.last_request.api_version == DEFAULT_AZURE_API_VERSION


async def test_async_client_and_mode(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o",
        async_client=True,
        mode=Mode.JSON_SCHEMA,
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        http_client=azure_emulator.async_http_client(),
    )

    assert isinstance(client, AsyncInstructor)
    assert isinstance(client.client, AsyncAzureOpenAI)
    user = await client.chat.completions.create(response_model=User, messages=MESSAGES)
    assert user.age == 30
    assert azure_emulator.last_request.body["response_format"]["type"] == "json_schema"


def test_other_keywords_are_defaults_of_every_call(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER, ANSWER)
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o",
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        http_client=azure_emulator.http_client(),
        max_retries=0,  # the SDK client's own (transport retries)
        temperature=0,
        max_tokens=100,
    )

    assert client.client.max_retries == 0
    client.chat.completions.create(response_model=User, messages=MESSAGES)
    body = azure_emulator.last_request.body
    assert body["temperature"] == 0
    assert body["max_tokens"] == 100
    client.chat.completions.create(response_model=User, messages=MESSAGES, temperature=0.5)
    assert azure_emulator.last_request.body["temperature"] == 0.5


def test_entra_id_through_a_token_provider(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o",
        azure_endpoint=ENDPOINT,
        azure_ad_token_provider=lambda: Emulator.entra_token(),
        http_client=azure_emulator.http_client(),
    )

    assert client.chat.completions.create(response_model=User, messages=MESSAGES).name == "John"
    assert azure_emulator.last_request.auth == "bearer"


def test_an_azure_deployment_variable_does_not_reroute_the_string(
    azure_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-4")
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o",
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        http_client=azure_emulator.http_client(),
    )

    client.chat.completions.create(response_model=User, messages=MESSAGES)
    assert azure_emulator.last_request.deployment == "gpt-4o"


@pytest.mark.loopback
def test_credentials_from_the_usual_variables(
    azure_emulator: Emulator, azure_emulator_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure_emulator_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-08-01-preview")
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_provider("azure_openai/gpt-4o")
    try:
        assert client.chat.completions.create(response_model=User, messages=MESSAGES).age == 30
    finally:
        client.client.close()
    assert azure_emulator.last_request.api_version == "2024-08-01-preview"
    assert azure_emulator.last_request.auth == "api-key"


def test_openai_on_azures_v1_routes(azure_emulator: Emulator) -> None:
    azure_emulator.scripted.push(ANSWER)
    client = instructor_az.from_provider(
        "openai/gpt-4o",
        api_key=TEST_API_KEY,
        base_url=f"{ENDPOINT}/openai/v1/",
        http_client=azure_emulator.http_client(),
    )

    assert isinstance(client.client, OpenAI)
    assert client.chat.completions.create(response_model=User, messages=MESSAGES).name == "John"
    assert azure_emulator.last_request.path == "/openai/v1/chat/completions"
    assert azure_emulator.last_request.body["model"] == "gpt-4o"


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT") as error:
        instructor_az.from_provider("azure_openai/gpt-4o", api_key="k")
    assert str(error.value).startswith('from_provider("azure_openai/...") needs azure_endpoint=')
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        instructor_az.from_provider("azure_openai/gpt-4o", azure_endpoint=ENDPOINT)


@pytest.mark.parametrize("string", ["anthropic/claude-sonnet-4-6", "google/gemini-2.5-flash", "nope/x"])
def test_a_provider_not_served_names_the_ones_served(string: str) -> None:
    with pytest.raises(ConfigurationError, match="Unsupported provider") as error:
        instructor_az.from_provider(string)
    message = str(error.value)
    assert "not served by instructor-az" in message
    assert "azure_openai/<deployment>" in message
    assert "openai/<model>" in message


@pytest.mark.parametrize("string", ["gpt-4o", "azure_openai/", "/gpt-4o"])
def test_the_string_is_provider_slash_model(string: str) -> None:
    with pytest.raises(ConfigurationError, match="Model string must be in format"):
        instructor_az.from_provider(string)


def test_response_caching_is_refused_saying_so() -> None:
    with pytest.raises(ConfigurationError, match="caching is not part of instructor-az"):
        instructor_az.from_provider(
            "azure_openai/gpt-4o", azure_endpoint=ENDPOINT, api_key="k", cache=object()
        )


def test_it_logs_the_provider_it_builds(azure_emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="instructor_az.auto_client")
    instructor_az.from_provider(
        "azure_openai/gpt-4o",
        azure_endpoint=ENDPOINT,
        api_key=TEST_API_KEY,
        http_client=azure_emulator.http_client(),
    )
    messages = [record.getMessage() for record in caplog.records]
    assert "Initializing azure_openai provider with model gpt-4o" in messages
    assert "Client initialized" in messages
    assert TEST_API_KEY not in " ".join(messages)
