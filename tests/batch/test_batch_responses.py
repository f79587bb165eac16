"""Batch jobs on the Responses API, as Azure's batch docs write them (`"url": "/v1/responses"` lines, the
job created with `endpoint="/chat/completions"`: Azure reads the API from the file): written from
`client.responses` with the same plan as an online call, answered by the emulator's Responses route,
read back as `Response` objects, re-asked in a follow-up batch (the conversation in full: the lines are
not stored) or online. Through the real SDK against the emulator on its manual clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_kit import Doc, batch_emulator

import instructor_az
from instructor_az.batch import submit_batch, write_requests
from instructor_az.emulator import Emulator, ManualClock
from instructor_az.exceptions import InstructorRetryException

BATCH = "gpt-4o-batch"


def _answer(request: Any) -> Any:
    said = json.dumps(request.messages)
    n = int(re.search(r"doc (\d+)", said).group(1))  # type: ignore[union-attr]
    told = "n must be 0 or more" in said
    if "[always]" in said or ("[once]" in said and not told):
        return {"n": -1}
    return {"n": n}


INPUTS = [
    (f"d{i}", f"doc {i}" + (" [once]" if i % 4 == 1 else " [always]" if i == 6 else "")) for i in range(12)
]
ONCE = [i for i, t in INPUTS if "[once]" in t]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000.0)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    emulator = batch_emulator(clock, _answer)
    yield emulator
    emulator.close()


def _client(emulator: Emulator, api: str, mode: str = "tools") -> Any:
    raw = (
        emulator.openai_client(max_retries=0)
        if api == "v1"
        else emulator.client(api_version="2025-04-01-preview", max_retries=0)
    )
    return instructor_az.from_openai(raw, mode=mode)


@pytest.mark.parametrize("api", ["v1", "dated"])
@pytest.mark.parametrize("mode", ["tools", "json_schema"])
def test_a_responses_job_is_written_answered_re_asked_and_read(
    emulator: Emulator, clock: ManualClock, tmp_path: Path, api: str, mode: str
) -> None:
    client = _client(emulator, api, mode).responses
    job = submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model=BATCH, max_tokens=30)
    lines = [json.loads(line) for line in (tmp_path / "job" / "requests-0001.jsonl").read_text().splitlines()]
    assert {line["url"] for line in lines} == {"/v1/responses"}
    body = lines[0]["body"]
    assert "input" in body
    assert "messages" not in body
    assert body["store"] is False
    assert body["max_output_tokens"] == 30
    if mode == "tools":
        assert body["tools"][0]["type"] == "function"
        assert body["tools"][0]["strict"] is True
    else:
        assert body["text"]["format"]["type"] == "json_schema"
    assert job.endpoint == "/chat/completions"  # as Azure's docs create it: the file says which API
    job.wait(client, poll_interval=300, sleep=clock.advance)
    paths = {r.path for r in emulator.requests if r.body and r.body.get("custom_id") is None}
    assert any(p.endswith("/responses") for p in paths)

    assert job.reask_batch(client, INPUTS, response_model=Doc, max_retries=1) == len(ONCE) + 1
    round2 = [json.loads(line) for line in (tmp_path / "job" / "round02-0001.jsonl").read_text().splitlines()]
    again = next(line for line in round2 if line["custom_id"] == ONCE[0])
    assert "previous_response_id" not in again["body"]  # not stored: the conversation in full
    assert "n must be 0 or more" in json.dumps(again["body"]["input"])
    job.wait(client, poll_interval=300, sleep=clock.advance)

    outcomes = {o.id: o for o in job.results(client, INPUTS, response_model=Doc)}
    assert sorted(outcomes) == sorted(i for i, _ in INPUTS)  # every input once
    for row_id, _ in INPUTS:
        outcome = outcomes[row_id]
        if row_id == "d6":
            assert isinstance(outcome.error, InstructorRetryException)
            assert len(outcome.error.failed_attempts) == 2
        else:
            assert outcome.value == Doc(n=int(row_id[1:])), outcome.error
            assert outcome.attempts == (2 if row_id in ONCE else 1)
    assert outcomes[ONCE[0]].usage.prompt_tokens > outcomes["d0"].usage.prompt_tokens  # both rounds summed


def test_online_re_asks_of_a_responses_job_go_to_the_responses_api(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = _client(emulator, "v1").responses
    job = submit_batch(client, INPUTS, tmp_path / "job", response_model=Doc, model=BATCH)
    job.wait(client, poll_interval=300, sleep=clock.advance)
    before = len(emulator.requests)
    outcomes = {
        o.id: o
        for o in job.results(
            client, INPUTS, response_model=Doc, reask="online", reask_model="gpt-4o", max_retries=1
        )
    }
    assert all(outcomes[i].ok and outcomes[i].attempts == 2 for i in ONCE)
    assert not outcomes["d6"].ok
    online = list(emulator.requests)[before:]
    assert {r.path for r in online} == {"/openai/v1/responses"}
    assert {r.body["model"] for r in online} == {"gpt-4o"}


def test_reading_a_responses_job_with_a_chat_client_says_which_client(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    chat = _client(emulator, "v1")
    job = submit_batch(chat.responses, INPUTS[:2], tmp_path / "job", response_model=Doc, model=BATCH)
    job.wait(chat, poll_interval=300, sleep=clock.advance)
    with pytest.raises(instructor_az.ConfigurationError, match=r"client\.responses"):
        list(job.results(chat, INPUTS[:2], response_model=Doc))
    read = list(job.results(chat.responses, INPUTS[:2], response_model=Doc))
    assert [o.value for o in read] == [Doc(n=0), None]  # d1's first answer fails validation: not re-asked
    assert isinstance(read[1].error, InstructorRetryException)


def test_a_url_that_does_not_fit_the_client_is_refused_before_writing(tmp_path: Path) -> None:
    client = instructor_az.from_openai(Emulator(backend="scripted").openai_client())
    with pytest.raises(instructor_az.ConfigurationError, match="does not fit this client"):
        write_requests(
            client.responses,
            INPUTS,
            tmp_path / "a",
            response_model=Doc,
            model=BATCH,
            url="/v1/chat/completions",
        )
    with pytest.raises(instructor_az.ConfigurationError, match="does not fit this client"):
        write_requests(client, INPUTS, tmp_path / "b", response_model=Doc, model=BATCH, url="/v1/responses")
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_the_emulator_refuses_a_file_that_mixes_apis(emulator: Emulator) -> None:
    raw = emulator.openai_client(max_retries=0)
    lines = [
        {"custom_id": "a", "method": "POST", "url": "/v1/responses", "body": {"model": BATCH, "input": "doc 1"}},
        {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": BATCH, "messages": [{"role": "user", "content": "doc 2"}]}},
    ]  # fmt: skip
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = raw.files.create(file=("mixed.jsonl", data), purpose="batch")
    batch = raw.batches.create(
        input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h"
    )
    for _ in range(3):
        batch = raw.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert batch.errors is not None
    assert [(e.code, e.line) for e in batch.errors.data or []] == [("url_mismatch", 2)]
