"""Streaming through the SDK's own SSE iterators: Azure's chunk sequence, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from openai.types.chat import ChatCompletionChunk

from instructor_az.emulator import Emulator, Reply, ToolCall

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "When was Microsoft founded?"},
]
ANSWER = "Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
        },
    },
]
HARM = ("hate", "self_harm", "sexual", "violence")


def _extra(chunk: ChatCompletionChunk, name: str) -> Any:
    return (chunk.model_extra or {}).get(name)


def _choice_filters(chunk: ChatCompletionChunk) -> Any:
    return (chunk.choices[0].model_extra or {}).get("content_filter_results")


def _check_azure_sequence(chunks: list[ChatCompletionChunk], answer: str) -> None:
    """Azure's order: prompt annotations (no choices), role, content deltas, finish."""
    first, role, *deltas, last = chunks
    assert first.choices == []
    assert first.id == ""
    assert first.created == 0
    prompt_results = _extra(first, "prompt_filter_results")
    assert prompt_results[0]["prompt_index"] == 0
    assert set(HARM) <= set(prompt_results[0]["content_filter_results"])
    assert role.choices[0].delta.role == "assistant"
    assert role.choices[0].finish_reason is None
    assert deltas
    for chunk in deltas:
        assert chunk.choices[0].delta.content
        assert chunk.choices[0].finish_reason is None
        filters = _choice_filters(chunk)
        for category in HARM:
            assert filters[category] == {"filtered": False, "severity": "safe"}
    assert "".join(c.choices[0].delta.content or "" for c in deltas) == answer
    assert last.choices[0].finish_reason == "stop"
    assert last.choices[0].delta.content is None
    ids = {c.id for c in chunks[1:]}
    assert len(ids) == 1
    assert ids.pop().startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" for c in chunks[1:])
    assert all(c.usage is None for c in chunks)


def test_sync_stream_follows_azures_chunk_sequence(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    _check_azure_sequence(chunks, ANSWER)
    assert emulator.last_request.body["stream"] is True


async def test_async_stream_follows_azures_chunk_sequence(
    async_client: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    stream = await async_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    _check_azure_sequence(chunks, ANSWER)


def test_stream_deltas_are_chunk_chars_long() -> None:
    emulator = Emulator(backend="scripted", chunk_chars=3)
    emulator.scripted.push("abcdefgh")
    try:
        with emulator.client(max_retries=0) as client:
            chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    finally:
        emulator.close()
    deltas = [c.choices[0].delta.content for c in chunks[2:-1]]
    assert deltas == ["abc", "def", "gh"]


def test_usage_chunk_comes_last_only_with_include_usage(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, ANSWER)
    with_usage = list(
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    usage_chunk = with_usage[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens > 0
    assert (
        usage_chunk.usage.total_tokens
        == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    )
    assert with_usage[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in with_usage[:-1])

    without = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in without)
    assert without[-1].choices[0].finish_reason == "stop"
    assert len(without) == len(with_usage) - 1


def test_streamed_usage_matches_the_non_streamed_usage(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, ANSWER)
    whole = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    streamed = list(
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert streamed[-1].usage == whole.usage


def test_seed_streaming_sample_prints_the_full_text(
    client: AzureOpenAI, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.scripted.push("Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen.")
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)

    for chunk in completion:
        if chunk.choices and chunk.choices[0].delta.content is not None:
            print(chunk.choices[0].delta.content, end="")

    assert capsys.readouterr().out == "Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen."


def test_tool_call_argument_deltas_concatenate_to_the_scripted_json(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    arguments = {"city": "San Francisco, CA", "units": "celsius", "days": [1, 2, 3]}
    emulator.scripted.push(ToolCall("get_weather", arguments, id="call_weather"))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS, stream=True))
    assert chunks[0].choices == []
    assert chunks[1].choices[0].delta.role == "assistant"
    opening = chunks[2].choices[0].delta.tool_calls or []
    assert opening[0].id == "call_weather"
    assert opening[0].function is not None
    assert opening[0].function.name == "get_weather"
    pieces = []
    for chunk in chunks[2:-1]:
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.index == 0
            if call.function is not None and call.function.arguments:
                pieces.append(call.function.arguments)
    assert len(pieces) > 1  # really streamed in pieces
    assert json.loads("".join(pieces)) == arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_stream_with_their_own_indexes(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"timezone": "CET"})]
        )
    )
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS, stream=True)
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            if call.function is not None and call.function.name:
                names[call.index] = call.function.name
            if call.function is not None and call.function.arguments:
                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert names == {0: "get_weather", 1: "get_time"}
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert json.loads(arguments[1]) == {"timezone": "CET"}
    assert finish == "tool_calls"


def test_forced_tool_stream_finishes_with_stop(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push({"city": "Oslo"})
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_closing_a_stream_early_then_the_next_request_succeeds(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("x" * 400, "after close")
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    iterator = iter(stream)
    taken = [next(iterator), next(iterator)]
    stream.close()
    assert taken[0].choices == []
    assert taken[1].choices[0].delta.role == "assistant"
    assert stream.response.is_closed
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == "after close"


def test_closing_a_raw_streamed_response_early_then_the_next_request_succeeds(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("y" * 400, "after raw close")
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            if line:
                lines.append(line)
            if len(lines) == 2:
                break
        response.close()
    assert lines[0].startswith("data: ")
    assert json.loads(lines[0][len("data: ") :])["choices"] == []
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == "after raw close"


async def test_async_closing_a_stream_early_then_the_next_request_succeeds(
    async_client: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("z" * 400, "async after close")
    stream = await async_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    taken = []
    async for chunk in stream:
        taken.append(chunk)
        if len(taken) == 2:
            break
    await stream.close()
    assert taken[1].choices[0].delta.role == "assistant"
    completion = await async_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == "async after close"


def test_stream_as_a_context_manager_stops_at_done(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("done soon")
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "done soon"
    assert stream.response.is_closed


def test_legacy_completions_stream(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("\n\nHello World!\n\nHello World!")
    chunks = list(
        client.completions.create(model="gpt-35-turbo-instruct", prompt="Hello World!", stream=True)
    )
    first, *middle, last = chunks
    assert first.choices == []
    assert (first.model_extra or {})["prompt_filter_results"][0]["prompt_index"] == 0
    assert "".join(c.choices[0].text for c in middle) == "\n\nHello World!\n\nHello World!"
    for chunk in middle:
        assert chunk.object == "text_completion"
        assert chunk.choices[0].finish_reason is None
        filters = (chunk.choices[0].model_extra or {})["content_filter_results"]
        assert filters["violence"] == {"filtered": False, "severity": "safe"}
    assert last.choices[0].finish_reason == "stop"
    assert last.choices[0].text == ""


async def test_async_legacy_completions_stream(async_client: AsyncAzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("async legacy text")
    stream = await async_client.completions.create(model="gpt-35-turbo-instruct", prompt="Go", stream=True)
    text = "".join([c.choices[0].text async for c in stream if c.choices])
    assert text == "async legacy text"


def test_old_api_version_stream_has_no_prompt_annotation_chunk(emulator: Emulator) -> None:
    emulator.scripted.push("old")
    with emulator.client(api_version="2023-05-15", max_retries=0) as client:
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks[0].choices  # before 2023-06-01-preview the first chunk already has a choice
    assert chunks[0].choices[0].delta.role == "assistant"


def test_v1_stream(emulator: Emulator) -> None:
    emulator.scripted.push("v1 streamed")
    with emulator.openai_client(max_retries=0) as client:
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks[0].choices == []
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "v1 streamed"


def test_refusal_streams_as_refusal_deltas(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(Reply(refusal="I can't help with that."))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices)
    assert refusal == "I can't help with that."
    assert all(not (c.choices and c.choices[0].delta.content) for c in chunks)


def test_n_2_streams_both_choices_with_their_indexes(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("first answer", "second answer")
    texts: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, str] = {}
    for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, n=2):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert texts == {0: "first answer", 1: "second answer"}
    assert finishes == {0: "stop", 1: "stop"}
