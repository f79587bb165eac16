"""`from_azure(...)`: the sign-in you choose (a key, a token, a provider, a credential, or a method built
from Azure's variables), the dated API or the v1 API, through the real SDK against the emulator. No
secret in any error or repr."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI, AzureOpenAI, OpenAI
from pydantic import BaseModel

import instructor_az
from instructor_az import Mode
from instructor_az._auth import AzureAuthError
from instructor_az.emulator import DEFAULT_ENDPOINT, Emulator

KEY = "from-azure-test-key-4711"
ENV = (
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "OPENAI_API_VERSION",
    "AZURE_OPENAI_DEPLOYMENT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
)  # fmt: skip


class User(BaseModel):
    name: str
    age: int


MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", DEFAULT_ENDPOINT)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", api_keys=[KEY])
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    yield emulator
    emulator.close()


def _call(client: Any) -> User:
    return client.create(model="gpt-4o", response_model=User, messages=MESSAGES)  # type: ignore[no-any-return]


def test_a_key_from_the_argument_or_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = instructor_az.from_azure(api_key=KEY, http_client=emulator.http_client())
    assert isinstance(client.client, AzureOpenAI)
    assert client.mode is Mode.AUTO
    assert _call(client) == User(name="John", age=30)
    assert emulator.requests[0].auth == "api-key"
    assert emulator.requests[0].api_version == "2024-10-21"
    assert "response_format" in emulator.requests[0].body  # AUTO on the latest GA: strict json_schema
    assert KEY not in repr(client)

    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-02-15-preview")
    from_env = instructor_az.from_azure(http_client=emulator.http_client())
    assert _call(from_env).age == 30
    assert emulator.requests[-1].api_version == "2024-02-15-preview"
    assert "tools" in emulator.requests[-1].body  # AUTO on seed 000's version: tools


def test_a_static_token_and_token_providers_sync_and_async(emulator: Emulator) -> None:
    token = Emulator.entra_token()
    client = instructor_az.from_azure(azure_ad_token=token, http_client=emulator.http_client())
    assert _call(client).age == 30
    assert emulator.requests[-1].auth == "bearer"

    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return token

    client = instructor_az.from_azure(azure_ad_token_provider=provider, http_client=emulator.http_client())
    _call(client)
    _call(client)
    assert len(calls) == 2  # asked before each request (azure-identity's provider caches underneath)

    async def run() -> User:
        async def async_provider() -> str:
            return token

        aclient = instructor_az.from_azure(
            azure_ad_token_provider=async_provider, use_async=True, http_client=emulator.async_http_client()
        )
        return await aclient.create(model="gpt-4o", response_model=User, messages=MESSAGES)

    assert asyncio.run(run()).name == "John"
    with pytest.raises(instructor_az.ConfigurationError, match="use_async=True"):

        async def async_provider() -> str:
            return token

        instructor_az.from_azure(azure_ad_token_provider=async_provider)


def test_a_failing_provider_is_a_typed_error_without_the_secret(emulator: Emulator) -> None:
    secret = "client-secret-value-000"

    def provider() -> str:
        raise RuntimeError(f"token request refused for secret {secret}")

    client = instructor_az.from_azure(
        auth="token_provider",
        azure_ad_token_provider=provider,
        http_client=emulator.http_client(),
        max_retries=0,
    )
    with pytest.raises(AzureAuthError) as caught:
        _call(client)
    assert caught.value.method == "token_provider"
    assert "Entra ID sign-in failed" in str(caught.value)
    assert len(emulator.requests) == 0  # nothing was sent without a token


def test_choices_are_explicit_and_missing_settings_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(instructor_az.ConfigurationError, match="several credentials") as several:
        instructor_az.from_azure(api_key=KEY, azure_ad_token="t")
    assert KEY not in str(several.value)
    with pytest.raises(instructor_az.ConfigurationError, match="AZURE_OPENAI_API_KEY") as none:
        instructor_az.from_azure()
    assert "'managed_identity'" in str(none.value)
    with pytest.raises(instructor_az.ConfigurationError, match=r"tenant_id= \(or AZURE_TENANT_ID\)"):
        instructor_az.from_azure(auth="service_principal")
    monkeypatch.setenv("AZURE_TENANT_ID", "t")
    monkeypatch.setenv("AZURE_CLIENT_ID", "c")
    with pytest.raises(instructor_az.ConfigurationError, match="AZURE_CLIENT_SECRET"):
        instructor_az.from_azure(auth="service_principal")
    with pytest.raises(instructor_az.ConfigurationError, match="AZURE_FEDERATED_TOKEN_FILE"):
        instructor_az.from_azure(auth="workload_identity")
    with pytest.raises(instructor_az.ConfigurationError, match="not a method"):
        instructor_az.from_azure(auth="password")
    with pytest.raises(instructor_az.ConfigurationError, match="not an Azure OpenAI api-version"):
        instructor_az.from_azure(api_key=KEY, api_version="2024-10")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    with pytest.raises(instructor_az.ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        instructor_az.from_azure(api_key=KEY)


def test_a_retired_api_version_warns() -> None:
    with pytest.warns(UserWarning, match="retired by Azure on 2024-07-01"):
        instructor_az.from_azure(api_key=KEY, api_version="2023-12-01-preview")


def test_without_the_azure_extra_entra_methods_say_what_to_install() -> None:
    code = (
        "import sys; sys.modules['azure.identity'] = None; sys.modules['azure.identity.aio'] = None\n"
        "import instructor_az\n"
        "try:\n"
        "    instructor_az.from_azure(azure_endpoint='https://x.openai.azure.com', auth='managed_identity')\n"
        "except instructor_az.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'instructor-az[azure]'" in out.stdout, out.stderr


@pytest.mark.parametrize("mode", ["tools", "tools_strict", "json", "json_schema", "md_json", "auto"])
def test_every_mode_on_the_v1_api(emulator: Emulator, mode: str) -> None:
    if mode == "md_json":
        emulator.scripted.clear()
        emulator.scripted.on(lambda request: True, '```json\n{"name": "John", "age": 30}\n```')
    client = instructor_az.from_azure(
        api_key=KEY, api_version="v1", mode=mode, http_client=emulator.http_client()
    )
    assert isinstance(client.client, OpenAI)
    assert not isinstance(client.client, AzureOpenAI)
    assert str(client.client.base_url) == f"{DEFAULT_ENDPOINT}/openai/v1/"
    assert _call(client) == User(name="John", age=30)
    sent = emulator.requests[-1]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.api_version is None
    partials = list(client.create_partial(model="gpt-4o", response_model=User, messages=MESSAGES))
    assert partials[-1] == User(name="John", age=30)


def test_the_v1_api_with_entra_tokens_sync_and_async(emulator: Emulator) -> None:
    token = Emulator.entra_token()
    client = instructor_az.from_azure(
        api_version="v1", azure_ad_token_provider=lambda: token, http_client=emulator.http_client()
    )
    assert _call(client).age == 30
    assert emulator.requests[-1].auth == "bearer"

    async def run() -> User:
        aclient = instructor_az.from_azure(
            api_version="v1",
            azure_ad_token_provider=lambda: token,  # a sync provider, awaited for AsyncOpenAI
            use_async=True,
            http_client=emulator.async_http_client(),
        )
        assert isinstance(aclient.client, AsyncOpenAI)
        return await aclient.create(model="gpt-4o", response_model=User, messages=MESSAGES)

    assert asyncio.run(run()).name == "John"
    with pytest.raises(instructor_az.ConfigurationError, match="model= instead"):
        instructor_az.from_azure(api_key=KEY, api_version="v1", azure_deployment="gpt-4o")


def test_from_provider_takes_the_same_sign_in_and_the_v1_api(emulator: Emulator) -> None:
    client = instructor_az.from_provider(
        "azure_openai/gpt-4o", api_key=KEY, api_version="v1", http_client=emulator.http_client()
    )
    user = client.create(response_model=User, messages=MESSAGES)
    assert user.age == 30
    assert emulator.requests[-1].path == "/openai/v1/chat/completions"
    assert emulator.requests[-1].body["model"] == "gpt-4o"
    with pytest.raises(instructor_az.ConfigurationError, match="AZURE_FEDERATED_TOKEN_FILE"):
        instructor_az.from_provider("azure_openai/gpt-4o", auth="workload_identity")


def test_re_asks_and_the_pipeline_on_the_v1_api(emulator: Emulator) -> None:
    from pydantic import field_validator

    class Adult(BaseModel):
        name: str
        age: int

        @field_validator("age")
        @classmethod
        def grown(cls, value: int) -> int:
            if value < 18:
                raise ValueError("age must be 18 or more")
            return value

    emulator.scripted.clear()
    emulator.scripted.push({"name": "John", "age": 3})  # invalid: re-asked
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    client = instructor_az.from_azure(api_key=KEY, api_version="v1", http_client=emulator.http_client())
    adult = client.create(model="gpt-4o", response_model=Adult, messages=MESSAGES)
    assert adult.age == 30
    assert len(emulator.requests) == 2
    assert "age must be 18 or more" in str(emulator.requests[1].body["messages"])

    outcomes = list(instructor_az.extract_many(client, ["a", "b", "c"], response_model=Adult, model="gpt-4o"))
    assert all(o.ok for o in outcomes)
    assert {r.path for r in emulator.requests} == {"/openai/v1/chat/completions"}
