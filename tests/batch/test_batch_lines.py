"""Batch request and result files through the emulator's Files and Batches APIs with the real SDK:
the request bodies are the online plan's, every input ends exactly once, answers are validated by the
same protocol state as an online call."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from batch_kit import Doc

import instructor_az
from instructor_az.batch import (
    BatchLineError,
    BatchPromptFilterError,
    BatchRowMissing,
    custom_id,
    read_results,
    write_requests,
)
from instructor_az.emulator import Emulator, Fault
from instructor_az.pipeline import InvalidInputError


def _answer(request: Any) -> Any:
    text = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    n = int(re.search(r"doc (\d+)", text).group(1))  # type: ignore[union-attr]
    if "[filter]" in text:
        return Fault.prompt_filter(violence="high")
    return {"n": -1 if "[bad]" in text else n}


def _run_job(client: Any, paths: list[Path], folder: Path) -> list[tuple[Path | None, Path | None]]:
    downloaded = []
    for i, path in enumerate(paths):
        with path.open("rb") as f:
            file = client.files.create(file=(path.name, f), purpose="batch")
        batch = client.batches.create(
            input_file_id=file.id, endpoint="/chat/completions", completion_window="24h"
        )
        batch = client.batches.retrieve(batch.id)
        assert batch.status == "completed", batch
        out = err = None
        if batch.output_file_id:
            out = folder / f"out-{i}.jsonl"
            out.write_bytes(client.files.content(batch.output_file_id).content)
        if batch.error_file_id:
            err = folder / f"err-{i}.jsonl"
            err.write_bytes(client.files.content(batch.error_file_id).content)
        downloaded.append((out, err))
    return downloaded


@pytest.mark.parametrize("mode", ["tools", "json_schema"])
def test_requests_are_the_online_plan_split_by_the_line_limit_and_every_input_ends_once(
    tmp_path: Path, mode: str
) -> None:
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    raw = emulator.client(api_key="test-key", max_retries=0)
    client = instructor_az.from_openai(raw, mode=mode)
    inputs: list[Any] = [
        (i, f"doc {i}" + (" [bad]" if i % 7 == 3 else "") + (" [filter]" if i % 11 == 5 else ""))
        for i in range(250)
    ]
    inputs.append({"text": "no id"})

    written = write_requests(
        client,
        inputs,
        tmp_path / "requests",
        response_model=Doc,
        model="gpt-4o-batch",
        max_lines=100,
        max_tokens=50,
    )
    assert written.lines == [100, 100, 50]
    assert [o.error.__class__ for o in written.invalid] == [InvalidInputError]
    first = json.loads(written.paths[0].read_text().splitlines()[0])
    online = client._attempts(
        Doc,
        {"model": "gpt-4o-batch", "max_tokens": 50, "messages": [{"role": "user", "content": "doc 0"}]},
        None,
        None,
    )
    assert first == {
        "custom_id": custom_id(0),
        "method": "POST",
        "url": "/chat/completions",
        "body": online.next_request(),
    }

    files = _run_job(raw, written.paths, tmp_path)
    outcomes = []
    for (out, err), part in zip(files, [inputs[:100], inputs[100:200], inputs[200:]], strict=True):
        outcomes += list(
            read_results(
                client, part, response_model=Doc, model="gpt-4o-batch", output=out, errors=err, max_tokens=50
            )
        )

    assert sorted(str(o.id) for o in outcomes) == sorted([str(i) for i in range(250)] + ["None"])
    for o in outcomes:
        if o.id is None:
            assert isinstance(o.error, InvalidInputError)
        elif o.id % 11 == 5:
            # a prompt-filtered line: a ContentFilterError, as online, with the line's status
            assert isinstance(o.error, instructor_az.ContentFilterError)
            assert isinstance(o.error, BatchPromptFilterError)
            assert not isinstance(o.error, BatchLineError)
            assert o.error.source == "prompt"
            assert o.error.filtered_categories == ["violence"]
            assert o.error.status_code == 400
        elif o.id % 7 == 3:
            assert isinstance(o.error, instructor_az.exceptions.InstructorRetryException)
            assert "n must be 0 or more" in str(o.error)
        else:
            assert o.ok, o.error
            assert o.value == Doc(n=o.id)
            assert o.usage.prompt_tokens > 0


def test_a_row_without_a_result_is_missing_not_dropped(tmp_path: Path) -> None:
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    out = tmp_path / "out.jsonl"
    out.write_text("")
    outcomes = list(
        read_results(client, ["doc 0", "doc 1"], response_model=Doc, model="gpt-4o-batch", output=out)
    )
    assert [type(o.error) for o in outcomes] == [BatchRowMissing, BatchRowMissing]


def test_custom_ids_keep_id_types_apart() -> None:
    assert custom_id("a-1") == "a-1"
    assert custom_id(7) != custom_id("7")
    assert custom_id("#x") != "#x"
    with pytest.raises(instructor_az.ConfigurationError, match="max_lines"):
        write_requests(None, [], "x", response_model=Doc, model="m", max_lines=0)


def test_an_id_given_twice_across_files_is_refused_naming_it(tmp_path: Path) -> None:
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    client = instructor_az.from_openai(emulator.client(api_key="test-key"))
    inputs = [("a", "doc 1"), ("b", "doc 2"), ("c", "doc 3"), ("a", "doc 4")]
    with pytest.raises(
        instructor_az.ConfigurationError, match=r"the id 'a' was given twice \(requests-0002.jsonl"
    ):
        write_requests(client, inputs, tmp_path, response_model=Doc, model="gpt-4o-batch", max_lines=2)
    # ids that only look alike are not repeats
    written = write_requests(
        client, [(7, "doc 7"), ("7", "doc 8"), ("#7", "doc 9")], tmp_path / "ok", response_model=Doc,
        model="gpt-4o-batch",
    )  # fmt: skip
    assert written.lines == [3]


def test_result_lines_are_found_whatever_their_key_order(tmp_path: Path) -> None:
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    raw = emulator.client(api_key="test-key", max_retries=0)
    client = instructor_az.from_openai(raw)
    inputs = [(f"r{i}", f"doc {i}") for i in range(3)]
    written = write_requests(client, inputs, tmp_path, response_model=Doc, model="gpt-4o-batch")
    [(out, _)] = _run_job(raw, written.paths, tmp_path)
    assert out is not None
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    reordered = tmp_path / "reordered.jsonl"
    with reordered.open("w") as file:
        for n, line in enumerate(
            reversed(lines)
        ):  # OpenAI's order: an id first; custom_id after the response
            row = {"id": f"batch_req_{n}", "response": line["response"], "custom_id": line["custom_id"]}
            file.write(json.dumps(row) + "\n")
        file.write("not json\n")
    outcomes = list(read_results(client, inputs, response_model=Doc, model="gpt-4o-batch", output=reordered))
    assert [o.value for o in outcomes] == [Doc(n=0), Doc(n=1), Doc(n=2)]


def test_a_result_body_of_another_shape_is_a_typed_line_error(tmp_path: Path) -> None:
    client = instructor_az.from_openai(Emulator(backend="scripted").client())
    out = tmp_path / "out.jsonl"
    good = {
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": '{"n": 1}'}}
        ]
    }
    lines = [
        {
            "custom_id": "#0",
            "response": {"status_code": 200, "body": {"object": "chat.completion", "choices": "x"}},
        },
        # valid but for a field the SDK's model requires: built as the SDK builds what it receives
        {"custom_id": "#1", "response": {"status_code": 200, "body": {"object": "chat.completion", **good}}},
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    broken, kept = read_results(
        instructor_az.from_openai(client.client, mode="json"), ["doc 0", "doc 1"], response_model=Doc,
        model="gpt-4o-batch", output=out,
    )  # fmt: skip
    assert isinstance(broken.error, BatchLineError)
    assert "not a ChatCompletion" in str(broken.error)
    assert not broken.error.transient
    assert kept.value == Doc(n=1), kept.error
