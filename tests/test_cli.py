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
