"""The enqueued-token quota of batch deployments (`Deployment.enqueued_tokens`), through the real SDK."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import Emulator, ManualClock

LIMIT_MESSAGE = (
    "The number of enqueued tokens has surpassed the configured limit of {limit} for the deployment "
    "'gpt-4o-batch'. Please either increase the limit or try again once the current jobs have finished."
)


def _file(lines: int = 2, *, max_tokens: int | None = 1000, model: str = "gpt-4o-batch") -> bytes:
    """`lines` requests, each a prompt of about `max_tokens` tokens (Azure counts a file's input
    tokens) that also asks for up to `max_tokens` (which the quota does not count); None: a few tokens."""
    rows = []
    for i in range(lines):
        content = f"task {i}" + (" w" * max_tokens if max_tokens is not None else "")
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        rows.append(
            json.dumps({"custom_id": f"t{i}", "method": "POST", "url": "/chat/completions", "body": body})
        )
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    emulator = Emulator(backend="schema", clock=clock)
    emulator.batches.processing_seconds = 60
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[AzureOpenAI]:
    client = emulator.client(max_retries=0)
    try:
        yield client
    finally:
        client.close()


def _upload(client: AzureOpenAI, data: bytes) -> str:
    return client.files.create(file=("t.jsonl", io.BytesIO(data)), purpose="batch").id


def _create(client: AzureOpenAI, file_id: str) -> str:
    return client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
    ).id


def test_a_second_job_over_the_limit_fails_until_the_first_ends(
    client: AzureOpenAI, emulator: Emulator, clock: ManualClock
) -> None:
    # each job: two lines of about 1,000 prompt tokens, so one fits in 3,000, two do not
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    file_id = _upload(client, _file())
    first, second = _create(client, file_id), _create(client, file_id)
    failed = client.batches.retrieve(second)  # read first: validation still goes in creation order
    assert failed.status == "failed"
    assert failed.errors is not None
    assert failed.errors.data is not None
    [error] = failed.errors.data
    assert error.code == "token_limit_exceeded"
    assert error.message == LIMIT_MESSAGE.format(limit="3K")
    assert (error.line, error.param) == (None, None)
    assert failed.request_counts is not None
    assert failed.request_counts.total == 0
    assert client.batches.retrieve(first).status == "in_progress"
    clock.advance(60)
    assert client.batches.retrieve(first).status == "completed"
    again = _create(client, file_id)
    assert client.batches.retrieve(again).status == "in_progress"
    clock.advance(60)
    assert client.batches.retrieve(again).status == "completed"


def test_unfinished_jobs_hold_their_tokens(
    client: AzureOpenAI, emulator: Emulator, clock: ManualClock
) -> None:
    emulator.batches.validation_seconds = 10
    emulator.batches.finalizing_seconds = 20
    emulator.batches.cancel_seconds = 30
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    file_id = _upload(client, _file())
    first = _create(client, file_id)
    clock.advance(10 + 60)
    assert client.batches.retrieve(first).status == "finalizing"
    blocked = _create(client, file_id)
    clock.advance(10)  # the first is still finalizing when the second is validated
    assert client.batches.retrieve(blocked).status == "failed"
    assert client.batches.retrieve(first).status == "finalizing"
    clock.advance(10)
    assert client.batches.retrieve(first).status == "completed"
    # a cancelling job holds its tokens until it is cancelled
    cancelled = _create(client, file_id)
    clock.advance(10)
    assert client.batches.retrieve(cancelled).status == "in_progress"
    assert client.batches.cancel(cancelled).status == "cancelling"
    waiting = _create(client, file_id)
    clock.advance(10)
    assert client.batches.retrieve(waiting).status == "failed"
    clock.advance(20)
    assert client.batches.retrieve(cancelled).status == "cancelled"
    after = _create(client, file_id)
    clock.advance(10)
    assert client.batches.retrieve(after).status == "in_progress"


def test_a_job_alone_over_the_limit_fails(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 1500
    batch = client.batches.retrieve(_create(client, _upload(client, _file())))
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert [e.code for e in batch.errors.data] == ["token_limit_exceeded"]


def test_lines_enqueue_their_prompt_not_their_answer_limit(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 200
    small = _upload(client, _file(3, max_tokens=None))  # a few prompt tokens each
    assert client.batches.retrieve(_create(client, small)).status == "in_progress"
    asks_much = json.loads(_file(1, max_tokens=None))
    asks_much["body"]["max_tokens"] = 100_000  # a large answer limit on a short prompt: still fits
    line = (json.dumps(asks_much) + "\n").encode()
    assert client.batches.retrieve(_create(client, _upload(client, line))).status == "in_progress"
    assert (
        client.batches.retrieve(_create(client, _upload(client, _file(1, max_tokens=300)))).status == "failed"
    )


def test_limits_are_per_deployment(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    first = _create(client, _upload(client, _file()))
    mini = _create(client, _upload(client, _file(model="gpt-4o-mini-batch")))  # no limit of its own
    assert client.batches.retrieve(first).status == "in_progress"
    assert client.batches.retrieve(mini).status == "in_progress"


def test_the_limit_is_written_as_azure_writes_it(client: AzureOpenAI, emulator: Emulator) -> None:
    from instructor_az.emulator._batch_validation import short_count

    assert short_count(2_000_000) == "2M"
    for limit, text in ((90_000, "90K"), (1_500, "1500")):
        emulator.deployment("gpt-4o-batch").enqueued_tokens = limit
        batch = client.batches.retrieve(_create(client, _upload(client, _file(max_tokens=limit))))
        assert batch.errors is not None
        assert batch.errors.data is not None
        assert batch.errors.data[0].message == LIMIT_MESSAGE.format(limit=text)


def test_fail_fast_refuses_the_job_at_create(
    client: AzureOpenAI, emulator: Emulator, clock: ManualClock
) -> None:
    emulator.batches.fail_fast = True
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    file_id = _upload(client, _file())
    first = _create(client, file_id)
    with pytest.raises(openai.BadRequestError) as caught:
        _create(client, file_id)
    # Azure's body for a job refused at create: the errors list, no "error" object (so this SDK's
    # message is only "Error code: 400"; the code is in the body)
    assert caught.value.body == {
        "errors": {
            "object": "list",
            "data": [
                {
                    "code": "token_limit_exceeded",
                    "message": LIMIT_MESSAGE.format(limit="3K"),
                    "param": None,
                    "line": None,
                }
            ],
        }
    }
    assert [b.id for b in client.batches.list()] == [first]
    clock.advance(60)
    assert client.batches.retrieve(_create(client, file_id)).status == "in_progress"
    with pytest.raises(openai.BadRequestError) as caught:
        _create(client, _upload(client, _file(model="gpt-4o-bt")))
    assert isinstance(caught.value.body, dict)
    assert [e["code"] for e in caught.value.body["errors"]["data"]] == ["model_not_found"]


def test_a_limit_set_later_counts_the_jobs_already_running(client: AzureOpenAI, emulator: Emulator) -> None:
    file_id = _upload(client, _file())
    running = _create(client, file_id)
    assert client.batches.retrieve(running).status == "in_progress"  # validated without a limit
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    assert client.batches.retrieve(_create(client, file_id)).status == "failed"


def test_a_job_cancelled_while_validating_holds_its_tokens(
    client: AzureOpenAI, emulator: Emulator, clock: ManualClock
) -> None:
    emulator.batches.validation_seconds = 10
    emulator.batches.cancel_seconds = 30
    emulator.deployment("gpt-4o-batch").enqueued_tokens = 3000
    file_id = _upload(client, _file())
    cancelled = _create(client, file_id)
    assert client.batches.cancel(cancelled).status == "cancelling"
    waiting = _create(client, file_id)
    clock.advance(10)
    assert client.batches.retrieve(waiting).status == "failed"
    clock.advance(20)
    batch = client.batches.retrieve(cancelled)
    assert batch.status == "cancelled"
    assert (batch.output_file_id, batch.error_file_id) == (None, None)  # it never ran
    later = _create(client, file_id)
    clock.advance(10)
    assert client.batches.retrieve(later).status == "in_progress"


def test_batch_lines_are_not_charged_to_the_deployments_rpm_or_tpm() -> None:
    """Azure runs a batch under its enqueued-token quota; RPM / TPM limits apply to online calls only."""
    import io
    import json

    from instructor_az.emulator import Emulator, Quota

    emulator = Emulator(backend="schema", quotas={"gpt-4o-batch": Quota(rpm=6)})
    client = emulator.client(max_retries=0)
    body = {"model": "gpt-4o-batch", "messages": [{"role": "user", "content": "hi"}]}
    data = "".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/chat/completions", "body": body}) + "\n"
        for i in range(20)
    ).encode()
    file = client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/chat/completions", completion_window="24h"
    )
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert done.request_counts.completed == 20  # a 6 RPM quota would have refused most online
