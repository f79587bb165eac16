"""Azure's Files and Batch APIs through the real openai SDK (`AzureOpenAI`, `OpenAI` on v1), in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import Deployment, Emulator, Fault, ManualClock, SchemaBackend, ScriptedBackend


def _line(
    custom_id: str, content: str = "hi", *, model: str = "gpt-4o-batch", url: str = "/chat/completions"
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
    started = client.batches.retrieve(batch_id)
    assert started.status == "in_progress"
    assert started.request_counts is not None
    assert (started.request_counts.total, started.request_counts.completed) == (3, 0)
    clock.advance(20)  # a third of the processing time: the first line is due
    third = client.batches.retrieve(batch_id)
    assert third.request_counts is not None
    assert third.request_counts.completed == 1
    assert third.output_file_id is None  # files are written when the job ends
    clock.advance(40)
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
    assert batch.errors is None
    # Azure: "Successful jobs will still generate an error_file_id, but it will be associated with an
    # empty file with zero bytes."
    assert batch.error_file_id is not None
    assert client.files.retrieve(batch.error_file_id).bytes == 0
    assert client.files.content(batch.error_file_id).content == b""
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
    assert [r.deployment for r in chats] == ["gpt-4o-batch"] * 3


def test_failed_lines_go_to_the_error_file(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("ok")
    empty = {"model": "gpt-4o-batch", "messages": []}  # the chat route's 400 (empty_array)
    bad = json.dumps({"custom_id": "bad", "method": "POST", "url": "/chat/completions", "body": empty})
    batch = client.batches.retrieve(_start(client, _jsonl(_line("good"), bad)))
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert batch.output_file_id is not None
    assert batch.error_file_id is not None
    [good] = _rows(client, batch.output_file_id)
    assert good["custom_id"] == "good"
    [row] = _rows(client, batch.error_file_id)
    assert row["custom_id"] == "bad"
    assert row["error"] is None
    assert row["response"]["status_code"] == 400
    assert row["response"]["request_id"]
    assert row["response"]["body"]["error"]["code"] == "empty_array"


def test_output_file_is_empty_when_every_line_failed(client: AzureOpenAI) -> None:
    batch = client.batches.retrieve(_start(client, _jsonl(_line("a"), _line("b"))))  # nothing scripted
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.failed == 2
    assert batch.output_file_id is not None
    assert client.files.content(batch.output_file_id).content == b""
    assert batch.error_file_id is not None
    codes = [r["response"]["body"]["error"]["code"] for r in _rows(client, batch.error_file_id)]
    assert codes == ["EmulatorScriptExhausted"] * 2


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (_jsonl(_line("a"), "{not json"), "invalid_json_line", 2),
        (_jsonl(_line("a"), _line("a")), "duplicate_custom_id", 2),
        (_jsonl(_line("a"), _line("b", model="gpt-4")), "model_mismatch", 2),
        (_jsonl(_line("a", url="/embeddings")), "url_mismatch", 1),
        (b"", "empty_file", None),
        (b"\n\n", "empty_file", None),
        (_jsonl(_line("a", model="no-such-deployment")), "model_not_found", None),
        (_jsonl(_line("a", model="gpt-4o")), "invalid_request", None),  # a GlobalStandard deployment
        (b"\xef\xbb\xbf" + _jsonl(_line("a")), "model_not_found", None),  # a UTF-8 byte-order mark
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
    assert batch.output_file_id is not None
    assert client.files.content(batch.output_file_id).content == b""  # no line was answered
    assert not [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch_id)


def test_expired_after_24_hours(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    emulator.batches.processing_seconds = 25 * 3600
    emulator.scripted.push("answered in time")
    batch_id = _start(client, _jsonl(_line("a"), _line("b")))
    clock.advance(23 * 3600)
    assert client.batches.retrieve(batch_id).status == "in_progress"
    clock.advance(3600)
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "expired"
    assert batch.expired_at == batch.expires_at
    # line a was due halfway through (12.5 h), line b at 25 h: after the window
    assert batch.output_file_id is not None
    assert [r["custom_id"] for r in _rows(client, batch.output_file_id)] == ["a"]
    assert batch.error_file_id is not None
    rows = _rows(client, batch.error_file_id)
    assert [(r["custom_id"], r["response"], r["error"]["code"]) for r in rows] == [
        ("b", None, "batch_expired")
    ]


def test_cancel_keeps_the_lines_answered(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    emulator.batches.processing_seconds = 100
    emulator.scripted.push("one", "two", "three", "four")
    batch_id = _start(client, _jsonl(*(_line(f"t{i}") for i in range(4))))
    clock.advance(50)  # two of the four lines are due
    cancelling = client.batches.cancel(batch_id)
    assert cancelling.status == "cancelling"
    clock.advance(60)
    batch = client.batches.retrieve(batch_id)
    assert batch.status == "cancelled"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (4, 2)
    assert batch.output_file_id is not None
    answers = [
        r["response"]["body"]["choices"][0]["message"]["content"] for r in _rows(client, batch.output_file_id)
    ]
    assert answers == ["one", "two"]
    assert emulator.scripted.pending == 2  # the other lines were never run


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
    # a v1 job's lines go to the v1 chat route (the deployment named in the body)
    [chat] = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert (chat.path, chat.deployment, chat.api_version) == (
        "/openai/v1/chat/completions",
        "gpt-4o-batch",
        None,
    )


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


# --- batch deployments ------------------------------------------------------------------------------


def test_batch_deployments() -> None:
    emulator = Emulator()
    batch = emulator.deployment("gpt-4o-batch")
    assert (batch.model, batch.version, batch.sku, batch.is_batch) == (
        "gpt-4o",
        "2024-08-06",
        "GlobalBatch",
        True,
    )
    assert emulator.deployment("gpt-4o-mini-batch").sku == "GlobalBatch"
    assert emulator.deployment("gpt-4o").sku == "GlobalStandard"
    assert not emulator.deployment("gpt-4o").is_batch
    assert Deployment("eu-batch", "gpt-4o", sku="DataZoneBatch").is_batch
    with pytest.raises(ValueError, match="sku"):
        Deployment("x", "gpt-4o", sku="Global-Batch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="enqueued_tokens"):
        Deployment("x", "gpt-4o", sku="GlobalBatch", enqueued_tokens=0)


def test_model_not_found_names_the_batch_deployments(client: AzureOpenAI) -> None:
    batch = client.batches.retrieve(_start(client, _jsonl(_line("a", model="gpt-4o-bt"))))
    assert batch.errors is not None
    assert batch.errors.data is not None
    [error] = batch.errors.data
    assert error.code == "model_not_found"
    assert error.message == (
        "The provided model deployment 'gpt-4o-bt' does not exist in the AOAI resource. Valid deployments are "
        "'gpt-4o-batch, gpt-4o-mini-batch'. Learn more: https://aka.ms/aoai_batch/errors."
    )
    assert (error.line, error.param) == (None, None)


def test_a_bom_gets_azures_misleading_message(client: AzureOpenAI) -> None:
    batch = client.batches.retrieve(_start(client, b"\xef\xbb\xbf" + _jsonl(_line("a"), _line("b"))))
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    [error] = batch.errors.data
    assert error.message is not None
    assert error.message.startswith("Validation failed: A valid model deployment name couldn't be extracted")


def test_a_batch_deployment_also_answers_online(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("online")
    answer = client.chat.completions.create(
        model="gpt-4o-batch", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "online"


# --- file expiry ------------------------------------------------------------------------------------


def test_file_expiry_from_extra_body(client: AzureOpenAI, emulator: Emulator, clock: ManualClock) -> None:
    file = client.files.create(
        file=("t.jsonl", io.BytesIO(_jsonl(_line("a")))),
        purpose="batch",
        extra_body={"expires_after": {"seconds": 1209600, "anchor": "created_at"}},
    )
    assert file.expires_at == file.created_at + 1209600
    # the SDK sends extra_body fields of a multipart request as bracketed form fields
    assert emulator.last_request.body["expires_after[seconds]"] == "1209600"
    assert emulator.last_request.body["expires_after[anchor]"] == "created_at"
    assert client.files.retrieve(file.id).expires_at == file.expires_at
    clock.advance(1209600 - 1)
    assert client.files.retrieve(file.id).id == file.id
    clock.advance(1)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file.id)
    assert [f.id for f in client.files.list()] == []


def test_file_expiry_from_the_sdk_argument(client: AzureOpenAI) -> None:
    file = client.files.create(
        file=("t.jsonl", io.BytesIO(_jsonl(_line("a")))),
        purpose="batch",
        expires_after={"seconds": 2592000, "anchor": "created_at"},
    )
    assert file.expires_at == file.created_at + 2592000
    assert client.files.create(file=("t.jsonl", io.BytesIO(b"{}")), purpose="batch").expires_at is None


@pytest.mark.parametrize(
    ("expires_after", "param"),
    [
        ({"seconds": 3600, "anchor": "created_at"}, "expires_after.seconds"),  # OpenAI's minimum, not Azure's
        ({"seconds": 2592001, "anchor": "created_at"}, "expires_after.seconds"),
        ({"seconds": "soon", "anchor": "created_at"}, "expires_after.seconds"),
        ({"seconds": 1209600, "anchor": "last_active_at"}, "expires_after.anchor"),
        ({"seconds": 1209600}, "expires_after.anchor"),
    ],
)
def test_file_expiry_out_of_range(client: AzureOpenAI, expires_after: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(
            file=("t.jsonl", io.BytesIO(b"{}")), purpose="batch", extra_body={"expires_after": expires_after}
        )
    assert caught.value.param == param
    assert [f.id for f in client.files.list()] == []


def test_output_expiry(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("ok")
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl(_line("a"))),
        endpoint="/chat/completions",
        completion_window="24h",
        extra_body={"output_expires_after": {"seconds": 1209600, "anchor": "created_at"}},
    )
    done = client.batches.retrieve(batch.id)
    assert done.output_file_id is not None
    assert done.error_file_id is not None
    for file_id in (done.output_file_id, done.error_file_id):
        output = client.files.retrieve(file_id)
        assert output.expires_at == output.created_at + 1209600
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id=_upload(client, _jsonl(_line("a"))),
            endpoint="/chat/completions",
            completion_window="24h",
            extra_body={"output_expires_after": {"seconds": 60, "anchor": "created_at"}},
        )
    assert caught.value.param == "output_expires_after.seconds"


# --- per-line faults --------------------------------------------------------------------------------


def _by_text(text: str) -> Any:
    return lambda request: text in request.last_user_text


def test_faults_picked_by_a_lines_text(emulator: Emulator) -> None:
    """Scripted rules (`emulator.scripted.on(predicate, answer)`) pick lines by their content: a Fault
    as the answer fails that line; other lines get the fallback backend's valid answer."""
    emulator.backend = ScriptedBackend(fallback=SchemaBackend())
    scripted = emulator.scripted
    scripted.on(_by_text("[500]"), Fault.server_error(500))
    scripted.on(_by_text("[prompt]"), Fault.prompt_filter(violence="high"))
    scripted.on(_by_text("[completion]"), Fault.completion_filter(hate="high"))
    scripted.on(_by_text("[invalid]"), {"name": 7})  # schema-violating JSON (name must be a string)
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Person", "strict": True, "schema": schema}}
    texts = ["Ada [500]", "Bob [prompt]", "Cy [completion]", "Dee [invalid]", "Eve is fine"]
    lines = []
    for i, text in enumerate(texts):
        body = {
            "model": "gpt-4o-batch",
            "messages": [{"role": "user", "content": text}],
            "response_format": fmt,
        }
        lines.append(
            json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/chat/completions", "body": body})
        )
    client = emulator.client(max_retries=0)
    batch = client.batches.retrieve(_start(client, _jsonl(*lines)))
    assert batch.status == "completed"
    assert batch.output_file_id is not None
    assert batch.error_file_id is not None
    failed = {r["custom_id"]: r["response"] for r in _rows(client, batch.error_file_id)}
    assert set(failed) == {"r0", "r1"}
    assert failed["r0"]["status_code"] == 500
    assert failed["r0"]["body"]["error"]["type"] == "server_error"
    assert failed["r1"]["status_code"] == 400
    assert failed["r1"]["body"]["error"]["code"] == "content_filter"
    assert failed["r1"]["body"]["error"]["innererror"]["content_filter_result"]["violence"]["filtered"]
    answered = {
        r["custom_id"]: r["response"]["body"]["choices"][0] for r in _rows(client, batch.output_file_id)
    }
    assert set(answered) == {"r2", "r3", "r4"}
    assert answered["r2"]["finish_reason"] == "content_filter"
    assert answered["r2"]["content_filter_results"]["hate"]["filtered"]
    assert json.loads(answered["r3"]["message"]["content"]) == {"name": 7}
    assert answered["r4"]["finish_reason"] == "stop"
    assert json.loads(answered["r4"]["message"]["content"])["name"] == "Eve"


def test_injected_faults_hit_lines_in_order(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("a", "b", "c")
    emulator.inject(Fault.server_error(503), deployment="gpt-4o-batch", times=1)
    emulator.inject(Fault.drop_connection(), deployment="gpt-4o-batch", times=1)
    batch = client.batches.retrieve(_start(client, _jsonl(*(_line(f"t{i}") for i in range(4)))))
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    assert batch.error_file_id is not None
    failed = {r["custom_id"]: r["response"] for r in _rows(client, batch.error_file_id)}
    assert failed["t0"]["status_code"] == 503
    # a connection dropped halfway leaves the line without an answer: a 500 line
    assert failed["t1"]["status_code"] == 500
    assert failed["t1"]["body"]["error"]["type"] == "server_error"


def test_batch_files_may_be_larger_than_the_body_limit() -> None:
    # Azure takes batch input files up to 200 MB, whatever the emulator's limit for other bodies
    emulator = Emulator(backend="scripted", max_body_bytes=1024)
    client = emulator.client(max_retries=0)
    data = _jsonl(*(_line(f"t{i}", "x" * 100) for i in range(40)))
    assert len(data) > 4 * 1024
    assert client.files.create(file=("big.jsonl", io.BytesIO(data)), purpose="batch").bytes == len(data)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x" * 2048}])
    assert caught.value.status_code == 413
