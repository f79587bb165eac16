"""instructor 1.17.0's own offline tests, run against instructor_az through the alias.

The files are fetched from instructor's sdist on PyPI at test time (never copied into this tree),
extracted without instructor's own package (so `import instructor` can only be the alias), and run by
pytest in a subprocess with `-p instructor_az.alias`. Outcomes are read from the JUnit XML report.

Run by hand: `python tests/compat/instructor_suite.py` prints each file's counts and every test that
did not pass (with `--baseline PYTHON`, the same files against a real instructor installed for PYTHON,
which is how BASELINE below was measured).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

VERSION = "1.17.0"

#: The test files of instructor's public API for the OpenAI / Azure OpenAI path (issue 11's list).
FILES = [
    "tests/core/test_exceptions.py",
    "tests/core/test_exception_backwards_compat.py",
    "tests/core/test_patch.py",
    "tests/core/test_schema.py",
    "tests/core/test_retry_json_mode.py",
    "tests/processing/test_function_calls.py",
    "tests/dsl/test_partial.py",
    "tests/dsl/test_simple_types.py",
    "tests/v2/test_citation.py",
    "tests/test_llm_validator_allow_override.py",
    "tests/multimodal/test_multimodal.py",
    "tests/test_incomplete_output_exception.py",
    "tests/providers/test_auto_client.py",
]

#: instructor 1.17.0 itself on FILES (python tests/compat/instructor_suite.py --baseline PYTHON, with
#: instructor 1.17.0, openai, anthropic, python-dotenv, pytest-asyncio installed for PYTHON; no API keys).
BASELINE = {"passed": 248, "failed": 2, "skipped": 31}

# Variables that would let a test reach a real service: never passed to the suite.
_SECRETS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "ANTHROPIC_API_KEY")


def cache_dir() -> Path:
    return Path(os.environ.get("INSTRUCTOR_AZ_COMPAT_CACHE") or Path(tempfile.gettempdir()) / "instructor-az-compat")


def fetch_sdist(python: str = sys.executable) -> Path:
    """instructor's sdist, downloaded from PyPI once per cache directory."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"instructor-{VERSION}.tar.gz"
    if not sdist.exists():
        command = [python, "-m", "pip", "download", f"instructor=={VERSION}", "--no-binary", ":all:"]
        command += ["--no-deps", "-d", str(cache), "-q"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not sdist.exists():
            raise RuntimeError(f"could not download instructor {VERSION}'s sdist from PyPI:\n{result.stderr[-2000:]}")
    return sdist


def extract_tests(sdist: Path, into: Path) -> Path:
    """The sdist's tests/ alone (not its instructor/ package), under `into`; returns the root."""
    root = into / f"instructor-{VERSION}-tests"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    prefix = f"instructor-{VERSION}/tests/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        for member in members:
            member.name = member.name[len(f"instructor-{VERSION}/") :]
        tar.extractall(root, members=members, filter="data")
    # instructor's pytest settings that matter offline, without its addopts or plugins.
    (root / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\njunit_family = xunit1\n")
    return root


def run(root: Path, *, python: str = sys.executable, alias: bool = True, files: list[str] | None = None) -> dict[str, str]:
    """Each test's outcome ("passed", "failed", "skipped"), by test id (`file::name[params]`)."""
    report = root / "report.xml"
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
    command.append(f"--junitxml={report}")
    if alias:
        command += ["-p", "instructor_az.alias"]
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS and not k.startswith("AZURE_OPENAI_")}
    env.pop("PYTEST_ADDOPTS", None)
    report.unlink(missing_ok=True)
    result = subprocess.run([*command, *(files or FILES)], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    if not report.exists():
        raise RuntimeError(f"instructor's suite did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        file, classname = case.get("file") or "", case.get("classname") or ""
        owner = classname.rsplit(".", 1)[-1]
        in_class = owner[:1].isupper() and not file.endswith(f"{owner}.py")
        test_id = f"{file}::{owner}::{case.get('name')}" if in_class else f"{file}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[test_id] = "failed"
        elif case.find("skipped") is not None:
            outcomes[test_id] = "skipped"
        else:
            outcomes[test_id] = "passed"
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="PYTHON", help="run against a real instructor installed for PYTHON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = extract_tests(fetch_sdist(), Path(tmp))
        outcomes = run(root, python=args.baseline or sys.executable, alias=args.baseline is None)
    per_file: dict[str, Counter[str]] = {}
    for test_id, outcome in outcomes.items():
        per_file.setdefault(test_id.split("::")[0], Counter())[outcome] += 1
    for file, counts in sorted(per_file.items()):
        print(f"{file}: {dict(counts)}")
    print("total:", dict(Counter(outcomes.values())))
    for test_id, outcome in sorted(outcomes.items()):
        if outcome != "passed":
            print(f"  {outcome}: {test_id}")


if __name__ == "__main__":
    main()
