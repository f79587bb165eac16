"""The Responses path through the other drivers: pipelines, routers, hooks, async re-asks."""

from __future__ import annotations

import contextlib

import pytest
from openai.types.responses import Response
from responses_kit import API_VERSION, TEXT, User, responses_requests, wrap

import instructor_az
from instructor_az import Mode
from instructor_az.emulator import Emulator, Fault
from instructor_az.router import Router, Target


def test_a_pipeline_runs_on_the_responses_api(emulator: Emulator) -> None:
    emulator.scripted.on(lambda request: True, {"name": "Someone", "age": 40})
    client = wrap(emulator, Mode.RESPONSES_JSON_SCHEMA)
    texts = [f"Person {i} is 40" for i in range(12)]
    outcomes = list(instructor_az.extract_many(client.responses, texts, response_model=User))
    assert len(outcomes) == 12
    assert all(o.ok and o.value == User(name="Someone", age=40) for o in outcomes)
    requests = responses_requests(emulator)
    assert len(requests) == 12
    assert all(r.body["text"]["format"]["type"] == "json_schema" for r in requests)


def test_a_router_routes_responses_and_its_streams(emulator: Emulator) -> None:
    other = Emulator(backend="scripted", region="West US")
    try:
        router = Router(
            [
                Target(emulator.client(api_version=API_VERSION), name="eastus", model="gpt-4o"),
                Target(other.client(api_version=API_VERSION), name="westus", model="gpt-4o"),
            ],
            strategy="ordered",
        )
        client = instructor_az.from_openai(router, mode=Mode.RESPONSES_TOOLS)
        served = []
        client.on("route:served", served.append)
        emulator.inject(Fault.server_error(503))
        other.scripted.push({"name": "John", "age": 30}, {"name": "Mary", "age": 41})
        assert client.responses.create(response_model=User, input=TEXT) == User(name="John", age=30)
        emulator.scripted.push({"name": "never", "age": 0})  # answered, then the connection drops
        emulator.inject(Fault.drop_connection())
        partials = list(client.responses.create_partial(response_model=User, input=TEXT))
        assert partials[-1] == User(name="Mary", age=41)
        assert [s.target for s in served] == ["westus", "westus"]
        assert all(s.failovers == ("eastus",) for s in served)
    finally:
        other.close()


async def test_async_reasks_and_hooks_see_responses(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": "thirty"}, {"name": "John", "age": 30})
    client = wrap(emulator, Mode.RESPONSES_TOOLS, "async")
    seen, usages, errors = [], [], []
    client.on("completion:response", seen.append)
    client.on("completion:usage", lambda usage, attempt_number: usages.append((attempt_number, usage)))
    client.on("parse:error", errors.append)
    user, response = await client.responses.create_with_completion(response_model=User, input=TEXT)
    assert user == User(name="John", age=30)
    assert all(isinstance(r, Response) for r in seen)
    assert len(seen) == 2
    assert len(errors) == 1
    first, second = (Usage for _, Usage in usages)
    assert second.prompt_tokens > first.prompt_tokens > 0
    assert response.usage.input_tokens == second.prompt_tokens  # the returned response reports both attempts
    assert response.usage.output_tokens == second.completion_tokens


def test_inbuilt_tools_ride_along_with_the_function(emulator: Emulator) -> None:
    emulator.scripted.push({"name": "John", "age": 30})
    client = wrap(emulator, Mode.RESPONSES_TOOLS_WITH_INBUILT_TOOLS)
    with contextlib.suppress(Exception):  # the emulator may not serve a built-in tool: the request is checked
        client.responses.create(response_model=User, input=TEXT, tools=[{"type": "web_search_preview"}])
    body = responses_requests(emulator)[0].body
    assert [t["type"] for t in body["tools"]] == ["function", "web_search_preview"]
    with pytest.raises(instructor_az.ConfigurationError, match="tools="):
        client.responses.create(
            response_model=User, input=TEXT, tools=[{"type": "function", "name": "x", "parameters": {}}]
        )


def test_a_client_in_a_responses_mode_writes_responses_batch_lines(emulator: Emulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Azure's batch takes `/v1/responses` lines: a client in a Responses mode writes them (the whole
    job is in tests/batch/test_batch_responses.py)."""
    import json

    from instructor_az.batch import write_requests

    client = wrap(emulator, Mode.RESPONSES_JSON_SCHEMA)
    written = write_requests(
        client, ["John is 30"], tmp_path / "job", response_model=User, model="gpt-4o-batch"
    )
    line = json.loads(written.paths[0].read_text())
    assert line["url"] == "/v1/responses"
    assert line["body"]["text"]["format"]["type"] == "json_schema"
    assert line["body"]["input"][-1]["content"] == "John is 30"
    assert len(emulator.requests) == 0  # writing sends nothing
