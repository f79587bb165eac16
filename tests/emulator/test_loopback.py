"""End to end over real sockets: the emulator served by uvicorn on 127.0.0.1, the SDK's own HTTP client."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import openai
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI, OpenAI

from instructor_az.emulator import DEFAULT_API_KEY, FAULT_HEADER, LATEST_GA, Emulator, Fault

pytestmark = pytest.mark.loopback

USER = [{"role": "user", "content": "When was Microsoft founded?"}]
ANSWER = "Microsoft was founded on April 4, 1975."


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    """One uvicorn server for the module (starting and stopping one costs ~0.2 s)."""
    emulator = Emulator(backend="scripted")
    try:
        with emulator.serve() as url:
            yield emulator, url
    finally:
        emulator.close()


@pytest.fixture
def emulator(served: tuple[Emulator, str]) -> Emulator:
    """The served emulator, with no queued answers, faults or recorded requests left from other tests."""
    emulator = served[0]
    emulator.reset()
    return emulator


@pytest.fixture
def endpoint(served: tuple[Emulator, str], emulator: Emulator) -> str:
    return served[1]


@pytest.fixture
def client(endpoint: str) -> Iterator[AzureOpenAI]:
    """A normal `AzureOpenAI`: its own HTTP client, real sockets."""
    client = AzureOpenAI(
        azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
    )
    yield client
    client.close()


def test_serve_yields_a_loopback_endpoint(endpoint: str) -> None:
    assert endpoint.startswith("http://127.0.0.1:")
    assert int(endpoint.rsplit(":", 1)[1]) > 0


def test_chat_over_loopback(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    assert completion._request_id == raw.headers["x-request-id"]
    assert raw.headers["x-ratelimit-remaining-requests"]
    assert (completion.model_extra or {})["prompt_filter_results"][0]["prompt_index"] == 0
    assert emulator.last_request.path == "/openai/deployments/gpt-4o/chat/completions"
    assert emulator.last_request.headers["api-key"] == "<redacted>"


def test_streaming_chat_over_loopback(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices == []
    assert "prompt_filter_results" in (chunks[0].model_extra or {})
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None


def test_embeddings_over_loopback(client: AzureOpenAI) -> None:
    decoded = client.embeddings.create(model="text-embedding-3-large", input="Attention is all you need")
    floats = client.embeddings.create(
        model="text-embedding-3-large", input="Attention is all you need", encoding_format="float"
    )
    assert len(decoded.data[0].embedding) == 3072
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_v1_route_over_loopback(endpoint: str, emulator: Emulator) -> None:
    emulator.scripted.push("v1 over the wire")
    with OpenAI(base_url=f"{endpoint}/openai/v1/", api_key=DEFAULT_API_KEY, max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        models = [m.id for m in client.models.list()]
    assert completion.choices[0].message.content == "v1 over the wire"
    assert "gpt-4o-mini" in models
    assert emulator.last_request.path == "/openai/v1/models"


def test_wrong_key_over_loopback_is_authentication_error(endpoint: str) -> None:
    with (
        AzureOpenAI(azure_endpoint=endpoint, api_key="wrong", api_version=LATEST_GA, max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert exc.value.status_code == 401
    assert exc.value.body["message"].startswith("Access denied due to invalid subscription key")


def test_unknown_deployment_over_loopback_is_deployment_not_found(client: AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-404", messages=USER)
    assert exc.value.code == "DeploymentNotFound"


def test_rate_limit_over_loopback_is_retried_by_the_sdk(endpoint: str, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER)
    with AzureOpenAI(azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA) as client:
        started = time.monotonic()
        completion = client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            extra_headers={FAULT_HEADER: "rate_limit; retry_after_ms=20; times=1"},
        )
        elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == ANSWER
    assert [r.status for r in emulator.requests] == [429, 200]
    assert elapsed >= 0.02


def test_dropped_stream_over_loopback_is_api_connection_error(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER * 3)
    emulator.inject(Fault.drop_connection(after_chunks=3))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):
            received.append(chunk)
    assert len(received) == 3


def test_dropped_non_stream_response_over_loopback_is_api_connection_error(
    client: AzureOpenAI, emulator: Emulator
) -> None:
    emulator.scripted.push(ANSWER, "still serving")
    emulator.inject(Fault.drop_connection())
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content == (
        "still serving"
    )


def test_timeout_over_loopback_is_api_timeout_error() -> None:
    # Its own server: the abandoned request finishes its latency on the server after the client gave up.
    emulator = Emulator(backend="scripted")
    emulator.inject(Fault.latency(0.3))
    try:
        with (
            emulator.serve() as url,
            AzureOpenAI(
                azure_endpoint=url,
                api_key=DEFAULT_API_KEY,
                api_version=LATEST_GA,
                max_retries=0,
                timeout=0.05,
            ) as client,
            pytest.raises(openai.APITimeoutError),
        ):
            client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        emulator.close()


async def test_async_client_over_loopback(endpoint: str, emulator: Emulator) -> None:
    emulator.scripted.push(ANSWER, "streamed async")
    client = AsyncAzureOpenAI(
        azure_endpoint=endpoint, api_key=DEFAULT_API_KEY, api_version=LATEST_GA, max_retries=0
    )
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=USER)
        stream = await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    finally:
        await client.close()
    assert completion.choices[0].message.content == ANSWER
    assert text == "streamed async"


def test_azure_emulator_endpoint_fixture(azure_emulator: Emulator, azure_emulator_endpoint: str) -> None:
    azure_emulator.scripted.push({"name": "John", "age": 30})
    with AzureOpenAI(
        azure_endpoint=azure_emulator_endpoint, api_key="test-key", api_version=LATEST_GA, max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "John is 30. Answer in JSON."}],
            response_format={"type": "json_object"},
        )
    assert json.loads(completion.choices[0].message.content or "") == {"name": "John", "age": 30}
    assert azure_emulator.last_request.auth == "api-key"


# --- the CLI ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_cli_emulator_serves_real_requests(tmp_path: object) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "instructor_az.cli", "emulator", "--port", str(port), "--api-key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(process.stdout, output), daemon=True).start()
        seen: list[str] = []
        deadline = time.monotonic() + 20
        endpoint = None
        running = False
        while not (endpoint and running):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the emulator did not start; output so far: {seen}"
            try:
                line = output.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("Azure OpenAI emulator") and " on http://" in line:
                endpoint = line.rsplit(" on ", 1)[1].strip()
            if "Uvicorn running on" in line:  # uvicorn's own line: the socket is listening
                running = True
        assert endpoint == f"http://127.0.0.1:{port}"
        assert any("AZURE_OPENAI_API_KEY=cli-key" in s for s in seen)
        with AzureOpenAI(
            azure_endpoint=endpoint, api_key="cli-key", api_version=LATEST_GA, max_retries=0, timeout=10
        ) as client:
            completion = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hello from the CLI test"}]
            )
        assert "Hello from the CLI test" in (completion.choices[0].message.content or "")
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            with contextlib.suppress(Exception):
                process.stdout.close()
