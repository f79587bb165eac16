"""`instructor-az extract`'s contract: flags, the three input kinds, the output and errors lines, exit
statuses, the progress display. The command runs as a subprocess (the real console script's module,
the real openai SDK) against the emulator served on loopback."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from instructor_az.emulator import Emulator, Fault

pytestmark = pytest.mark.loopback

MODELS = '''
from pydantic import BaseModel, field_validator

class Ticket(BaseModel):
    """A support ticket."""
    ticket: str
    words: int

    @field_validator("ticket")
    @classmethod
    def not_rejected(cls, value: str) -> str:
        if value == "reject":
            raise ValueError("ticket must be the ticket's id, not 'reject'")
        return value

NOT_A_MODEL = 42
'''


def _first_user_text(request: Any) -> str:
    return next(str(m["content"]) for m in request.messages if m["role"] == "user")


def _answer(request: Any) -> Any:
    text = _first_user_text(request)
    if "[invalid]" in text:
        return {"ticket": "reject", "words": 1}
    if "[filter]" in text:
        return Fault.completion_filter(violence="high")
    found = re.search(r"ticket (\S+):", text)
    return {"ticket": found.group(1) if found else "?", "words": len(text.split())}


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(backend="scripted", api_keys=["test-key"])
    emulator.scripted.on(lambda request: True, _answer)
    with emulator.serve() as endpoint:
        yield emulator, endpoint
    emulator.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "ticket_models.py").write_text(MODELS)
    return tmp_path


def _env(endpoint: str, **extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(
        AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY="test-key", AZURE_OPENAI_DEPLOYMENT="gpt-4o"
    )
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def extract(workdir: Path, endpoint: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "instructor_az", "extract", *args],
        cwd=workdir,
        env=env if env is not None else _env(endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_jsonl_in_output_and_errors_out_exit_1(served: tuple[Emulator, str], workdir: Path) -> None:
    emulator, endpoint = served
    _jsonl(
        workdir / "tickets.jsonl",
        [
            {"id": "a", "text": "ticket a: the printer is on fire"},
            {"id": 7, "text": "ticket 7: login fails [filter]"},
            "{not json",
            "",
            {"id": "b"},
            {"id": "c", "text": "ticket c: refund please [invalid]"},
            ["a", "list"],
            {"id": "d", "text": "ticket d: all good"},
        ],
    )
    done = extract(
        workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "tickets.jsonl",
        "--output", "out.jsonl", "--errors", "errors.jsonl", "--max-retries", "1",
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    ok = _lines(workdir / "out.jsonl")
    assert sorted(line["id"] for line in ok) == ["a", "d"]
    first = next(line for line in ok if line["id"] == "a")
    assert list(first) == ["id", "ok", "value", "attempts", "usage"]
    assert first["ok"] is True
    assert first["attempts"] == 1
    assert first["value"] == {"ticket": "a", "words": 7}
    assert list(first["usage"]) == ["prompt_tokens", "completion_tokens"]
    assert first["usage"]["prompt_tokens"] > 0
    assert first["usage"]["completion_tokens"] > 0

    errors = {
        json.dumps(line["id"]) + str(line["error"].get("line")): line
        for line in _lines(workdir / "errors.jsonl")
    }
    assert len(errors) == 5
    filtered = errors["7None"]
    assert list(filtered) == ["id", "ok", "error", "attempts", "usage"]
    assert filtered["ok"] is False
    assert filtered["error"]["type"] == "ContentFilterError"
    assert "violence" in filtered["error"]["message"]
    rejected = errors['"c"None']
    assert rejected["error"]["type"] == "InstructorRetryException"
    assert rejected["attempts"] == 2
    assert "reject" in rejected["error"]["message"]
    bad_json, no_text, a_list = errors["null3"], errors['"b"5'], errors["null7"]
    assert bad_json["error"]["type"] == "InvalidInputError"
    assert "line 3" in bad_json["error"]["message"]
    assert "not valid JSON" in bad_json["error"]["message"]
    assert bad_json["attempts"] == 0
    assert "'text' field is missing" in no_text["error"]["message"]
    assert "expected a JSON object" in a_list["error"]["message"]
    assert "succeeded 2, failed 5" in done.stdout
    # The default system instruction went with every row; tools mode by default.
    bodies = [r.body for r in emulator.requests]
    assert all(
        b["messages"][0]["role"] == "system" and b["tool_choice"]["type"] == "function" for b in bodies
    )


def test_every_row_succeeding_exits_0_and_resume_skips_them(
    served: tuple[Emulator, str], workdir: Path
) -> None:
    emulator, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": i, "text": f"ticket t{i}: words here"} for i in range(12)])
    args = ["--model", "ticket_models:Ticket", "--input", "in.jsonl", "--output", "out.jsonl"]

    assert extract(workdir, endpoint, *args).returncode == 0
    again = extract(workdir, endpoint, *args)  # the file holds results: refused without --resume
    assert again.returncode == 2
    assert "--resume" in again.stderr
    sent = len(emulator.requests)
    resumed = extract(workdir, endpoint, *args, "--resume")

    assert resumed.returncode == 0, resumed.stderr
    assert len(emulator.requests) == sent  # nothing left to do
    assert "12 already done" in resumed.stdout
    assert sorted(line["id"] for line in _lines(workdir / "out.jsonl")) == list(range(12))


def test_resume_after_failures_still_exits_1(served: tuple[Emulator, str], workdir: Path) -> None:
    _, endpoint = served
    _jsonl(
        workdir / "in.jsonl", [{"id": "x", "text": "ticket x: [filter]"}, {"id": "y", "text": "ticket y: ok"}]
    )
    args = ["--model", "ticket_models:Ticket", "--input", "in.jsonl", "--output", "out.jsonl"]
    assert extract(workdir, endpoint, *args).returncode == 1
    resumed = extract(workdir, endpoint, *args, "--resume")
    assert resumed.returncode == 1  # the row that failed is still failed (its line is in the file)
    assert "(1 of them failed)" in resumed.stdout


def test_csv_with_named_columns_mode_and_prompt(served: tuple[Emulator, str], workdir: Path) -> None:
    emulator, endpoint = served
    (workdir / "in.csv").write_text(
        'key,body,other\r\nk1,"ticket k1: two\nlines",x\r\nk2,,y\r\n,"ticket none: no key",z\r\nk3,ticket k3: fine,w\r\n'
    )
    done = extract(
        workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "in.csv", "--output", "out.jsonl",
        "--id-field", "key", "--text-field", "body", "--mode", "json_schema", "--prompt", "Read the ticket.",
        "--concurrency", "2", "--no-progress",
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    lines = {
        str(line["id"]) + str(line.get("error", {}).get("line", "")): line
        for line in _lines(workdir / "out.jsonl")
    }
    assert lines["k1"]["value"] == {"ticket": "k1", "words": 4}
    assert lines["k3"]["ok"] is True
    assert lines["k24"]["error"]["type"] == "InvalidInputError"  # k2's row starts on line 4
    assert "'body' field is empty" in lines["k24"]["error"]["message"]
    assert lines["None5"]["error"]["message"].endswith("no 'key' value")
    bodies = [r.body for r in emulator.requests]
    assert len(bodies) == 2
    assert all(b["messages"][0] == {"role": "system", "content": "Read the ticket."} for b in bodies)
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies)


def test_a_directory_of_text_files(served: tuple[Emulator, str], workdir: Path) -> None:
    _, endpoint = served
    folder = workdir / "docs"
    folder.mkdir()
    (folder / "t1.txt").write_text("ticket t1: one two")
    (folder / "t2.txt").write_text("   \n")
    (folder / "notes.md").write_text("not read")
    done = extract(
        workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "docs", "--output", "out.jsonl"
    )
    assert done.returncode == 1
    lines = {line["id"]: line for line in _lines(workdir / "out.jsonl")}
    assert lines["t1.txt"]["value"] == {"ticket": "t1", "words": 4}
    assert lines["t2.txt"]["error"]["type"] == "InvalidInputError"
    assert "notes.md" in done.stderr  # an entry that is not read is said, not silently dropped


@pytest.mark.parametrize(
    ("args", "env_change", "message"),
    [
        (["--model", "nowhere:Ticket"], {}, "no module 'nowhere'"),
        (["--model", "ticket_models:Missing"], {}, "has no 'Missing'"),
        (["--model", "ticket_models"], {}, "expected MODULE:CLASS"),
        (["--model", "ticket_models:NOT_A_MODEL"], {}, "not a response model"),
        (["--input", "missing.jsonl"], {}, "no such file"),
        (["--input", "in.xlsx"], {}, "expected a .jsonl"),
        (["--input", "dupes.jsonl"], {}, "'a' is given twice (line 1 and line 3)"),
        (["--input", "nocol.csv"], {}, "no 'text' column"),
        (["--output", "nodir/out.jsonl"], {}, "does not exist"),
        ([], {"AZURE_OPENAI_ENDPOINT": None}, "AZURE_OPENAI_ENDPOINT is not set"),
        ([], {"AZURE_OPENAI_DEPLOYMENT": None}, "--deployment"),
        ([], {"AZURE_OPENAI_API_KEY": None}, "no credentials"),
        ([], {"OPENAI_API_VERSION": "2024-10"}, "is not an Azure OpenAI api-version"),
        ([], {"OPENAI_API_VERSION": "october"}, "or 'v1' for the v1 API"),
    ],
)
def test_usage_and_configuration_errors_exit_2_before_any_request(
    served: tuple[Emulator, str],
    workdir: Path,
    args: list[str],
    env_change: dict[str, str | None],
    message: str,
) -> None:
    emulator, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": "a", "text": "ticket a: x"}])
    (workdir / "in.xlsx").write_text("x")
    _jsonl(
        workdir / "dupes.jsonl",
        [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "a", "text": "z"}],
    )
    (workdir / "nocol.csv").write_text("id,body\n1,x\n")
    base = {"--model": "ticket_models:Ticket", "--input": "in.jsonl", "--output": "out.jsonl"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [part for flag, value in {**base, **given}.items() for part in (flag, value)]

    done = extract(workdir, endpoint, *argv, env=_env(endpoint, **env_change))

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
    assert len(emulator.requests) == 0


def test_bad_flags_exit_2(served: tuple[Emulator, str], workdir: Path) -> None:
    _, endpoint = served
    for bad in (["--concurrency", "0"], ["--concurrency", "lots"], ["--tpm", "-5"], ["--mode", "xml"]):
        done = extract(workdir, endpoint, "--model", "m:C", "--input", "x", "--output", "y", *bad)
        assert done.returncode == 2
        assert bad[0] in done.stderr


def test_an_entra_id_token_instead_of_a_key(served: tuple[Emulator, str], workdir: Path) -> None:
    emulator, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": "a", "text": "ticket a: x"}])
    token = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2ln"
    env = _env(endpoint, AZURE_OPENAI_API_KEY=None, AZURE_OPENAI_AD_TOKEN=token)
    done = extract(workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "in.jsonl",
                   "--output", "out.jsonl", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r.auth for r in emulator.requests] == ["bearer"]
    assert token not in done.stdout + done.stderr


@pytest.mark.parametrize("version", ["v1", "preview"])
def test_the_v1_api_from_openai_api_version(
    served: tuple[Emulator, str], workdir: Path, version: str
) -> None:
    # Azure's v1 API (OPENAI_API_VERSION=v1, as from_azure reads it): /openai/v1/..., the model in the
    # body, no api-version; the key as a bearer token, as Azure's v1 samples send it.
    emulator, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": "a", "text": "ticket a: x"}, {"id": "b", "text": "ticket b: y"}])
    done = extract(workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "in.jsonl",
                   "--output", "out.jsonl", env=_env(endpoint, OPENAI_API_VERSION=version))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {r.path for r in emulator.requests} == {"/openai/v1/chat/completions"}
    assert {r.body["model"] for r in emulator.requests} == {"gpt-4o"}
    assert sorted(line["id"] for line in _lines(workdir / "out.jsonl")) == ["a", "b"]
    assert "test-key" not in done.stdout + done.stderr


def test_the_deployment_flag_is_not_overridden_by_the_environments(
    served: tuple[Emulator, str], workdir: Path
) -> None:
    emulator, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": "a", "text": "ticket a: x"}])
    done = extract(workdir, endpoint, "--model", "ticket_models:Ticket", "--input", "in.jsonl",
                   "--output", "out.jsonl", "--deployment", "gpt-4o-mini")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r.path for r in emulator.requests] == ["/openai/deployments/gpt-4o-mini/chat/completions"]


def test_progress_is_drawn_on_a_terminal_only(served: tuple[Emulator, str], workdir: Path) -> None:
    _, endpoint = served
    _jsonl(workdir / "in.jsonl", [{"id": i, "text": f"ticket t{i}: x"} for i in range(30)])
    args = ["--model", "ticket_models:Ticket", "--input", "in.jsonl"]

    piped = extract(workdir, endpoint, *args, "--output", "a.jsonl")
    assert "rows/min" in piped.stdout  # the summary
    assert "ETA" not in piped.stderr
    assert "%|" not in piped.stderr

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "instructor_az", "extract", *args, "--output", "b.jsonl"],
        cwd=workdir, env=_env(endpoint), stdout=subprocess.PIPE, stderr=terminal, text=True,
    )  # fmt: skip
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the pty closed: the command ended
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = process.communicate(timeout=60)
    os.close(controller)
    screen = drawn.decode("utf-8", "replace")
    assert process.returncode == 0
    assert "30/30" in screen
    assert "rows/min" in screen
    assert "429s" in screen
    assert "ETA" in screen
    assert "succeeded 30" in stdout

    quiet_controller, quiet_terminal = pty.openpty()
    quiet = subprocess.run(
        [sys.executable, "-m", "instructor_az", "extract", *args, "--output", "c.jsonl", "--no-progress"],
        cwd=workdir, env=_env(endpoint), stdout=subprocess.PIPE, stderr=quiet_terminal, text=True, timeout=60,
    )  # fmt: skip
    os.close(quiet_terminal)
    os.set_blocking(quiet_controller, False)
    try:
        leftover = os.read(quiet_controller, 65536)
    except OSError:
        leftover = b""
    os.close(quiet_controller)
    assert quiet.returncode == 0
    assert b"ETA" not in leftover
