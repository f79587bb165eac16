"""`Mode.AUTO` and the api-version capability table, through the real SDK against the emulator: strict
json_schema where the api-version and the deployment serve it, tools where either does not (seed
000's 2024-02-15-preview; the gpt-4 turbo deployment, which refuses json_schema with Azure's 400 and is
asked again with tools, once, then remembered); an explicit mode the api-version cannot serve fails
before any request, naming the version to use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import instructor_az
from instructor_az import Mode
from instructor_az._versions import SINCE, Capabilities
from instructor_az.emulator import Emulator
from instructor_az.emulator import _api_versions as emulated


class User(BaseModel):
    name: str
    age: int


MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


def _shape(body: Any) -> str:
    if "response_format" in body:
        return str(body["response_format"]["type"])
    return "tools" if "tools" in body else "text"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted")
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    yield emulator
    emulator.close()


@pytest.mark.parametrize(
    ("api_version", "deployment", "shapes"),
    [
        ("2024-10-21", "gpt-4o", ["json_schema"]),
        ("2024-08-01-preview", "gpt-4o", ["json_schema"]),
        ("2024-02-15-preview", "gpt-4o", ["tools"]),  # seed 000's version: no structured outputs
        ("2024-10-21", "gpt-4", ["json_schema", "tools"]),  # the model refuses it: asked again with tools
    ],
)
def test_auto_picks_what_the_api_version_and_deployment_serve(
    emulator: Emulator, api_version: str, deployment: str, shapes: list[str]
) -> None:
    client = instructor_az.from_openai(emulator.client(api_version=api_version, max_retries=0), mode="auto")
    user = client.create(model=deployment, response_model=User, messages=MESSAGES)
    assert user == User(name="John", age=30)
    sent = [_shape(r.body) for r in emulator.requests]
    assert sent == shapes
    if shapes[0] == "json_schema":
        assert emulator.requests[0].body["response_format"]["json_schema"]["strict"] is True
    if shapes[-1] == "tools":
        assert emulator.requests[-1].body["tool_choice"]["function"]["name"] == "User"

    # The deployment is remembered: the next call goes straight to what it serves.
    emulator.reset()
    emulator.scripted.on(lambda request: True, {"name": "Ann", "age": 41})
    assert client.create(model=deployment, response_model=User, messages=MESSAGES).age == 41
    assert [_shape(r.body) for r in emulator.requests] == shapes[-1:]


def test_auto_falls_back_on_a_stream_before_any_chunk_and_in_async(emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.client(max_retries=0), mode=Mode.AUTO)
    partials = list(client.create_partial(model="gpt-4", response_model=User, messages=MESSAGES))
    assert partials[-1] == User(name="John", age=30)
    assert [_shape(r.body) for r in emulator.requests] == ["json_schema", "tools"]
    assert all(r.body.get("stream") for r in emulator.requests)

    async def run() -> User:
        aclient = instructor_az.from_openai(emulator.async_client(max_retries=0), mode="auto")
        return await aclient.create(model="gpt-4", response_model=User, messages=MESSAGES)

    emulator.reset()
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    assert asyncio.run(run()) == User(name="John", age=30)
    assert [_shape(r.body) for r in emulator.requests] == ["json_schema", "tools"]


def test_another_400_is_not_a_reason_to_change_plans(emulator: Emulator) -> None:
    import openai

    client = instructor_az.from_openai(emulator.client(max_retries=0), mode="auto")
    with pytest.raises(openai.NotFoundError):
        client.create(model="no-such-deployment", response_model=User, messages=MESSAGES)
    assert len(emulator.requests) == 1


def test_auto_on_the_v1_api_and_in_the_pipeline(emulator: Emulator) -> None:
    client = instructor_az.from_openai(emulator.openai_client(max_retries=0), mode="auto")
    assert client.create(model="gpt-4o", response_model=User, messages=MESSAGES).name == "John"
    assert _shape(emulator.requests[0].body) == "json_schema"

    emulator.reset()
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    azure = instructor_az.from_openai(emulator.client(max_retries=0), mode="auto")
    outcomes = list(instructor_az.extract_many(azure, ["a", "b", "c"], response_model=User, model="gpt-4"))
    assert all(o.ok for o in outcomes)
    shapes = [_shape(r.body) for r in emulator.requests]
    assert shapes.count("tools") == 3  # every row ends on tools
    assert shapes.count("json_schema") <= 3  # refused at most once per row that started before it was known


@pytest.mark.parametrize(
    ("mode", "api_version", "since"),
    [
        (Mode.JSON_SCHEMA, "2024-06-01", "2024-08-01-preview"),
        (Mode.TOOLS_STRICT, "2024-02-15-preview", "2024-08-01-preview"),
        (Mode.TOOLS, "2023-05-15", "2023-12-01-preview"),
        (Mode.JSON, "2023-05-15", "2023-12-01-preview"),
    ],
)
def test_an_explicit_mode_the_api_version_cannot_serve_fails_before_any_request(
    emulator: Emulator, mode: Mode, api_version: str, since: str
) -> None:
    client = instructor_az.from_openai(emulator.client(api_version=api_version, max_retries=0), mode=mode)
    with pytest.raises(instructor_az.ConfigurationError, match=f"from {since}") as caught:
        client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
    assert "api_version='2024-10-21' or later" in str(caught.value)
    assert len(emulator.requests) == 0
    md = instructor_az.from_openai(emulator.client(api_version=api_version, max_retries=0), mode="md_json")
    emulator.scripted.clear()
    emulator.scripted.push(f"```json\n{json.dumps({'name': 'John', 'age': 30})}\n```")
    assert md.create(model="gpt-4o", response_model=User, messages=MESSAGES).age == 30  # works on any version


@pytest.mark.parametrize("mode", [Mode.RESPONSES_TOOLS, Mode.RESPONSES_JSON_SCHEMA])
def test_a_responses_mode_on_the_ga_version_names_a_version_that_serves_it(
    emulator: Emulator, mode: Mode
) -> None:
    # No dated GA version serves the Responses API: the advice is its first preview, or v1.
    client = instructor_az.from_openai(emulator.client(api_version="2024-10-21", max_retries=0), mode=mode)
    with pytest.raises(instructor_az.ConfigurationError) as caught:
        client.responses.create(model="gpt-4o", response_model=User, input="John is 30")
    message = str(caught.value)
    assert "needs the Responses API" in message
    assert "api_version='2025-03-01-preview' or later, 'v1'" in message
    assert "'2024-10-21' or later" not in message  # not the version it is on
    assert len(emulator.requests) == 0
    served = instructor_az.from_openai(emulator.client(api_version="2025-03-01-preview"), mode=mode)
    emulator.scripted.push({"name": "John", "age": 30})
    assert served.responses.create(model="gpt-4o", response_model=User, input="John is 30").age == 30


def test_the_table_agrees_with_the_emulator_and_azures_release_order() -> None:
    assert SINCE["json_schema"] == emulated.JSON_SCHEMA_SINCE
    for argument in (
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "stream_options",
        "max_completion_tokens",
    ):
        ours = {"tool_choice": "tools", "stream_options": "stream_include_usage"}.get(argument, argument)
        assert SINCE[ours] == emulated.ARGUMENT_SINCE[argument], argument
    assert Capabilities("2024-10-21").serves("json_schema")  # GA carries the previews before it
    assert not Capabilities("2024-06-01").serves("json_schema")
    assert Capabilities("v1").serves("responses")
    assert not Capabilities("2025-02-01-preview").serves("responses")
    assert Capabilities("2025-03-01-preview").serves("responses")
    with pytest.raises(instructor_az.ConfigurationError, match="not an Azure OpenAI api-version"):
        Capabilities("2024-13").serves("tools")
