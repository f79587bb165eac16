"""Azure's Files and Batch APIs through the real openai SDK (`AzureOpenAI`, `OpenAI` on v1), in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import Emulator, ManualClock


def _line(
    custom_id: str, content: str = "hi", *, model: str = "gpt-4o", url: str = "/chat/completions"
) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def _jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    emulator = Emulator(backend="scripted", clock=clock)
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


def _upload(client: Any, data: bytes, name: str = "tasks.jsonl") -> str:
    file = client.files.create(file=(name, io.BytesIO(data)), purpose="batch")
    return str(file.id)


def _start(client: Any, data: bytes) -> str:
    batch = client.batches.create(
        input_file_id=_upload(client, data), endpoint="/chat/completions", completion_window="24h"
    )
    assert batch.status == "validating"
    return str(batch.id)


def _rows(client: Any, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(text) for text in client.files.content(file_id).text.splitlines()]


def test_file_lifecycle(client: AzureOpenAI, emulator: Emulator) -> None:
    data = _jsonl(_line("a"))
    file = client.files.create(file=("tasks.jsonl", io.BytesIO(data)), purpose="batch")
    assert file.id.startswith("file-")
    assert file.object == "file"
    assert (file.purpose, file.status, file.bytes, file.filename) == (
        "batch",
        "processed",
        len(data),
        "tasks.jsonl",
    )
    assert isinstance(file.created_at, int)
    assert emulator.last_request.path == "/openai/files"
    assert emulator.last_request.api_version is not None
    assert client.files.retrieve(file.id).bytes == len(data)
    assert [f.id for f in client.files.list()] == [file.id]
    assert client.files.content(file.id).content == data
    deleted = client.files.delete(file.id)
    assert deleted.deleted
    assert deleted.id == file.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file.id)


def test_files_need_the_key(emulator: Emulator) -> None:
    bad = emulator.client(api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.files.list()
    with pytest.raises(openai.AuthenticationError):
        bad.batches.list()


def test_batch_runs_to_completion(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    emulator.batches.validation_seconds = 10
    emulator.batches.processing_seconds = 60
    emulator.batches.finalizing_seconds = 5
    emulator.scripted.push("first", "second", "third")
    batch_id = _start(client, _jsonl(_line("task-0"), _line("task-1"), _line("task-2")))
    created = client.batches.retrieve(batch_id)
    assert created.status == "validating"
    assert created.endpoint == "/chat/completions"
    assert created.expires_at == created.created_at + 24 * 3600
    clock.advance(10)
    assert client.batches.retrieve(batch_id).status == "in_progress"
    clock.advance(60)
    finalizing = client.batches.retrieve(batch_id)
    assert finalizing.status == "finalizing"
    clock.advance(5)
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (
        3,
        3,
        0,
    )
    assert batch.in_progress_at == batch.created_at + 10
    assert batch.finalizing_at == batch.created_at + 70
    assert batch.completed_at == batch.created_at + 75
    assert batch.error_file_id is None
    assert batch.errors is None
    assert batch.output_file_id is not None
    rows = _rows(client, batch.output_file_id)
    answers = {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in rows}
    assert answers == {"task-0": "first", "task-1": "second", "task-2": "third"}
    for row in rows:
        assert row["error"] is None
        assert row["response"]["status_code"] == 200
        assert row["response"]["request_id"]
        body = row["response"]["body"]
        assert body["object"] == "chat.completion"
        assert "content_filter_results" in body["choices"][0]
        assert body["prompt_filter_results"]
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"
    # each line went through the chat completion route
    chats = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert [r.deployment for r in chats] == ["gpt-4o"] * 3


def test_failed_lines_go_to_the_error_file(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("ok")
    batch_id = _start(client, _jsonl(_line("good"), _line("bad", model="no-such-deployment")))
    batch = client.batches.retrieve(batch_id)
    # the second line names another deployment: that is a validation failure, not a line failure
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert [e.code for e in batch.errors.data] == ["model_mismatch"]
    assert batch.errors.data[0].line == 2

    batch_id = _start(client, _jsonl(_line("x", model="no-such-deployment")))
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.failed == 1
    assert batch.output_file_id is None
    assert batch.error_file_id is not None
    [row] = _rows(client, batch.error_file_id)
    assert row["custom_id"] == "x"
    assert row["response"]["status_code"] == 404
    assert row["response"]["body"]["error"]["code"] == "DeploymentNotFound"


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (_jsonl(_line("a"), "{not json"), "invalid_json_line", 2),
        (_jsonl(_line("a"), _line("a")), "duplicate_custom_id", 2),
        (_jsonl(_line("a"), _line("b", model="gpt-4")), "model_mismatch", 2),
        (_jsonl(_line("a", url="/embeddings")), "url_mismatch", 1),
        (b"", "empty_file", None),
        (b"\n\n", "empty_file", None),
    ],
)
def test_validation_errors(client: AzureOpenAI, data: bytes, code: str, line: int | None) -> None:
    batch = client.batches.retrieve(_start(client, data))
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None
    assert batch.errors.object == "list"
    assert batch.errors.data is not None
    [error] = batch.errors.data
    assert (error.code, error.line) == (code, line)
    assert error.message


def test_too_many_tasks(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.batches.max_tasks = 3
    batch = client.batches.retrieve(_start(client, _jsonl(*(_line(f"t{i}") for i in range(4)))))
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert [e.code for e in batch.errors.data] == ["too_many_tasks"]


def test_azure_limit_is_100k() -> None:
    from instructor_az.emulator._batches import MAX_TASKS, validate_lines

    assert MAX_TASKS == 100_000
    lines, errors = validate_lines(b"{}\n" * 100_001, "/chat/completions")
    assert lines == []
    assert [e["code"] for e in errors] == ["too_many_tasks"]


def test_create_checks_its_arguments(client: AzureOpenAI) -> None:
    file_id = _upload(client, _jsonl(_line("a")))
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/chat/completions",
            completion_window="48h",  # type: ignore[arg-type]
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-missing", endpoint="/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")


def test_cancel(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    emulator.batches.processing_seconds = 60
    emulator.batches.cancel_seconds = 30
    batch_id = _start(client, _jsonl(_line("a"), _line("b")))
    assert client.batches.retrieve(batch_id).status == "in_progress"
    cancelling = client.batches.cancel(batch_id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    clock.advance(30)
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "cancelled"
    assert batch.cancelled_at == cancelling.cancelling_at + 30
    assert batch.request_counts is not None
    assert batch.request_counts.completed == 0
    assert batch.output_file_id is None
    assert not [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch_id)


def test_expired_after_24_hours(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    emulator.batches.processing_seconds = 25 * 3600
    batch_id = _start(client, _jsonl(_line("a"), _line("b")))
    clock.advance(23 * 3600)
    assert client.batches.retrieve(batch_id).status == "in_progress"
    clock.advance(3600)
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "expired"
    assert batch.expired_at == batch.expires_at
    assert batch.error_file_id is not None
    rows = _rows(client, batch.error_file_id)
    assert [(r["custom_id"], r["error"]["code"]) for r in rows] == [
        ("a", "batch_expired"),
        ("b", "batch_expired"),
    ]


def test_list_batches_pages(client: AzureOpenAI) -> None:
    ids = [_start(client, _jsonl(_line("a"))) for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[:2]
    assert page.has_more
    assert [b.id for b in client.batches.list(limit=2)] == ids  # the SDK follows `after`
    assert all(b.status == "failed" or b.status == "completed" for b in client.batches.list())


def test_v1_routes(emulator: Emulator) -> None:
    emulator.scripted.push("from v1")
    client = emulator.openai_client(max_retries=0)
    file = client.files.create(
        file=("tasks.jsonl", io.BytesIO(_jsonl(_line("v", url="/v1/chat/completions")))), purpose="batch"
    )
    assert emulator.last_request.path == "/openai/v1/files"
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert emulator.last_request.path == "/openai/v1/batches"
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.output_file_id is not None
    [row] = _rows(client, done.output_file_id)
    assert row["custom_id"] == "v"
    assert row["response"]["body"]["choices"][0]["message"]["content"] == "from v1"


async def test_async_client(emulator: Emulator) -> None:
    emulator.scripted.push("async answer")
    client = emulator.async_client(max_retries=0)
    try:
        file = await client.files.create(file=("t.jsonl", io.BytesIO(_jsonl(_line("a")))), purpose="batch")
        batch = await client.batches.create(
            input_file_id=file.id, endpoint="/chat/completions", completion_window="24h"
        )
        done = await client.batches.retrieve(batch.id)
        assert done.status == "completed"
        assert done.output_file_id is not None
        text = (await client.files.content(done.output_file_id)).text
        assert json.loads(text)["response"]["body"]["choices"][0]["message"]["content"] == "async answer"
    finally:
        await client.close()
