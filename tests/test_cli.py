"""The `instructor-az` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from instructor_az.cli import build_parser, main


def test_demo_extracts_each_sample_and_reports_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "instructor_az.cli", "demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "schema backend" in out or "backend: schema" in out
    assert "Person(name='John', age=30, city='Seattle')" in out
    assert "Person(name='Maria', age=41, city='Madrid')" in out
    assert "usage: 3 requests" in out


def test_emulator_command_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["emulator"])
    assert args.host == "127.0.0.1"
    assert args.api_key is None  # the emulator's default key is used and printed


def test_unknown_backend_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--backend", "gpt"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_local_backend_says_it_is_not_available_yet(capsys) -> None:
    assert main(["demo", "--backend", "local"]) == 2
    assert "local model backend is not available" in capsys.readouterr().out
