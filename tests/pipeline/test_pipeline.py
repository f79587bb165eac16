"""The extraction pipeline, through the real SDK against the emulator in-process (sync and async)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from typing import Any

import httpx2
import pytest
from openai import AsyncAzureOpenAI, InternalServerError
from pydantic import BaseModel, field_validator

import instructor_az
from instructor_az.emulator import Fault
from instructor_az.emulator._transport import AsyncEmulatorTransport
from instructor_az.pipeline import Outcome, TransportRetriesExhausted, aextract_many, extract_many

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class Person(BaseModel):
    row: int
    name: str

    @field_validator("name")
    @classmethod
    def capitalized(cls, value: str) -> str:
        if not value[:1].isupper():
            raise ValueError("name must start with a capital letter")
        return value


def _row_of(request: Any) -> int:
    text = next(m["content"] for m in request.messages if m["role"] == "user")
    found = re.search(r"row (\d+)", str(text))
    assert found is not None
    return int(found.group(1))


class Script:
    """The model: answers each row from its text; some rows answer badly first, some always, some get
    filtered. Records when each answer was produced."""

    def __init__(
        self,
        *,
        bad_once: set[int] = frozenset(),
        bad_always: set[int] = frozenset(),  # type: ignore[assignment]
        filtered: set[int] = frozenset(),
    ) -> None:  # type: ignore[assignment]
        self.bad_once, self.bad_always, self.filtered = bad_once, bad_always, filtered
        self.seen: dict[int, int] = {}
        self.shaping: set[int] = set()  # a fault was given: the next answer is what it shapes
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        row = _row_of(request)
        if row in self.filtered:
            if row in self.shaping:
                self.shaping.discard(row)
                return {"row": row, "name": f"Person{row}"}
            self.shaping.add(row)
            return Fault.completion_filter()
        with self.lock:
            self.times.append(time.monotonic())
            self.seen[row] = self.seen.get(row, 0) + 1
            first = self.seen[row] == 1
        if row in self.bad_always or (row in self.bad_once and first):
            return {"row": row, "name": "lowercase"}
        return {"row": row, "name": f"Person{row}"}


def _script(emulator: Any, **kwargs: Any) -> Script:
    script = Script(**kwargs)
    emulator.scripted.on(lambda request: True, script)
    return script


TEXTS = [f"row {i}: someone" for i in range(220)]


async def test_every_id_ends_exactly_once_through_faults(azure_emulator, async_azure_openai_client):
    _script(azure_emulator, bad_once={3, 40, 77}, bad_always={5, 100}, filtered={9, 150})
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=30), times=3)
    azure_emulator.inject(Fault.server_error(500), times=3)
    azure_emulator.inject(Fault.server_error(503), times=3)
    azure_emulator.inject(Fault.drop_connection(), times=2)
    client = instructor_az.from_openai(async_azure_openai_client)

    results = aextract_many(
        client,
        TEXTS,
        response_model=Person,
        model="gpt-4o",
        max_retries=1,
        retry_backoff=0.01,
        concurrency=16,
    )
    outcomes = await results.collect()

    assert sorted(o.id for o in outcomes) == list(range(len(TEXTS)))
    by_id = {o.id: o for o in outcomes}
    for row in (5, 100):
        assert isinstance(by_id[row].error, instructor_az.InstructorRetryException)
        assert by_id[row].attempts == 2
    for row in (9, 150):
        assert isinstance(by_id[row].error, instructor_az.ContentFilterError)
    for row in (3, 40, 77):
        assert by_id[row].value == Person(row=row, name=f"Person{row}")
        assert by_id[row].attempts == 2
    ok = [o for o in outcomes if o.ok]
    assert len(ok) == len(TEXTS) - 4
    assert all(o.value == Person(row=o.id, name=f"Person{o.id}") for o in ok)
    assert all(o.usage.total_tokens > 0 and o.latency > 0 for o in ok)

    summary = results.summary
    assert summary.outcomes == {"ok": 216, "InstructorRetryException": 2, "ContentFilterError": 2}
    assert summary.rate_limited == 3
    assert summary.transport_retries == 3 + 6 + 2
    assert summary.reasks == 3 + 2
    assert summary.requests == len(azure_emulator.requests)
    assert summary.usage.total_tokens == sum(o.usage.total_tokens for o in outcomes)
    assert summary.rows_per_minute > 0
    assert "220 rows" in str(summary)


def test_sync_client_ordered_results(azure_emulator, azure_openai_client):
    _script(azure_emulator, bad_once={1, 2})
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=10), times=2)
    azure_emulator.inject(Fault.server_error(503), times=2)
    client = instructor_az.from_openai(azure_openai_client)
    records = [{"id": f"r{i}", "text": text} for i, text in enumerate(TEXTS)]

    results = extract_many(
        client,
        records,
        response_model=Person,
        model="gpt-4o",
        ordered=True,
        concurrency=8,
        retry_backoff=0.01,
    )
    outcomes = results.collect()

    assert [o.id for o in outcomes] == [f"r{i}" for i in range(len(TEXTS))]
    assert [o.index for o in outcomes] == list(range(len(TEXTS)))
    assert all(o.ok and o.value.row == o.index for o in outcomes)
    assert results.summary.outcomes == {"ok": len(TEXTS)}
    assert results.summary.rate_limited == 2
    assert results.summary.peak_concurrency <= 8


def test_resume_skips_what_the_file_holds(azure_emulator, azure_openai_client, tmp_path):
    _script(azure_emulator)
    out = tmp_path / "people.jsonl"
    client = instructor_az.from_openai(azure_openai_client)
    pairs = [(i, text) for i, text in enumerate(TEXTS[:200])]

    first = extract_many(client, pairs[:60], response_model=Person, model="gpt-4o", output=out, concurrency=8)
    assert len(first.collect()) == 60
    with out.open("a") as f:
        f.write('{"id": 60, "ok": true, "val')  # a kill mid-line: the line is dropped, row 60 runs again
    requests_before = len(azure_emulator.requests)

    second = extract_many(
        client, pairs, response_model=Person, model="gpt-4o", output=out, resume=True, concurrency=8
    )
    outcomes = second.collect()

    assert sorted(o.id for o in outcomes) == list(range(60, 200))
    assert second.summary.skipped == 60
    assert len(azure_emulator.requests) - requests_before == 140
    lines = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole again
    assert sorted(line["id"] for line in lines) == list(range(200))
    assert lines[0]["ok"] is True
    assert lines[0]["value"] == {"row": lines[0]["id"], "name": f"Person{lines[0]['id']}"}
    assert list(lines[0]) == ["id", "ok", "value", "attempts", "usage"]
    assert list(lines[0]["usage"]) == ["prompt_tokens", "completion_tokens"]


async def test_a_429_pauses_every_row(azure_emulator, async_azure_openai_client):
    script = _script(azure_emulator)
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=400), times=1)
    client = instructor_az.from_openai(async_azure_openai_client)

    started = time.monotonic()
    results = aextract_many(client, TEXTS[:40], response_model=Person, model="gpt-4o", concurrency=1)
    outcomes = await results.collect()

    assert len(outcomes) == 40
    assert all(o.ok for o in outcomes)
    assert azure_emulator.requests[0].status == 429
    # The first answer came only after the pause: nobody was sent during it.
    assert min(script.times) - started >= 0.38
    assert results.summary.rate_limited == 1
    assert results.summary.pauses == 1


async def test_a_429_pauses_rows_already_waiting(azure_emulator, async_azure_openai_client):
    script = _script(azure_emulator)
    azure_emulator.inject(Fault.latency(0.05), times=8)  # the first wave is slow; one of it gets a 429
    azure_emulator.inject(Fault.rate_limit(retry_after_ms=400), times=1)
    client = instructor_az.from_openai(async_azure_openai_client)

    results = aextract_many(client, TEXTS[:60], response_model=Person, model="gpt-4o", concurrency=8)
    outcomes = await results.collect()

    assert len(outcomes) == 60
    assert all(o.ok for o in outcomes)
    times = sorted(script.times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 0.3  # the whole pipeline waited out retry-after-ms
    assert results.summary.rate_limited == 1


class CountingTransport(httpx2.AsyncBaseTransport):
    """Counts requests in flight (sent, answer not yet started) at the HTTP layer."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.now, self.peak = inner, 0, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


@pytest.mark.parametrize("limit", [1, 5])
async def test_fixed_concurrency_is_never_exceeded(azure_emulator, limit):
    _script(azure_emulator, bad_once={2, 7})
    azure_emulator.inject(Fault.latency(0.01), times=None)
    counting = CountingTransport(AsyncEmulatorTransport(azure_emulator.app))
    raw = AsyncAzureOpenAI(
        azure_endpoint="https://emulator.openai.azure.com",
        api_key=azure_emulator.api_keys[0],
        api_version="2024-10-21",
        http_client=httpx2.AsyncClient(transport=counting),
    )
    client = instructor_az.from_openai(raw)

    results = aextract_many(client, TEXTS[:40], response_model=Person, model="gpt-4o", concurrency=limit)
    outcomes = await results.collect()

    assert len(outcomes) == 40
    assert all(o.ok for o in outcomes)
    assert counting.peak == limit
    assert results.summary.peak_concurrency == limit


def test_transport_retries_exhausted_is_typed(azure_emulator, azure_openai_client):
    _script(azure_emulator)
    azure_emulator.inject(Fault.server_error(503), times=None)
    client = instructor_az.from_openai(azure_openai_client)

    outcomes = extract_many(
        client, TEXTS[:3], response_model=Person, model="gpt-4o", transport_retries=2, retry_backoff=0.001
    ).collect()

    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome.error, TransportRetriesExhausted)
        assert isinstance(outcome.error.last_error, InternalServerError)
        assert outcome.error.__cause__ is outcome.error.last_error
        assert outcome.requests == 3
        assert outcome.status == "TransportRetriesExhausted"
    assert len(azure_emulator.requests) == 9


def test_inputs_prompt_and_create_keywords(azure_emulator, azure_openai_client):
    _script(azure_emulator)
    client = instructor_az.from_openai(azure_openai_client, mode="json_schema")
    seen: list[Any] = []
    client.on("completion:kwargs", lambda **kw: seen.append(kw))
    inputs = [
        "row 0 text",
        [{"role": "user", "content": "row 1 as messages"}],
        {"id": "x", "text": "row 2 record"},
        ("y", "row 3 pair"),
        {"id": "z", "messages": [{"role": "user", "content": "row 4 record messages"}]},
    ]

    outcomes = extract_many(
        client,
        inputs,
        response_model=Person,
        model="gpt-4o",
        prompt="Extract the person.",
        temperature=0,
        ordered=True,
    ).collect()

    assert [o.id for o in outcomes] == [0, 1, "x", "y", "z"]
    assert all(isinstance(o, Outcome) and o.ok for o in outcomes)
    bodies = [r.body for r in azure_emulator.requests]
    assert all(b["messages"][0] == {"role": "system", "content": "Extract the person."} for b in bodies)
    assert all(b["temperature"] == 0 and b["response_format"]["type"] == "json_schema" for b in bodies)
    assert len(seen) == 5  # the wrapped client's hooks run per row


def test_duplicate_ids_and_bad_inputs_are_refused(azure_emulator, azure_openai_client):
    _script(azure_emulator)
    client = instructor_az.from_openai(azure_openai_client)
    with pytest.raises(instructor_az.ConfigurationError, match="already given"):
        extract_many(
            client, [("a", "row 1"), ("a", "row 2")], response_model=Person, model="gpt-4o"
        ).collect()
    with pytest.raises(instructor_az.ConfigurationError, match="resume=True needs output"):
        extract_many(client, [], response_model=Person, resume=True)


def test_stopping_early_writes_only_finished_rows_and_resume_finishes(
    azure_emulator, azure_openai_client, tmp_path
):
    _script(azure_emulator)
    azure_emulator.inject(Fault.latency(0.01), times=None)
    out = tmp_path / "out.jsonl"
    client = instructor_az.from_openai(azure_openai_client)
    pairs = [(i, text) for i, text in enumerate(TEXTS[:100])]

    for n, _outcome in enumerate(
        extract_many(client, pairs, response_model=Person, model="gpt-4o", output=out, concurrency=4), 1
    ):
        if n == 5:
            break
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 5 <= len(lines) < 100
    assert len({line["id"] for line in lines}) == len(lines)

    assert all(line["ok"] for line in lines)  # interrupted rows are not written

    rest = extract_many(
        client, pairs, response_model=Person, model="gpt-4o", output=out, resume=True
    ).collect()
    done = {line["id"] for line in lines}
    assert sorted(o.id for o in rest) == sorted(set(range(100)) - done)
    final = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(final) == list(range(100))  # each id once


async def test_auto_concurrency_grows_on_headroom_and_is_cut_by_a_429(
    azure_emulator, async_azure_openai_client
):
    _script(azure_emulator)
    client = instructor_az.from_openai(async_azure_openai_client)

    grown = aextract_many(client, TEXTS, response_model=Person, model="gpt-4o")
    assert len(await grown.collect()) == len(TEXTS)
    assert grown.summary.final_concurrency > 4  # started at AUTO_START, grown on x-ratelimit-remaining-*

    azure_emulator.inject(Fault.rate_limit(retry_after_ms=10), times=1)
    cut = aextract_many(client, TEXTS[:3], response_model=Person, model="gpt-4o", concurrency="auto")
    assert len(await cut.collect()) == 3
    assert cut.summary.final_concurrency < 4  # 4 halved by the 429 (then grown by one, on headroom)


async def test_cancelling_the_task_stops_the_pipeline(azure_emulator, async_azure_openai_client, tmp_path):
    import asyncio

    _script(azure_emulator)
    azure_emulator.inject(Fault.latency(0.01), times=None)
    out = tmp_path / "out.jsonl"
    client = instructor_az.from_openai(async_azure_openai_client)
    pairs = [(i, text) for i, text in enumerate(TEXTS[:100])]
    got: list[Outcome] = []
    five = asyncio.Event()

    async def consume() -> None:
        async for outcome in aextract_many(
            client, pairs, response_model=Person, model="gpt-4o", output=out, concurrency=4
        ):
            got.append(outcome)
            if len(got) == 5:
                five.set()

    task = asyncio.create_task(consume())
    await five.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 5 <= len(lines) < 100
    assert len({line["id"] for line in lines}) == len(lines)

    rest = await aextract_many(
        client, pairs, response_model=Person, model="gpt-4o", output=out, resume=True
    ).collect()
    assert all(line["ok"] for line in lines)
    assert sorted([line["id"] for line in lines] + [o.id for o in rest]) == list(range(100))


def test_inputs_that_cannot_be_sent_fail_their_row_and_the_run_goes_on(
    azure_emulator, azure_openai_client, tmp_path
):
    from instructor_az.pipeline import InvalidInputError

    _script(azure_emulator)
    client = instructor_az.from_openai(azure_openai_client)
    out = tmp_path / "out.jsonl"
    inputs = ["row 0: Ann", {"text": "row 1: no id"}, 42, ("b", "   "), ("c", "row 4: Cid"), (1, 2, 3)]

    outcomes = extract_many(
        client, inputs, response_model=Person, model="gpt-4o", ordered=True, output=out
    ).collect()

    assert [o.ok for o in outcomes] == [True, False, False, False, True, False]
    errors = [o.error for o in outcomes if not o.ok]
    assert all(isinstance(e, InvalidInputError) for e in errors)
    assert [o.id for o in outcomes] == [0, None, 2, "b", "c", None]
    assert "needs an 'id'" in str(errors[0])
    assert "got int" in str(errors[1])
    assert "empty text" in str(errors[2])
    assert len(azure_emulator.requests) == 2  # only the rows that could be sent
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(str(line["id"]) for line in lines) == sorted(["0", "None", "2", "b", "c", "None"])
    id_less = [line for line in lines if line["id"] is None]
    assert sorted(line["error"]["index"] for line in id_less) == [1, 5]

    again = extract_many(client, inputs, response_model=Person, model="gpt-4o", output=out, resume=True)
    assert again.collect() == []  # id-less invalid inputs are found again by their place
    assert again.summary.skipped == 6
    assert again.summary.skipped_failed == 4
