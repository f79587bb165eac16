"""Request bodies the emulator refuses, Azure-shaped: too deeply nested JSON (400), too large (413)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import openai
import pytest

from instructor_az.emulator import DEFAULT_API_KEY, DEFAULT_ENDPOINT, LATEST_GA, MAX_JSON_DEPTH, Emulator

CHAT = f"/openai/deployments/gpt-4o/chat/completions?api-version={LATEST_GA}"
HEADERS = {"api-key": DEFAULT_API_KEY, "content-type": "application/json"}


def _nested(depth: int) -> bytes:
    inner = '{"a":' * depth + "1" + "}" * depth
    return ('{"messages":[{"role":"user","content":"hi"}],"metadata":' + inner + "}").encode()


def _raw(emulator: Emulator, content: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
    """The body as bytes, through the same in-process transport the SDK uses (the SDK cannot send these)."""
    with emulator.http_client() as http:
        return http.post(DEFAULT_ENDPOINT + CHAT, content=content, headers={**HEADERS, **(headers or {})})


def _assert_azure_error(response: httpx2.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "param", "type"}
    return dict(error)


@pytest.mark.parametrize("depth", [100_000, 1_000, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_is_an_azure_400(emulator: Emulator, depth: int) -> None:
    emulator.scripted.push("never sent")
    error = _assert_azure_error(_raw(emulator, _nested(depth)), 400)
    assert error["type"] == "invalid_request_error"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in str(error["message"])
    assert "flatter body" in str(error["message"])
    assert emulator.last_request.status == 400
    assert emulator.scripted.pending == 1


def test_json_nested_up_to_the_limit_is_parsed(emulator: Emulator) -> None:
    # metadata is then rejected for its own reasons (or accepted), but not as too deep
    response = _raw(emulator, _nested(MAX_JSON_DEPTH - 2))
    assert "levels deep" not in response.text


@pytest.fixture
def small() -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", max_body_bytes=2_000)
    yield emulator
    emulator.close()


def test_a_body_over_the_limit_is_a_413_through_the_sdk(small: Emulator) -> None:
    small.scripted.push("never sent")
    with small.client(max_retries=0) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x" * 5_000}])
    assert caught.value.status_code == 413
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "RequestEntityTooLarge"
    assert "limit of 2000 bytes" in body["message"]
    assert "max_body_bytes" in body["message"]  # says how to raise it
    assert small.last_request.status == 413
    assert small.last_request.body is None  # never parsed
    assert small.scripted.pending == 1


def test_a_body_under_the_limit_is_answered(small: Emulator) -> None:
    small.scripted.push("fine")
    with small.client(max_retries=0) as client:
        completion = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "fine"


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(small: Emulator) -> None:
    # The body itself is small: only Content-Length says it is large, so the refusal came from it.
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    response = _raw(small, body, {"content-length": "50000000"})
    assert _assert_azure_error(response, 413)["code"] == "RequestEntityTooLarge"


def test_the_limit_applies_to_multipart_uploads_too(small: Emulator) -> None:
    with (
        small.client(max_retries=0, api_version="2024-06-01") as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client.audio.transcriptions.create(model="whisper", file=("a.wav", b"\0" * 10_000, "audio/wav"))
    assert caught.value.status_code == 413


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_body_bytes_must_be_a_positive_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        Emulator(max_body_bytes=bad)  # type: ignore[arg-type]


@pytest.mark.loopback
def test_a_streamed_body_over_the_limit_is_refused_without_reading_it_whole() -> None:
    limit = 64 * 1024
    total = 512 * 1024 * 1024
    produced = 0

    def chunks() -> Iterator[bytes]:
        nonlocal produced
        yield b'{"messages":[{"role":"user","content":"'
        while produced < total:
            produced += 64 * 1024
            yield b"x" * (64 * 1024)
        yield b'"}]}'

    emulator = Emulator(backend="scripted", max_body_bytes=limit)
    try:
        with emulator.serve() as endpoint, httpx2.Client(base_url=endpoint, timeout=30) as http:
            response = http.post(CHAT, content=chunks(), headers=HEADERS)  # chunked: no Content-Length
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "RequestEntityTooLarge"
        assert produced < total // 4  # the server stopped reading; the client could not send it all
    finally:
        emulator.close()
