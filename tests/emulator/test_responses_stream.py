"""Streamed Responses API calls through the openai SDK's own event iterators: every event parsed into its
typed class, in the Responses API's order, with increasing `sequence_number`; cut-offs, in-band
failures and dropped connections; sync, async, and over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai import AzureOpenAI, OpenAI
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseRefusalDeltaEvent,
    ResponseRefusalDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

from instructor_az.emulator import ChatRequest, Emulator, Fault, Reply, ToolCall

VERSION = "2025-03-01-preview"
ANSWER = "Microsoft was founded on April 4, 1975."
TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": None,
}


@pytest.fixture
def azure(emulator: Emulator) -> Iterator[AzureOpenAI]:
    client = emulator.client(api_version=VERSION, max_retries=0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def v1(emulator: Emulator) -> Iterator[OpenAI]:
    client = emulator.openai_client(max_retries=0)
    try:
        yield client
    finally:
        client.close()


def _types(events: list[Any]) -> list[type]:
    return [type(e) for e in events]


def _check_numbering(events: list[Any]) -> None:
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_text_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.scripted.push(ANSWER)
    events = list(azure.responses.create(model="gpt-4o", input="When was Microsoft founded?", stream=True))
    _check_numbering(events)
    created, in_progress, added, part_added, *deltas, text_done, part_done, item_done, completed = events
    assert isinstance(created, ResponseCreatedEvent)
    assert created.response.status == "in_progress"
    assert created.response.output == []
    assert created.response.usage is None
    assert isinstance(in_progress, ResponseInProgressEvent)
    assert isinstance(added, ResponseOutputItemAddedEvent)
    assert (added.item.type, added.item.status, added.output_index) == ("message", "in_progress", 0)
    assert isinstance(part_added, ResponseContentPartAddedEvent)
    assert part_added.part.type == "output_text"
    assert all(isinstance(d, ResponseTextDeltaEvent) for d in deltas)
    assert [d.delta for d in deltas] == [ANSWER[i : i + 8] for i in range(0, len(ANSWER), 8)]  # chunk_chars
    assert {d.item_id for d in deltas} == {added.item.id}
    assert isinstance(text_done, ResponseTextDoneEvent)
    assert text_done.text == ANSWER
    assert isinstance(part_done, ResponseContentPartDoneEvent)
    assert isinstance(item_done, ResponseOutputItemDoneEvent)
    assert item_done.item.status == "completed"
    assert isinstance(completed, ResponseCompletedEvent)
    final = completed.response
    assert (final.status, final.output_text, final.id) == ("completed", ANSWER, created.response.id)
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    assert (final.model_extra or {})["content_filters"][1]["blocked"] is False
    # A stored stream is retrievable as the final response.
    assert azure.responses.retrieve(final.id).output_text == ANSWER


def test_wire_framing_has_event_lines_and_no_done(emulator: Emulator) -> None:
    emulator.scripted.push("Hi.")
    with emulator.http_client() as http:
        response = http.post(
            f"{emulator.endpoint}/openai/v1/responses",
            headers={"api-key": emulator.api_keys[0]},
            json={"model": "gpt-4o", "input": "x", "stream": True},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[0].startswith("event: response.created\ndata: {")
    for block in blocks:
        event_line, data_line = block.split("\n")
        assert event_line == f"event: {json.loads(data_line.removeprefix('data: '))['type']}"
    assert "[DONE]" not in response.text


def test_function_call_stream(emulator: Emulator, v1: OpenAI) -> None:
    emulator.scripted.push(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Oslo"}), ToolCall("get_weather", {"city": "Lima"})]
        )
    )
    events = list(v1.responses.create(model="gpt-4o", input="Weather?", tools=[TOOL], stream=True))  # type: ignore[list-item]
    _check_numbering(events)
    kinds = _types(events)
    assert kinds[:2] == [ResponseCreatedEvent, ResponseInProgressEvent]
    assert kinds[-1] is ResponseCompletedEvent
    added = [e for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
    assert [(a.output_index, a.item.type, a.item.arguments) for a in added] == [  # type: ignore[union-attr]
        (0, "function_call", ""),
        (1, "function_call", ""),
    ]
    for index, city in enumerate(("Oslo", "Lima")):
        deltas = [
            e
            for e in events
            if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent) and e.output_index == index
        ]
        (done,) = [
            e
            for e in events
            if isinstance(e, ResponseFunctionCallArgumentsDoneEvent) and e.output_index == index
        ]
        assert "".join(d.delta for d in deltas) == done.arguments
        assert json.loads(done.arguments) == {"city": city}
        assert {d.item_id for d in deltas} == {added[index].item.id}
    first_call = [e for e in events if getattr(e, "output_index", None) == 0]
    assert _types(first_call)[0] is ResponseOutputItemAddedEvent
    assert _types(first_call)[-2:] == [ResponseFunctionCallArgumentsDoneEvent, ResponseOutputItemDoneEvent]
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.call_id for item in final.output] == [a.item.call_id for a in added]  # type: ignore[union-attr]


def test_refusal_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.scripted.push(Reply(refusal="I can't help with that."))
    events = list(azure.responses.create(model="gpt-4o", input="x", stream=True))
    refusals = [e for e in events if isinstance(e, ResponseRefusalDeltaEvent)]
    (done,) = [e for e in events if isinstance(e, ResponseRefusalDoneEvent)]
    assert "".join(r.delta for r in refusals) == done.refusal == "I can't help with that."
    assert not [e for e in events if isinstance(e, ResponseTextDeltaEvent)]


def test_max_output_tokens_ends_a_stream_incomplete(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.scripted.push(" ".join(f"word{i}" for i in range(100)))
    events = list(azure.responses.create(model="gpt-4o", input="Talk.", max_output_tokens=16, stream=True))
    last = events[-1]
    assert isinstance(last, ResponseIncompleteEvent)
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    item_done = next(e for e in events if isinstance(e, ResponseOutputItemDoneEvent))
    assert item_done.item.status == "incomplete"


def test_completion_filter_mid_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.inject(Fault.completion_filter(after_chars=12, sexual="medium"))
    emulator.scripted.push("An answer that the filter stops early.")
    events = list(azure.responses.create(model="gpt-4o", input="x", stream=True))
    text = "".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent))
    assert text == "An answer th"
    last = events[-1]
    assert isinstance(last, ResponseIncompleteEvent)
    assert last.response.incomplete_details.reason == "content_filter"  # type: ignore[union-attr]
    completion = (last.response.model_extra or {})["content_filters"][1]
    assert completion["blocked"] is True
    assert completion["content_filter_results"]["sexual"] == {"filtered": True, "severity": "medium"}


def test_prompt_filter_fails_a_stream_in_band(emulator: Emulator, azure: AzureOpenAI) -> None:
    """Azure answers 200, sends response.created, then response.failed and an `error` event whose nested
    error the SDK raises as `APIError`."""
    emulator.inject(Fault.prompt_filter(violence="high"))
    seen: list[Any] = []
    with pytest.raises(openai.APIError) as caught:
        for event in azure.responses.create(model="gpt-4o", input="x", stream=True):
            seen.append(event)
    assert _types(seen) == [ResponseCreatedEvent, ResponseFailedEvent]
    failed = seen[1].response
    assert (failed.status, failed.error, failed.output) == ("failed", None, [])
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "content_filter"
    assert body["innererror"]["content_filter_result"]["violence"] == {"filtered": True, "severity": "high"}
    assert emulator.last_request.status == 200


def test_a_scripted_prompt_filter_on_a_stream(emulator: Emulator, v1: OpenAI) -> None:
    emulator.scripted.push(Fault.prompt_filter(hate="medium"))
    with pytest.raises(openai.APIError):
        list(v1.responses.create(model="gpt-4o", input="x", stream=True))


def test_server_error_mid_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.inject(Fault.server_error(500, after_chunks=5))
    emulator.scripted.push(ANSWER)
    seen: list[Any] = []
    with pytest.raises(openai.APIError) as caught:
        for event in azure.responses.create(model="gpt-4o", input="x", stream=True):
            seen.append(event)
    assert len(seen) == 6
    assert isinstance(seen[4], ResponseTextDeltaEvent)
    assert isinstance(seen[5], ResponseFailedEvent)
    failed = seen[5].response
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "server_error"
    _check_numbering(seen)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "server_error"
    assert azure.responses.retrieve(failed.id).status == "failed"
    # The same fault before any answer is still the HTTP error (and so is a non-streamed request's).
    emulator.inject(Fault.server_error(500, after_chunks=5))
    with pytest.raises(openai.InternalServerError):
        azure.responses.create(model="gpt-4o", input="x")
    assert Fault.parse(Fault.server_error(503, after_chunks=2).spec) == Fault.server_error(
        503, after_chunks=2
    )


def test_dropped_connection_mid_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.inject(Fault.drop_connection(after_chunks=4))
    emulator.scripted.push(ANSWER)
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        for event in azure.responses.create(model="gpt-4o", input="x", stream=True):
            seen.append(event)
    assert len(seen) == 4


def test_rate_limit_before_a_stream(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.inject(Fault.rate_limit(retry_after_ms=5))
    with pytest.raises(openai.RateLimitError):
        azure.responses.create(model="gpt-4o", input="x", stream=True)


def test_stream_headers(emulator: Emulator, azure: AzureOpenAI) -> None:
    emulator.scripted.push("ok")
    with azure.responses.with_streaming_response.create(model="gpt-4o", input="x", stream=True) as raw:
        assert raw.headers["x-ratelimit-remaining-tokens"] == "-1"
        assert raw.headers["x-ms-deployment-name"] == "gpt-4o"
        assert "".join(e.delta for e in raw.parse() if isinstance(e, ResponseTextDeltaEvent)) == "ok"


def test_previous_response_id_from_a_stream(emulator: Emulator, v1: OpenAI) -> None:
    captured: list[ChatRequest] = []

    def second(request: ChatRequest) -> str:
        captured.append(request)
        return "Second."

    emulator.scripted.push("First.", second)
    first = list(v1.responses.create(model="gpt-4o", input="One?", stream=True))[-1].response  # type: ignore[union-attr]
    v1.responses.create(model="gpt-4o", input="Two?", previous_response_id=first.id)
    assert [m["content"] for m in captured[0].messages] == ["One?", "First.", "Two?"]


async def test_async_stream(emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    async with emulator.async_client(api_version=VERSION, max_retries=0) as client:
        stream = await client.responses.create(model="gpt-4o", input="x", stream=True)
        events = [event async for event in stream]
    _check_numbering(events)
    assert isinstance(events[-1], ResponseCompletedEvent)
    assert events[-1].response.output_text == ANSWER


async def test_async_in_band_failure(emulator: Emulator) -> None:
    emulator.inject(Fault.prompt_filter())
    async with emulator.async_openai_client(max_retries=0) as client:
        stream = await client.responses.create(model="gpt-4o", input="x", stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass


@pytest.mark.loopback
def test_over_loopback() -> None:
    emulator = Emulator(backend="scripted")
    try:
        emulator.scripted.push(
            ANSWER, Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]), "It is sunny."
        )
        with emulator.serve() as url:
            with AzureOpenAI(
                azure_endpoint=url, api_key=emulator.api_keys[0], api_version=VERSION, max_retries=0
            ) as azure:
                assert azure.responses.create(model="gpt-4o", input="x").output_text == ANSWER
            with OpenAI(base_url=f"{url}/openai/v1/", api_key=emulator.api_keys[0], max_retries=0) as client:
                events = list(
                    client.responses.create(model="gpt-4o", input="Weather?", tools=[TOOL], stream=True)
                )  # type: ignore[list-item]
                _check_numbering(events)
                final = events[-1].response  # type: ignore[union-attr]
                call = final.output[0]
                answer = client.responses.create(
                    model="gpt-4o",
                    previous_response_id=final.id,
                    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],  # type: ignore[union-attr]
                )
                assert answer.output_text == "It is sunny."
                emulator.inject(Fault.drop_connection(after_chunks=3))
                emulator.scripted.push(ANSWER)
                with pytest.raises(openai.APIConnectionError):
                    list(client.responses.create(model="gpt-4o", input="x", stream=True))
            with httpx2.Client() as http:
                gone = http.get(
                    f"{url}/openai/v1/responses/resp_missing", headers={"api-key": emulator.api_keys[0]}
                )
            assert gone.status_code == 404
    finally:
        emulator.close()
