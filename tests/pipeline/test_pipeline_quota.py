"""The pipeline against the emulator's own Azure quota (its x-ratelimit-remaining-* headers and real
429s with retry-after-ms, not injected faults): every row ends once, at most a tenth meet a 429."""

from __future__ import annotations

import re
from typing import Any

from openai import AsyncAzureOpenAI
from pydantic import BaseModel

import instructor_az
from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator, Quota
from instructor_az.pipeline import aextract_many


class Row(BaseModel):
    n: int


def _answer(request: Any) -> dict[str, int]:
    text = next(m["content"] for m in request.messages if m["role"] == "user")
    found = re.search(r"row (\d+)", str(text))
    assert found is not None
    return {"n": int(found.group(1))}


def _client(emulator: Emulator) -> AsyncAzureOpenAI:
    """The real async SDK client on the in-process emulator, which answers each row with its number."""
    emulator.scripted.on(lambda request: True, _answer)
    return AsyncAzureOpenAI(
        azure_endpoint=DEFAULT_ENDPOINT,
        api_key="test-key",
        api_version=LATEST_GA,
        http_client=emulator.async_http_client(),
    )


async def test_auto_pacing_absorbs_the_deployments_real_429s() -> None:
    # 6 requests per 0.2 s bucket: 30 requests a second; 60 rows need about 2 s at the quota.
    emulator = Emulator(
        backend="scripted", api_keys=["test-key"], quotas={"gpt-4o": Quota(rpm=1800, rpm_period=0.2)}
    )
    raw = _client(emulator)
    client = instructor_az.from_openai(raw)
    rows = [(f"r{i}", f"row {i}") for i in range(60)]
    results = aextract_many(client, rows, response_model=Row, model="gpt-4o", concurrency="auto")
    outcomes = await results.collect()
    await raw.close()

    assert sorted(o.id for o in outcomes) == sorted(i for i, _ in rows)  # each row exactly once
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert {o.id: o.value.n for o in outcomes} == {f"r{i}": i for i in range(60)}
    summary = results.summary
    statuses = [r.status for r in emulator.requests]
    assert statuses.count(200) == 60
    # Paced on the window Azure reports, the pipeline rarely meets a 429 (the bar: a tenth of
    # the rows at most); any it meets are seen and absorbed.
    assert statuses.count(429) <= len(rows) // 10
    assert summary.rate_limited == statuses.count(429)
    assert summary.succeeded == 60
    assert summary.requests == len(statuses)


async def test_auto_pacing_keeps_inside_the_token_window() -> None:
    # Tokens bind, not requests: 1,500 tokens per 0.5 s window; each request reserves its prompt plus
    # max_tokens=100 (about 160), so about nine fit in a window.
    emulator = Emulator(
        backend="scripted",
        api_keys=["test-key"],
        quotas={"gpt-4o": Quota(tpm=180_000, tpm_period=0.5)},
    )
    raw = _client(emulator)
    client = instructor_az.from_openai(raw)
    rows = [(f"r{i}", f"row {i}") for i in range(60)]
    results = aextract_many(client, rows, response_model=Row, model="gpt-4o", max_tokens=100)
    outcomes = await results.collect()
    await raw.close()

    assert sorted(o.id for o in outcomes) == sorted(i for i, _ in rows)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    statuses = [r.status for r in emulator.requests]
    assert statuses.count(200) == 60
    assert statuses.count(429) <= len(rows) // 10  # the token window is kept, not found by 429s
    assert all(r.body["max_tokens"] == 100 for r in emulator.requests)
