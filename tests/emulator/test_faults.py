"""Faults, injected three ways (Python API, queued scripted answers, the x-emulator-fault header), seen by the SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import FAULT_HEADER, Emulator, Fault

USER = [{"role": "user", "content": "Tell me about Paris."}]
ANSWER = "Paris is the capital of France and has many museums."


@pytest.fixture
def retrying(emulator: Emulator) -> Iterator[AzureOpenAI]:
    """A client with the SDK's default-style retries on."""
    client = emulator.client(max_retries=2)
    yield client
    client.close()


def _chat(client: AzureOpenAI, **kwargs: object):
    return client.chat.completions.create(model="gpt-4o", messages=USER, **kwargs)


def _statuses(emulator: Emulator) -> list[int]:
    return [r.status for r in emulator.requests]


# --- 429 ---------------------------------------------------------------------------------------------------


def test_rate_limit_without_retries_raises_rate_limit_error_with_azures_headers(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.rate_limit(retry_after_ms=1500))
    with pytest.raises(openai.RateLimitError) as exc:
        _chat(client)
    error = exc.value
    assert error.status_code == 429
    headers = error.response.headers
    assert headers["retry-after-ms"] == "1500"
    assert headers["retry-after"] == "2"  # whole seconds, rounded up
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert error.body["code"] == "429"
    assert "Please retry after 2 seconds" in error.body["message"]
    assert "ChatCompletions_Create" in error.body["message"]
    assert emulator.scripted.pending == 1  # the backend was not asked
    assert _statuses(emulator) == [429]
    assert emulator.last_request.faults == (Fault.rate_limit(retry_after_ms=1500),)


def test_sdk_retry_honours_retry_after_ms_then_succeeds(retrying: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.rate_limit(retry_after_ms=20))
    started = time.monotonic()
    completion = _chat(retrying)
    elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == ANSWER
    assert _statuses(emulator) == [429, 200]
    assert elapsed >= 0.02
    # The SDK's own backoff starts near 0.4 s; well under that shows it waited for retry-after-ms.
    assert elapsed < 0.3


def test_rate_limit_header_fault_fires_once_then_the_sdk_retry_succeeds(
    retrying: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    started = time.monotonic()
    completion = _chat(retrying, extra_headers={FAULT_HEADER: "rate_limit; retry_after_ms=20; times=1"})
    assert time.monotonic() - started >= 0.02
    assert completion.choices[0].message.content == ANSWER
    assert _statuses(emulator) == [429, 200]


def test_rate_limit_header_fault_with_no_retries_raises(client: AzureOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as exc:
        _chat(client, extra_headers={FAULT_HEADER: "rate_limit; retry_after_ms=20"})
    assert exc.value.response.headers["retry-after-ms"] == "20"
    assert exc.value.response.headers["retry-after"] == "1"


def test_header_times_is_counted_per_header_text(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("a", "b")
    header = {FAULT_HEADER: "rate_limit; retry_after_ms=10; times=1"}
    with pytest.raises(openai.RateLimitError):
        _chat(client, extra_headers=header)
    assert _chat(client, extra_headers=header).choices[0].message.content == "a"  # used up
    other = {FAULT_HEADER: "rate_limit; retry_after_ms=10; times=1; id=second"}
    with pytest.raises(openai.RateLimitError):
        _chat(client, extra_headers=other)  # a different header text has its own count
    assert _chat(client, extra_headers=other).choices[0].message.content == "b"
    assert _statuses(emulator) == [429, 200, 429, 200]


def test_header_without_times_fires_on_every_request(client: AzureOpenAI) -> None:
    for _ in range(3):
        with pytest.raises(openai.RateLimitError):
            _chat(client, extra_headers={FAULT_HEADER: "rate_limit; retry_after_ms=10"})


def test_injected_times_counts_requests_and_none_lasts_until_cleared(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("after two", "after clear")
    emulator.inject(Fault.rate_limit(10), times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            _chat(client)
    assert _chat(client).choices[0].message.content == "after two"
    emulator.inject(Fault.server_error(503), times=None)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            _chat(client)
    emulator.clear_faults()
    assert _chat(client).choices[0].message.content == "after clear"


def test_queued_rate_limit_fault_is_retried_by_the_sdk(retrying: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(Fault.rate_limit(retry_after_ms=10), ANSWER)
    completion = _chat(retrying)
    assert completion.choices[0].message.content == ANSWER
    assert _statuses(emulator) == [429, 200]
    assert emulator.scripted.pending == 0


async def test_async_client_retry_honours_retry_after_ms(emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.rate_limit(retry_after_ms=20))
    client = emulator.async_client(max_retries=2)
    try:
        started = time.monotonic()
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
        elapsed = time.monotonic() - started
    finally:
        await client.close()
    assert completion.choices[0].message.content == ANSWER
    assert _statuses(emulator) == [429, 200]
    assert elapsed >= 0.02


# --- 5xx --------------------------------------------------------------------------------------------------


def test_500_is_internal_server_error_with_openai_style_body(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.inject(Fault.server_error(500))
    with pytest.raises(openai.InternalServerError) as exc:
        _chat(client)
    assert exc.value.status_code == 500
    assert exc.value.body["type"] == "server_error"
    assert "The server had an error processing your request" in exc.value.body["message"]


def test_503_is_internal_server_error_service_unavailable(client: AzureOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as exc:
        _chat(client, extra_headers={FAULT_HEADER: "server_error; status=503"})
    assert exc.value.status_code == 503
    assert exc.value.code == "ServiceUnavailable"


def test_server_error_retried_then_succeeds(retrying: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, ANSWER)
    emulator.inject(Fault.server_error(503, retry_after_ms=10))
    assert _chat(retrying).choices[0].message.content == ANSWER
    started = time.monotonic()
    completion = _chat(
        retrying, extra_headers={FAULT_HEADER: "server_error; status=500; retry_after_ms=10; times=1"}
    )
    assert time.monotonic() - started >= 0.01
    assert completion.choices[0].message.content == ANSWER
    assert _statuses(emulator) == [503, 200, 500, 200]


def test_server_error_status_must_be_5xx() -> None:
    with pytest.raises(ValueError, match="5xx"):
        Fault.server_error(404)


# --- latency and timeouts ---------------------------------------------------------------------------------


def test_injected_latency_delays_the_response(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, ANSWER)
    emulator.inject(Fault.latency(0.05))
    started = time.monotonic()
    assert _chat(client).choices[0].message.content == ANSWER
    assert time.monotonic() - started >= 0.05
    started = time.monotonic()
    _chat(client, extra_headers={FAULT_HEADER: "latency; seconds=0.05"})
    assert time.monotonic() - started >= 0.05


def test_chunk_latency_slows_each_stream_chunk(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("0123456789abcdef")  # two 8-character deltas
    emulator.inject(Fault.latency(0.0, chunk_seconds=0.02))
    started = time.monotonic()
    chunks = list(_chat(client, stream=True))
    elapsed = time.monotonic() - started
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "0123456789abcdef"
    assert elapsed >= 0.02 * (len(chunks) - 1)


def test_client_timeout_shorter_than_latency_is_api_timeout_error(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER, "next")
    emulator.inject(Fault.latency(2.0))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.05).chat.completions.create(model="gpt-4o", messages=USER)
    assert time.monotonic() - started < 1.5
    # The timed-out exchange was abandoned; the emulator still answers the next request.
    assert _chat(client).choices[0].message.content == ANSWER


async def test_async_client_timeout_shorter_than_latency_is_api_timeout_error(emulator: Emulator) -> None:
    client = emulator.async_client(max_retries=0, timeout=0.05)
    try:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="gpt-4o", messages=USER, extra_headers={FAULT_HEADER: "latency; seconds=2"}
            )
    finally:
        await client.close()


def test_stream_stalling_longer_than_the_read_timeout_is_api_timeout_error(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.latency(0.0, chunk_seconds=2.0))
    received = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in client.with_options(timeout=0.1).chat.completions.create(
            model="gpt-4o", messages=USER, stream=True
        ):
            received.append(chunk)
    assert received  # the first chunk came before the stall


# --- dropped connections ---------------------------------------------------------------------------------


def test_connection_dropped_mid_stream_raises_api_connection_error_while_iterating(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.drop_connection(after_chunks=3))
    stream = _chat(client, stream=True)  # the response starts fine
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    assert received[0].choices == []
    assert received[2].choices[0].delta.content == ANSWER[:8]


def test_dropped_stream_via_header(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, "recovered")
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in _chat(
            client, stream=True, extra_headers={FAULT_HEADER: "drop_connection; after_chunks=2"}
        ):
            received.append(chunk)
    assert len(received) == 2
    assert _chat(client).choices[0].message.content == "recovered"


async def test_async_connection_dropped_mid_stream_raises_api_connection_error(
    async_client: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.drop_connection(after_chunks=4))
    stream = await async_client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 4


def test_non_stream_drop_is_api_connection_error(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, "after drop")
    emulator.inject(Fault.drop_connection())
    with pytest.raises(openai.APIConnectionError):
        _chat(client)
    assert _chat(client).choices[0].message.content == "after drop"


async def test_async_non_stream_drop_is_api_connection_error(
    async_client: AsyncAzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    with pytest.raises(openai.APIConnectionError):
        await async_client.chat.completions.create(
            model="gpt-4o", messages=USER, extra_headers={FAULT_HEADER: "drop_connection"}
        )


# --- content filters -------------------------------------------------------------------------------------


def test_prompt_filter_is_bad_request_with_azures_content_filter_body(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.prompt_filter(violence="high"))
    with pytest.raises(openai.BadRequestError) as exc:
        _chat(client)
    error = exc.value
    assert error.status_code == 400
    assert error.code == "content_filter"
    body = error.body
    assert body["param"] == "prompt"
    assert "content management policy" in body["message"]
    inner = body["innererror"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    results = inner["content_filter_result"]
    assert results["violence"] == {"filtered": True, "severity": "high"}
    assert results["hate"] == {"filtered": False, "severity": "safe"}
    assert results["jailbreak"] == {"filtered": False, "detected": False}
    assert emulator.scripted.pending == 1


def test_jailbreak_prompt_filter_via_header(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        _chat(client, extra_headers={FAULT_HEADER: "prompt_filter; jailbreak=detected"})
    results = exc.value.body["innererror"]["content_filter_result"]
    assert results["jailbreak"] == {"filtered": True, "detected": True}
    assert results["violence"] == {"filtered": False, "severity": "safe"}


def test_prompt_filter_on_a_stream_request_fails_before_streaming(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.prompt_filter(hate="medium"))
    with pytest.raises(openai.BadRequestError) as exc:
        _chat(client, stream=True)
    assert exc.value.body["innererror"]["content_filter_result"]["hate"] == {
        "filtered": True,
        "severity": "medium",
    }


def test_queued_prompt_filter_fault_fails_that_request(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(Fault.prompt_filter(sexual="high"), ANSWER)
    with pytest.raises(openai.BadRequestError) as exc:
        _chat(client)
    assert exc.value.code == "content_filter"
    assert emulator.scripted.pending == 1  # the answer it shaped is still queued for the next request
    assert _chat(client).choices[0].message.content == ANSWER


def test_completion_filter_cuts_the_answer_with_finish_reason_content_filter(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.completion_filter(after_chars=10, self_harm="medium"))
    completion = _chat(client)
    choice = completion.choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.message.content == ANSWER[:10]
    filters = (choice.model_extra or {})["content_filter_results"]
    assert filters["self_harm"] == {"filtered": True, "severity": "medium"}
    assert filters["violence"] == {"filtered": False, "severity": "safe"}


def test_queued_completion_filter_applies_to_the_next_answer(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(Fault.completion_filter(), ANSWER)
    choice = _chat(client).choices[0]
    assert choice.finish_reason == "content_filter"
    assert ANSWER.startswith(choice.message.content or "")
    assert len(choice.message.content or "") < len(ANSWER)


def test_a_rule_answering_every_request_with_a_filter_is_filtered_not_looped(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    # The rule would give the same fault again as "the next answer": the schema's value is what is cut.
    emulator.scripted.on(lambda request: True, Fault.completion_filter(violence="high"))
    for _ in range(2):
        completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].finish_reason == "content_filter"
    assert [r.status for r in emulator.requests] == [200, 200]


def test_completion_filter_mid_stream_ends_with_a_content_filter_chunk(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER)
    chunks = list(
        _chat(
            client,
            stream=True,
            extra_headers={FAULT_HEADER: "completion_filter; after_chars=20; violence=high"},
        )
    )
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) >= 2
    assert "".join(contents) == ANSWER[:20]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "content_filter"
    filters = (last.choices[0].model_extra or {})["content_filter_results"]
    assert filters["violence"] == {"filtered": True, "severity": "high"}


def test_length_fault_cuts_the_answer_with_finish_reason_length(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER, ANSWER)
    emulator.inject(Fault.length(after_chars=12))
    choice = _chat(client).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == ANSWER[:12]
    chunks = list(_chat(client, stream=True, extra_headers={FAULT_HEADER: "length; after_chars=5"}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER[:5]
    assert chunks[-1].choices[0].finish_reason == "length"


def test_legacy_completion_filter(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("Some legacy text that gets filtered.")
    emulator.inject(Fault.completion_filter(after_chars=4, hate="high"))
    legacy = client.completions.create(model="gpt-35-turbo-instruct", prompt="Go")
    choice = legacy.choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.text == "Some"
    assert (choice.model_extra or {})["content_filter_results"]["hate"] == {
        "filtered": True,
        "severity": "high",
    }


# --- the header's syntax, and where faults apply ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("rate_limit; retry_after_ms", "expected name=value"),
        ("earthquake", "unknown fault kind 'earthquake'"),
        ("rate_limit; retry_after_ms=soon", "bad value"),
        ("server_error; status=404", "5xx"),
        ("prompt_filter; violence=extreme", "severity"),
        ("rate_limit; times=twice", "times must be an integer"),
        ("latency; speed=3", "bad parameters"),
    ],
)
def test_malformed_fault_header_is_a_400_naming_the_header(
    client: AzureOpenAI, emulator: Emulator, header: str, fragment: str
) -> None:
    emulator.scripted.push(ANSWER)
    with pytest.raises(openai.BadRequestError) as exc:
        _chat(client, extra_headers={FAULT_HEADER: header})
    assert exc.value.body["param"] == FAULT_HEADER
    assert exc.value.body["message"].startswith(f"Bad {FAULT_HEADER} header:")
    assert fragment in exc.value.body["message"]
    assert emulator.scripted.pending == 1


def test_several_faults_in_one_header_all_apply(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    started = time.monotonic()
    choice = _chat(
        client, extra_headers={FAULT_HEADER: "latency; seconds=0.05, length; after_chars=6"}
    ).choices[0]
    assert time.monotonic() - started >= 0.05
    assert choice.finish_reason == "length"
    assert choice.message.content == ANSWER[:6]


def test_per_deployment_injection_only_hits_that_deployment(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("4o answer", "mini answer")
    emulator.inject(Fault.rate_limit(10), deployment="gpt-4o-mini")
    assert _chat(client).choices[0].message.content == "4o answer"  # gpt-4o untouched
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content == (
        "mini answer"
    )
    assert [(r.deployment, r.status) for r in emulator.requests] == [
        ("gpt-4o", 200),
        ("gpt-4o-mini", 429),
        ("gpt-4o-mini", 200),
    ]


def test_injecting_for_an_unknown_deployment_is_an_error(emulator: Emulator) -> None:
    with pytest.raises(KeyError, match="no deployment 'gpt-9'"):
        emulator.inject(Fault.rate_limit(), deployment="gpt-9")


def test_faults_apply_to_embeddings_too(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.inject(Fault.server_error(503), deployment="text-embedding-3-large")
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="text-embedding-3-large", input="x")
    assert len(client.embeddings.create(model="text-embedding-3-large", input="x").data) == 1


def test_faults_are_not_taken_by_requests_rejected_earlier(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.rate_limit(10))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-deployment", messages=USER)
    with pytest.raises(openai.RateLimitError):  # still armed for the first request that gets that far
        _chat(client)


def test_reset_forgets_faults_requests_and_queue(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("forgotten")
    emulator.inject(Fault.rate_limit(10), times=None)
    with pytest.raises(openai.RateLimitError):
        _chat(client)
    emulator.reset()
    assert list(emulator.requests) == []
    assert emulator.scripted.pending == 0
    emulator.scripted.push("fresh")
    assert _chat(client).choices[0].message.content == "fresh"


def test_dropped_connection_applies_to_embeddings(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.inject(Fault.drop_connection(), deployment="text-embedding-3-large")
    with pytest.raises(openai.APIConnectionError):
        client.embeddings.create(model="text-embedding-3-large", input="x")


def test_drop_after_zero_chunks_fails_while_reading_the_stream_before_any_chunk(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    # after_chunks=0: the status line and headers arrive (as from any ASGI server), then no body at all.
    emulator.scripted.push(ANSWER)
    emulator.inject(Fault.drop_connection(after_chunks=0))
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    seen: list[object] = []

    def read() -> None:
        seen.extend(stream)

    with pytest.raises(openai.APIConnectionError):
        read()
    assert seen == []
