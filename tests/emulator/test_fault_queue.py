"""Injected faults form a FIFO queue: each fires (and is used up) only on requests it applies to."""

from __future__ import annotations

import time

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import FAULT_HEADER, Emulator, Fault

USER = [{"role": "user", "content": "Tell me about Paris."}]


def _chat(client: AzureOpenAI, model: str = "gpt-4o", **kwargs: object) -> str | None:
    return client.chat.completions.create(model=model, messages=USER, **kwargs).choices[0].message.content  # type: ignore[call-overload, no-any-return]


def _status(call: object) -> int:
    try:
        call()  # type: ignore[operator]
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def test_stacked_faults_fire_in_order_each_until_used_up(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("first answer", "second answer")
    emulator.inject(Fault.rate_limit(retry_after_ms=1), times=5)
    emulator.inject(Fault.server_error(500), times=3)
    statuses = [_status(lambda: _chat(client)) for _ in range(9)]
    assert statuses == [429] * 5 + [500] * 3 + [200]
    assert [r.status for r in emulator.requests] == statuses
    assert all(len(r.faults) == 1 for r in list(emulator.requests)[:8])  # one fault per request
    assert _chat(client) == "second answer"


def test_the_sdk_retries_through_stacked_faults(emulator: Emulator) -> None:
    emulator.scripted.push("answer")
    emulator.inject(Fault.rate_limit(retry_after_ms=1), times=2)
    emulator.inject(Fault.server_error(503, retry_after_ms=1), times=1)
    with emulator.client(max_retries=3) as client:
        assert _chat(client) == "answer"
    assert [r.status for r in emulator.requests] == [429, 429, 503, 200]


def test_latency_combines_with_the_next_fault_and_keeps_its_own_count(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("delayed", "prompt")
    emulator.inject(Fault.latency(0.1), times=2)
    emulator.inject(Fault.rate_limit(retry_after_ms=1), times=1)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        _chat(client)
    assert time.monotonic() - started >= 0.1  # delayed, then the 429
    started = time.monotonic()
    assert _chat(client) == "delayed"
    assert time.monotonic() - started >= 0.1  # the latency's second time
    started = time.monotonic()
    assert _chat(client) == "prompt"
    assert time.monotonic() - started < 0.1


def test_a_per_deployment_fault_keeps_its_place_while_other_deployments_pass_it(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("4o", "mini")
    emulator.inject(Fault.rate_limit(retry_after_ms=1), deployment="gpt-4o-mini")
    emulator.inject(Fault.server_error(500))
    with pytest.raises(openai.InternalServerError):  # gpt-4o skips the mini-only fault, gets the next one
        _chat(client)
    with pytest.raises(openai.RateLimitError):
        _chat(client, "gpt-4o-mini")
    assert _chat(client) == "4o"
    assert _chat(client, "gpt-4o-mini") == "mini"


def test_a_fault_that_cannot_apply_waits_for_a_request_it_can(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("Paris is lovely.")
    emulator.inject(Fault.length(after_chars=5))
    emulator.inject(Fault.rate_limit(retry_after_ms=1))
    with pytest.raises(openai.RateLimitError):  # embeddings have no answer to cut: the 429 is theirs
        client.embeddings.create(model="text-embedding-3-large", input="x")
    choice = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0]
    assert (choice.finish_reason, choice.message.content) == ("length", "Paris")


def test_a_request_rejected_by_validation_uses_up_no_fault(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("answer")
    emulator.inject(Fault.prompt_filter(violence="high"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER, temperature=3)
    assert caught.value.body["code"] != "content_filter"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(client)
    assert caught.value.body["code"] == "content_filter"  # type: ignore[index]
    assert _chat(client) == "answer"


def test_a_header_fault_holds_back_the_queue_for_that_request(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("answer")
    emulator.inject(Fault.server_error(500))
    with pytest.raises(openai.RateLimitError):
        _chat(client, extra_headers={FAULT_HEADER: "rate_limit; retry_after_ms=1"})
    with pytest.raises(openai.InternalServerError):  # still armed: it never fired
        _chat(client)
    assert _chat(client) == "answer"


def test_a_fault_without_times_holds_the_head_of_the_queue_until_cleared(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push("answer")
    emulator.inject(Fault.server_error(503), times=None)
    emulator.inject(Fault.rate_limit(retry_after_ms=1))
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            _chat(client)
    emulator.clear_faults()
    assert _chat(client) == "answer"
