"""The opt-in alias: `import instructor` served by instructor_az, never shadowing a real instructor."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import instructor_az
from instructor_az import alias


@pytest.fixture
def aliased() -> Iterator[None]:
    was = alias.installed()
    alias.install()
    try:
        yield
    finally:
        if not was:
            alias.uninstall()


def test_import_instructor_is_instructor_az(aliased: None) -> None:
    import instructor  # type: ignore[import-not-found]

    assert instructor is instructor_az
    assert instructor.Mode is instructor_az.Mode
    assert instructor.from_openai is instructor_az.from_openai


def test_submodule_paths_map_to_their_public_equivalents(aliased: None) -> None:
    import importlib

    assert importlib.import_module("instructor.dsl") is importlib.import_module("instructor_az.dsl")
    assert alias.target_of("instructor.mode") == "instructor_az.mode"
    assert alias.target_of("instructor.core.exceptions") == "instructor_az.exceptions"
    assert alias.target_of("instructor.v2.dsl.partial") == "instructor_az.dsl.partial"
    assert alias.target_of("instructor_azure") is None


def test_a_path_with_no_equivalent_says_so(aliased: None) -> None:
    with pytest.raises(ModuleNotFoundError, match="no equivalent in instructor-az"):
        import instructor.providers.anthropic  # type: ignore[import-not-found]  # noqa: F401


def test_uninstall_forgets_the_alias() -> None:
    alias.install()
    import instructor  # noqa: F401

    alias.uninstall()
    assert "instructor" not in sys.modules
    assert not alias.installed()


def test_it_refuses_to_shadow_a_real_instructor(tmp_path: Path) -> None:
    (tmp_path / "instructor").mkdir()
    (tmp_path / "instructor" / "__init__.py").write_text("REAL = True\n")
    code = (
        "import instructor_az.alias as a\n"
        "try:\n    a.install()\nexcept a.AliasError as e:\n    print('refused:', e)\n"
        "import instructor\nprint('real' if getattr(instructor, 'REAL', False) else 'alias')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "refused: a real `instructor` package is installed" in out
    assert out.strip().endswith("real")


def test_python_m_alias_runs_a_script_with_import_instructor(tmp_path: Path) -> None:
    script = tmp_path / "uses_instructor.py"
    script.write_text("import sys, instructor\nprint(instructor.__name__, sys.argv[1:])\n")
    out = subprocess.run(
        [sys.executable, "-m", "instructor_az.alias", str(script), "x", "y"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == "instructor_az ['x', 'y']"


def test_pytest_plugin_installs_it_before_collection(tmp_path: Path) -> None:
    (tmp_path / "test_uses_instructor.py").write_text(
        "import instructor\n\ndef test_it():\n    assert instructor.__name__ == 'instructor_az'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "instructor_az.alias", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_pythonpath_shim_reaches_every_new_process(tmp_path: Path) -> None:
    import os

    shim = subprocess.run(
        [sys.executable, "-m", "instructor_az.alias", "--pythonpath"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {**os.environ, "PYTHONPATH": shim}
    out = subprocess.run(
        [sys.executable, "-O", "-c", "import instructor; print(instructor.__name__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == "instructor_az"


def test_a_folder_named_instructor_is_not_a_real_instructor(tmp_path: Path) -> None:
    (tmp_path / "instructor").mkdir()  # a namespace package: a project's folder, not the library
    code = "import instructor_az.alias as a\na.install()\nimport instructor\nprint(instructor.__name__)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "instructor_az"
