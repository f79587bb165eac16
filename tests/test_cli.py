"""The `instructor-az` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from instructor_az.cli import build_parser, main


def test_demo_on_the_schema_backend_extracts_each_sample_and_reports_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "instructor_az.cli", "demo", "--backend", "schema"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "backend: schema" in out
    assert "Person(name='John', age=30, city='Seattle')" in out
    assert "Person(name='Maria', age=41, city='Madrid')" in out
    reasks = int(out.split("re-asks: ")[1].split()[0])
    assert f"usage: {5 + reasks} requests" in out  # one per sample, one more per re-ask


@pytest.mark.local_model
def test_demo_defaults_to_the_local_model_and_shows_its_reasks() -> None:
    pytest.importorskip("llama_cpp")
    result = subprocess.run(
        [sys.executable, "-m", "instructor_az.cli", "demo"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "backend: local (Gemma 3 270M" in out
    assert "Person(name='John', age=30, city='Seattle')" in out
    # a real model's mistakes, caught by the validators and re-asked
    assert "rejected, re-asked: age: Input should be less than or equal to 130" in out
    # a re-ask the real model acted on: the validator's error named the fix
    assert "must start with a capital letter: write 'Lena' (got 'lena')" in out
    assert "Person(name='Lena', age=7, city='Berlin')" in out
    reasks = int(out.split("re-asks: ")[1].split()[0])
    assert reasks >= 1
    assert f"usage: {5 + reasks} requests" in out  # one request per sample, one more per re-ask
    assert "llama_" not in result.stderr  # llama.cpp's own log lines are routed to logging, not stderr


def test_emulator_command_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["emulator"])
    assert args.host == "127.0.0.1"
    assert args.api_key is None  # the emulator's default key is used and printed


def test_unknown_backend_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--backend", "gpt"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


WITHOUT_LOCAL_EXTRA = (
    "import sys; sys.modules['llama_cpp'] = None; "  # as if llama-cpp-python were not installed
    "from instructor_az.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("command", [["demo", "--backend", "local"], ["emulator", "--backend", "local"]])
def test_local_backend_without_the_extra_says_what_to_install(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_LOCAL_EXTRA, *command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    message = result.stdout + result.stderr
    assert "llama-cpp-python" in message
    assert 'pip install "instructor-az[local]"' in message


def test_demo_without_the_extra_falls_back_to_the_schema_backend_and_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_LOCAL_EXTRA, "demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "instructor-az[local]"' in result.stdout
    assert "backend: schema" in result.stdout


# --- python -m instructor_az, --version ------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


def test_version_prints_the_installed_version() -> None:
    import importlib.metadata

    expected = importlib.metadata.version("instructor-az")
    for command in (["-m", "instructor_az", "--version"], ["-m", "instructor_az.cli", "--version"]):
        result = _run(*command)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"instructor-az {expected}"


def test_python_dash_m_instructor_az_is_the_command() -> None:
    result = _run("-m", "instructor_az", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: instructor-az" in result.stdout
    assert "emulator" in result.stdout
    assert "demo" in result.stdout
    result = _run("-m", "instructor_az", "emulator", "--help")
    assert result.returncode == 0
    assert "--fault SPEC" in result.stdout


def test_python_dash_m_without_a_command_is_a_usage_error() -> None:
    result = _run("-m", "instructor_az")
    assert result.returncode == 2
    assert "required" in result.stderr


# --- instructor-az emulator --fault ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--fault", "latency; seconds=nan"], "finite"),
        (["--fault", "meteor"], "unknown fault kind"),
        (["--fault", "rate_limit; deployment=gpt-9"], "no deployment 'gpt-9'"),
        (["--fault", "rate_limit", "--fault-times", "0"], "--fault-times"),
    ],
)
def test_a_bad_fault_flag_is_an_error_before_serving(flags: list[str], fragment: str) -> None:
    result = _run("-m", "instructor_az", "emulator", "--port", "0", *flags)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr


@pytest.mark.loopback
def test_emulator_with_fault_flags_serves_the_faults_then_answers_scripted_over_http() -> None:
    import contextlib
    import os
    import queue
    import socket
    import threading
    import time

    import httpx2
    import openai

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "instructor_az",
            "emulator",
            "--backend",
            "scripted",
            "--port",
            str(port),
            "--api-key",
            "cli-key",
            "--fault",
            "rate_limit; retry_after_ms=10",
            "--fault-times",
            "2",
            "--fault",
            "server_error; status=503; deployment=gpt-4o-mini; times=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any("Uvicorn running on" in s for s in seen):
            assert time.monotonic() < deadline, f"the emulator did not start: {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        assert any("fault:       rate_limit; retry_after_ms=10 for 2 request(s)" in s for s in seen)
        assert any("server_error; status=503 for 1 request(s) on gpt-4o-mini" in s for s in seen)
        endpoint = f"http://127.0.0.1:{port}"
        pushed = httpx2.post(
            f"{endpoint}/_emulator/scripted",
            headers={"api-key": "cli-key"},
            json={"answers": [{"text": "scripted from outside"}, {"text": "mini answer"}]},
        )
        assert pushed.status_code == 200, pushed.text
        with openai.AzureOpenAI(
            azure_endpoint=endpoint, api_key="cli-key", api_version="2024-10-21", max_retries=0, timeout=10
        ) as client:
            chat = lambda model="gpt-4o": client.chat.completions.create(  # noqa: E731
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
            for _ in range(2):
                with pytest.raises(openai.RateLimitError):
                    chat()
            assert chat().choices[0].message.content == "scripted from outside"
            with pytest.raises(openai.InternalServerError):
                chat("gpt-4o-mini")
            assert chat("gpt-4o-mini").choices[0].message.content == "mini answer"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
