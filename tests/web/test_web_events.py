"""instructor_az.web against the emulator through the real openai SDK: the events a partial stream
becomes, their wire format and headers, re-asks, typed errors, laziness, and a client that goes away
closing the stream to Azure."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx2
import pytest

import instructor_az
from instructor_az.emulator import Backend, ChatRequest, Emulator, Fault, Generation, Reply, ToolCall
from instructor_az.web import ServerSentEvent, partial_events

MESSAGES = [{"role": "user", "content": "Jane Doe of Acme Corp, jane@acme.example, Lisbon."}]
FIELDS = ["name", "company", "email", "city", "topics", "summary"]


async def _events(emulator: Emulator, web_stream: ModuleType, **kwargs: Any) -> list[ServerSentEvent]:
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    messages = [{"role": "user", "content": "Jane Doe of Acme Corp, jane@acme.example, Lisbon."}]
    stream = partial_events(
        client, response_model=web_stream.Contact, model="gpt-4o", messages=messages, **kwargs
    )
    return [event async for event in stream]


def _parse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_partials_then_the_validated_object(web_stream: ModuleType) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=5)
    emulator.scripted.push(web_stream.DEMO)
    events = await _events(emulator, web_stream)

    names = [e.event for e in events]
    assert names[-1] == "final"
    assert set(names[:-1]) == {"partial"}
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    final = events[-1].data
    assert final == {"attempt": 1, "data": web_stream.DEMO, "complete": FIELDS}
    partials = [e.data for e in events[:-1]]
    assert all(p["attempt"] == 1 for p in partials)
    # Fields complete in the model's order and never go back; a half-written string grows.
    for before, after in itertools.pairwise(partials):
        assert after["complete"][: len(before["complete"])] == before["complete"]
    for p in partials:
        assert p["complete"] == FIELDS[: len(p["complete"])]
    names_seen = [p["data"]["name"] for p in partials if p["data"]["name"]]
    assert names_seen[0] != "Jane Doe"
    assert names_seen[-1] == "Jane Doe"
    assert any(p["complete"] == ["name"] for p in partials)


async def test_nested_paths_are_listed_while_their_parent_is_open() -> None:
    from pydantic import BaseModel

    from instructor_az.web import complete_paths

    class Line(BaseModel):
        sku: str
        qty: int

    class Order(BaseModel):
        customer: str
        lines: list[Line]

    emulator = Emulator(backend="scripted", chunk_chars=4)
    emulator.scripted.push(
        {"customer": "Acme", "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}]}
    )
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    seen: list[list[str]] = []
    async for event in partial_events(client, response_model=Order, model="gpt-4o", messages=MESSAGES):
        seen.append(event.data["complete"])
    assert ["customer", "lines.0.sku", "lines.0.qty", "lines.1.sku"] in seen
    assert seen[-1] == ["customer", "lines"]
    assert complete_paths(None) == []


async def test_a_reask_is_an_event_and_the_next_attempt_streams_from_the_start(
    web_stream: ModuleType,
) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=6)
    emulator.scripted.push({**web_stream.DEMO, "email": "jane at acme"}, web_stream.DEMO)
    events = await _events(emulator, web_stream)

    names = [e.event for e in events]
    assert names.count("reask") == 1
    assert names[-1] == "final"
    reask = events[names.index("reask")].data
    assert reask["attempt"] == 2
    assert reask["previous_attempt"] == 1
    assert reask["errors"] == [
        {"loc": "email", "msg": "Value error, email must be an address like name@example.com"}
    ]
    before, after = events[: names.index("reask")], events[names.index("reask") + 1 :]
    assert {e.data["attempt"] for e in before} == {1}
    assert {e.data["attempt"] for e in after} == {2}
    assert after[0].data["complete"] == []  # the re-asked answer starts over
    assert events[-1].data["data"]["email"] == "jane@acme.example"
    assert len(emulator.requests) == 2


async def test_validation_exhausted_is_an_error_event(web_stream: ModuleType) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=40)
    bad = {**web_stream.DEMO, "email": "nope"}
    emulator.scripted.push(bad, bad, bad)
    events = await _events(emulator, web_stream, max_retries=2)  # two re-asks: three attempts

    assert [e.event for e in events if e.event != "partial"] == ["reask", "reask", "error"]
    error = events[-1].data
    assert error["type"] == "InstructorRetryException"
    assert error["attempts"] == 3
    assert error["attempt"] == 3
    assert error["errors"][0]["loc"] == "email"
    assert "3 attempts to get a valid Contact failed" in error["message"]


async def test_a_content_filter_is_a_typed_error_event(web_stream: ModuleType) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=5)
    emulator.scripted.push(Fault.completion_filter(after_chars=40, violence="high"), web_stream.DEMO)
    events = await _events(emulator, web_stream)

    assert events[0].event == "partial"
    assert events[-1].event == "error"
    assert [e.event for e in events].count("error") == 1
    error = events[-1].data
    assert error["type"] == "ContentFilterError"
    assert error["source"] == "completion"
    assert error["filtered_categories"] == ["violence"]
    assert error["categories"]["violence"] == {"filtered": True, "severity": "high", "detected": None}
    assert "content filter blocked the completion" in error["message"]
    assert any(e.data.get("complete") == ["name"] for e in events[:-1])  # what passed before the cut


async def test_nothing_is_requested_until_the_events_are_read(web_stream: ModuleType) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=5)
    emulator.scripted.push(web_stream.DEMO)
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    events = partial_events(client, response_model=web_stream.Contact, model="gpt-4o", messages=MESSAGES)
    assert len(emulator.requests) == 0
    first = await events.__anext__()
    assert first.event == "partial"
    assert len(emulator.requests) == 1
    await events.aclose()


async def test_the_clients_own_hooks_are_untouched(web_stream: ModuleType) -> None:
    emulator = Emulator(backend="scripted", chunk_chars=40)
    emulator.scripted.push({**web_stream.DEMO, "email": "x"}, web_stream.DEMO)
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    errors: list[BaseException] = []
    client.on("parse:error", errors.append)
    async for _ in partial_events(
        client, response_model=web_stream.Contact, model="gpt-4o", messages=MESSAGES
    ):
        pass
    assert len(errors) == 1  # the client's handler ran once; the helper's handlers were on a copy
    assert set(client.hooks._handlers) == {instructor_az.hooks.HookName.PARSE_ERROR}


def test_a_sync_client_is_refused(web_stream: ModuleType) -> None:
    client = instructor_az.from_openai(Emulator(backend="scripted").client())
    with pytest.raises(TypeError, match="async client"):
        partial_events(client, response_model=web_stream.Contact).__aiter__().__anext__().send(None)  # type: ignore[arg-type]


# --- over HTTP ---------------------------------------------------------------------------------------


def test_the_response_is_an_uncached_event_stream(
    web_url: str, web_emulator: Emulator, web_stream: ModuleType
) -> None:
    web_emulator.scripted.push(web_stream.DEMO)
    response = httpx2.post(web_url + "extract", json={"text": "Jane"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "no-cache" in response.headers["cache-control"]
    assert response.headers["x-accel-buffering"] == "no"
    events = _parse(response.text)
    assert events[-1] == ("final", {"attempt": 1, "data": web_stream.DEMO, "complete": FIELDS})
    assert "emulator-key" not in response.text
    assert "api-key" not in response.text


def test_a_bad_request_is_a_400(web_url: str) -> None:
    assert httpx2.post(web_url + "extract", json={"text": " "}).status_code == 400
    assert httpx2.post(web_url + "extract", content=b"not json").status_code == 400


class _PacedGeneration(Generation):
    """The answer's JSON in 4-character pieces, one every 50 ms; records how far it got."""

    tool = "Contact"

    def __init__(self, text: str) -> None:
        self.pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
        self.produced = 0
        self.exhausted = False
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[str]:
        for piece in self.pieces:
            if self.closed.is_set():
                return
            time.sleep(0.05)
            self.produced += 1
            yield piece
        self.exhausted = True

    def close(self) -> None:
        self.closed.set()


class _PacedBackend(Backend):
    blocking = True

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.generations: list[_PacedGeneration] = []

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(tool_calls=[ToolCall("Contact", self.answer)])

    def stream(self, request: ChatRequest) -> Generation:
        generation = _PacedGeneration(json.dumps(self.answer))
        self.generations.append(generation)
        return generation


def test_a_client_that_goes_away_stops_the_azure_stream(web_stream: ModuleType) -> None:
    backend = _PacedBackend(web_stream.DEMO)
    emulator = Emulator(backend=backend)
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    with web_stream.serving(web_stream.create_app(client)) as url:
        with (
            httpx2.Client(timeout=30) as http,
            http.stream("POST", url + "extract", json={"text": "Jane"}) as r,
        ):
            lines = r.iter_lines()
            assert next(lines).startswith("id:")
            assert next(lines) == "event: partial"
        # the browser tab is closed: the response, then the call's stream to the emulator, are closed
        (generation,) = backend.generations
        assert generation.closed.wait(5), "the model's stream was not closed after the client went away"
        time.sleep(0.2)
        assert not generation.exhausted
        assert generation.produced < len(generation.pieces) // 2
    assert len(emulator.requests) == 1


async def test_closing_the_events_closes_the_stream(web_stream: ModuleType) -> None:
    backend = _PacedBackend(web_stream.DEMO)
    emulator = Emulator(backend=backend)
    client = instructor_az.from_openai(emulator.async_client(max_retries=0))
    events = partial_events(client, response_model=web_stream.Contact, model="gpt-4o", messages=MESSAGES)
    assert (await events.__anext__()).event == "partial"
    await events.aclose()
    (generation,) = backend.generations
    assert generation.closed.wait(5)
    assert not generation.exhausted
