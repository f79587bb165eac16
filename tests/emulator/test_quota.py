"""Azure's per-deployment quotas (RPM / TPM) through the real openai SDK: 429s exactly at the limits,
the rate-limit headers, `retry-after-ms` = the time left in the window, `max_tokens` reserved, latency
per token; then the control API and the CLI over loopback."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import DEFAULT_API_KEY, LATEST_GA, Emulator, ManualClock, Quota

USER = [{"role": "user", "content": "Who wrote Hamlet?"}]


def make(quotas: Any, **kwargs: Any) -> tuple[Emulator, ManualClock, AzureOpenAI]:
    clock = ManualClock()
    emulator = Emulator(backend="scripted", quotas=quotas, clock=clock, **kwargs)
    return emulator, clock, emulator.client(max_retries=0)


def ask(client: AzureOpenAI, emulator: Emulator, model: str = "gpt-4o", **kwargs: Any) -> Any:
    emulator.scripted.push("Shakespeare.")
    return client.chat.completions.with_raw_response.create(model=model, messages=USER, **kwargs)


def test_rpm_is_hit_exactly_at_the_configured_count_and_frees_with_the_window() -> None:
    emulator, clock, client = make(Quota(rpm=3, rpm_period=60))
    clock.advance(15)
    remaining = [ask(client, emulator).headers["x-ratelimit-remaining-requests"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, emulator)
    error = caught.value
    assert error.body["code"] == "429"
    assert "exceeded call rate limit" in error.body["message"]
    assert error.response.headers["retry-after-ms"] == "45000"
    assert error.response.headers["retry-after"] == "45"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert [r.status for r in emulator.requests] == [200, 200, 200, 429]
    clock.advance(45)
    assert ask(client, emulator).headers["x-ratelimit-remaining-requests"] == "2"


def test_rpm_is_evaluated_over_azures_ten_second_periods_by_default() -> None:
    emulator, clock, client = make(Quota(rpm=60))  # 60 RPM -> 10 per 10 s period
    clock.advance(2.5)
    for _ in range(10):
        ask(client, emulator)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, emulator)
    assert caught.value.response.headers["retry-after-ms"] == "7500"
    clock.advance(7.5)
    ask(client, emulator)


def test_tokens_reserved_are_the_prompt_plus_max_tokens() -> None:
    emulator, _, client = make(Quota(tpm=1000))
    first = ask(client, emulator, max_tokens=300)
    prompt = first.parse().usage.prompt_tokens
    assert int(first.headers["x-ratelimit-remaining-tokens"]) == 1000 - (prompt + 300)
    second = ask(client, emulator, max_completion_tokens=200)
    left = 1000 - 2 * prompt - 500
    assert int(second.headers["x-ratelimit-remaining-tokens"]) == left
    # One token more than is left is refused; exactly what is left passes.
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, emulator, max_tokens=left - prompt + 1)
    assert "exceeded token rate limit" in caught.value.body["message"]
    assert caught.value.response.headers["x-ratelimit-remaining-tokens"] == str(left)
    assert caught.value.response.headers["retry-after-ms"] == "60000"
    last = ask(client, emulator, max_tokens=left - prompt)
    assert last.headers["x-ratelimit-remaining-tokens"] == "0"


def test_n_multiplies_the_reservation() -> None:
    emulator, _, client = make(Quota(tpm=10_000))
    emulator.scripted.push("a", "b")
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER, max_tokens=100, n=2)
    prompt = raw.parse().usage.prompt_tokens
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) == 10_000 - prompt - 200


def test_without_max_tokens_the_context_is_reserved_until_the_answer_is_done() -> None:
    emulator, _, client = make(Quota(tpm=2000, context_tokens=1500))
    limiter = emulator.quotas
    # While it runs, the request holds the whole context (Azure infers it without max_tokens) ...
    running = limiter.admit("gpt-4o", 20, None)
    assert limiter.remaining("gpt-4o") == (999, 500)  # RPM not set: counts down from 1000
    # ... a request needing more than is left is refused, though the limit is not used for real ...
    with pytest.raises(openai.RateLimitError):
        ask(client, emulator, max_tokens=600)
    # ... and once it finishes only its real tokens stay counted.
    running.settle(30)
    assert limiter.remaining("gpt-4o")[1] == 2000 - 50
    # Through the SDK: unconstrained requests are admitted on their prompt, then settle.
    raw = ask(client, emulator)
    usage = raw.parse().usage
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) == 2000 - 50 - usage.total_tokens


def test_deployments_have_their_own_quotas_and_windows() -> None:
    emulator, _, client = make(
        {"gpt-4o": Quota(rpm=1, rpm_period=60), "gpt-4o-mini": Quota(rpm=2, rpm_period=60)}
    )
    ask(client, emulator, model="gpt-4o")
    with pytest.raises(openai.RateLimitError):
        ask(client, emulator, model="gpt-4o")
    assert ask(client, emulator, model="gpt-4o-mini").headers["x-ratelimit-remaining-requests"] == "1"
    for _ in range(5):  # gpt-4 has no quota: not enforced, the headers count down from 1000
        raw = ask(client, emulator, model="gpt-4")
    assert raw.headers["x-ratelimit-remaining-requests"] == "995"


def test_a_quota_set_later_applies_at_once() -> None:
    emulator, _, client = make(None)
    ask(client, emulator)
    emulator.quotas.set(Quota(rpm=1, rpm_period=60), deployment="gpt-4o")
    with pytest.raises(openai.RateLimitError):
        ask(client, emulator)  # the request already counted in this window
    emulator.quotas.set(Quota(rpm=1, rpm_period=60))  # the default for the others
    ask(client, emulator, model="gpt-4o-mini")
    with pytest.raises(openai.RateLimitError):
        ask(client, emulator, model="gpt-4o-mini")


def test_embeddings_count_their_input_tokens() -> None:
    _, _, client = make(Quota(tpm=100))
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-large", input=["one two three"])
    assert raw.parse().usage.prompt_tokens == 3
    assert raw.headers["x-ratelimit-remaining-tokens"] == "97"


def test_the_sdks_retries_wait_out_retry_after_ms() -> None:
    # A real clock and a 50 ms period: 1 request per period, the second waits for the next one.
    emulator = Emulator(backend="scripted", quotas=Quota(rpm=60, rpm_period=0.05))
    client = emulator.client()  # the SDK's default retries
    emulator.scripted.push("one", "two")
    started = time.monotonic()
    for _ in range(2):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    statuses = [r.status for r in emulator.requests]
    assert statuses[0] == 200
    assert statuses[-1] == 200
    assert set(statuses[1:-1]) <= {429}
    assert time.monotonic() - started < 2


def test_latency_per_100_tokens_is_paid_streamed_or_not() -> None:
    emulator, clock, client = make(Quota(seconds_per_100_tokens=2.0))
    reply = "word " * 50  # 50 tokens -> 1 s
    emulator.scripted.push(reply)
    completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 50
    assert clock.slept == [pytest.approx(1.0)]
    assert clock.now() == pytest.approx(1.0)
    emulator.scripted.push(reply)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(clock.slept) > 2  # spread over the chunks
    assert sum(clock.slept[1:]) == pytest.approx(1.0)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply


@pytest.mark.anyio
async def test_async_client_sees_the_same_limits() -> None:
    emulator = Emulator(backend="scripted", quotas=Quota(rpm=1, rpm_period=60), clock=ManualClock())
    client = emulator.async_client(max_retries=0)
    emulator.scripted.push("a", "b")
    await client.chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="gpt-4o", messages=USER)


def test_the_limiter_is_thread_safe() -> None:
    emulator = Emulator(quotas=Quota(rpm=50, rpm_period=60), clock=ManualClock())
    admitted: list[int] = []

    def hammer() -> None:
        for _ in range(20):
            try:
                emulator.quotas.admit("gpt-4o", 1, 1)
                admitted.append(1)
            except Exception:  # RateLimited
                pass

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 50


def test_bad_quotas_are_refused() -> None:
    with pytest.raises(ValueError, match="rpm"):
        Quota(rpm=0)
    with pytest.raises(ValueError, match="RPM:TPM"):
        Quota.parse("60")
    assert Quota.parse(":500") == Quota(tpm=500)
    with pytest.raises(KeyError):
        Emulator(quotas={"nope": Quota(rpm=1)})


# --- over loopback: the control API and the CLI ---------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(backend="scripted")
    try:
        with emulator.serve() as url:
            yield emulator, url
    finally:
        emulator.close()


@pytest.mark.loopback
def test_control_api_sets_reads_and_clears_quotas(served: tuple[Emulator, str]) -> None:
    emulator, url = served
    key = {"api-key": DEFAULT_API_KEY}
    with httpx2.Client(base_url=f"{url}/_emulator", timeout=10) as http:
        assert http.get("/quotas").status_code == 401
        answer = http.post("/quotas", json={"rpm": 1, "rpm_period": 60, "deployment": "gpt-4o"}, headers=key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["quota"]["rpm"] == 1
        bad = http.post("/quotas", json={"rpm": -1}, headers=key)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "EmulatorControlError"
        unknown = http.post("/quotas", json={"rpm": 1, "deployment": "nope"}, headers=key)
        assert unknown.status_code == 400
        client = AzureOpenAI(
            azure_endpoint=url, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
        )
        emulator.scripted.push("a", "b")
        client.chat.completions.create(model="gpt-4o", messages=USER)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=USER)
        state = http.get("/quotas", headers=key).json()
        assert state["deployments"]["gpt-4o"]["rpm"] == 1
        assert state["default"]["rpm"] is None
        assert state["remaining"]["gpt-4o"]["requests"] == 0
        assert http.delete("/quotas", headers=key).json() == {"cleared": True}
        assert http.get("/quotas", headers=key).json()["deployments"] == {}
        client.chat.completions.create(model="gpt-4o", messages=USER)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.loopback
def test_cli_quota_flags() -> None:
    port = _free_port()
    command = [
        sys.executable, "-m", "instructor_az.cli", "emulator", "--port", str(port), "--backend", "scripted",
        "--rpm", "2", "--rpm-period", "60", "--quota", "gpt-4o-mini=1:", "--latency-per-100-tokens", "0.01",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        seen = []
        deadline = time.monotonic() + 20
        while not any("Uvicorn running" in line or "Application startup" in line for line in seen):
            assert time.monotonic() < deadline, seen
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert process.poll() is None, seen
        assert any("quota:" in line and "gpt-4o-mini" in line for line in seen), seen
        endpoint = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=f"{endpoint}/_emulator", headers={"api-key": DEFAULT_API_KEY}) as http:
            http.post(
                "/scripted", json={"answers": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}]}
            )
        client = AzureOpenAI(
            azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
        )
        for _ in range(2):
            client.chat.completions.create(model="gpt-4o", messages=USER)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert 0 < int(caught.value.response.headers["retry-after-ms"]) <= 60_000
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_rejects_a_bad_quota() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "instructor_az.cli", "emulator", "--quota", "nope=1:2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr
