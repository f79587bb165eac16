"""Every cookbook script runs as written against the emulator (the cookbook's tests run via testpaths)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COOKBOOK = Path(__file__).resolve().parent.parent / "cookbook"
SCRIPTS = sorted(p for p in COOKBOOK.glob("*.py") if not p.name.startswith("test_"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_cookbook_script_runs(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{script.name} printed nothing"


def test_extract_user_prints_the_validated_object() -> None:
    result = subprocess.run(
        [sys.executable, str(COOKBOOK / "extract_user.py")], capture_output=True, text=True, timeout=120
    )
    assert '"name": "John"' in result.stdout
    assert '"age": 30' in result.stdout


def test_instructor_quickstart_runs_unchanged_through_the_alias() -> None:
    result = subprocess.run(
        [sys.executable, str(COOKBOOK / "instructor_quickstart.py")], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert "name='John' age=25" in result.stdout
    assert "the request offered the tool 'User' to 'gpt-4o-mini'" in result.stdout
