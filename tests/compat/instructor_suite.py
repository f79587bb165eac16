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
    "tests/v2/test_iterable_streaming.py",
]

#: instructor files these hooks tests among its live-model ones: they need OPENAI_API_KEY set and call
#: no model, so they run on their own, with a placeholder key and an unreachable base URL (both runs).
KEYED_FILES = ["tests/llm/test_openai/test_hooks.py"]
_PLACEHOLDER = {"OPENAI_API_KEY": "sk-placeholder-no-model-is-called", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}

#: Tests of other providers' formats and clients, in FILES: not served by instructor-az (OpenAI and
#: Azure OpenAI only), so left out of both runs, ours and instructor's (node id prefixes -> reason).
OTHER_PROVIDERS: dict[str, str] = {
    "tests/multimodal/test_multimodal.py::test_convert_contents_anthropic_mode": "Anthropic's message format",
    "tests/multimodal/test_multimodal.py::test_convert_messages_anthropic": "Anthropic's message format",
    "tests/multimodal/test_multimodal.py::test_image_to_anthropic": "Anthropic's image blocks",
    "tests/multimodal/test_multimodal.py::test_pdf_to_bedrock": "Bedrock's document blocks (12 tests)",
    "tests/processing/test_function_calls.py::test_anthropic_no_exception": "Anthropic's Message responses",
    "tests/processing/test_function_calls.py::test_control_characters_allowed_in_anthropic": "Anthropic JSON mode",
    "tests/processing/test_function_calls.py::test_control_characters_not_allowed_in_anthropic": "Anthropic JSON mode",
    "tests/providers/test_auto_client.py::test_databricks_provider_async_client": "Databricks",
    "tests/providers/test_auto_client.py::test_databricks_provider_respects_custom_base_url": "Databricks",
    "tests/providers/test_auto_client.py::test_databricks_provider_uses_environment_configuration": "Databricks",
    "tests/providers/test_auto_client.py::test_genai_mode": "Google GenAI (2 tests)",
    "tests/providers/test_auto_client.py::test_generative_ai_provider": "Google Generative AI",
    "tests/providers/test_auto_client.py::test_google_provider": "Google",
    "tests/providers/test_auto_client.py::test_vertexai_provider": "Vertex AI",
}

#: instructor 1.17.0 itself on FILES and KEYED_FILES (python tests/compat/instructor_suite.py --baseline PYTHON, with
#: instructor 1.17.0, openai, anthropic, python-dotenv, pytest-asyncio installed for PYTHON; no API keys).
#: Its 2 failures are live calls that need OPENAI_API_KEY (they skip against instructor-az, which says
#: so with a ConfigurationError the tests recognise).
BASELINE = {"passed": 357, "failed": 2, "skipped": 30}

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


def run(root: Path, *, python: str = sys.executable, alias: bool = True) -> dict[str, str]:
    """Each test's outcome ("passed", "failed", "skipped"), by test id (`file::name[params]`)."""
    outcomes = _run(root, FILES, {}, python=python, alias=alias)
    outcomes.update(_run(root, KEYED_FILES, _PLACEHOLDER, python=python, alias=alias))
    return outcomes


def _run(root: Path, files: list[str], extra_env: dict[str, str], *, python: str, alias: bool) -> dict[str, str]:
    report = root / "report.xml"
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
    command.append(f"--junitxml={report}")
    if alias:
        command += ["-p", "instructor_az.alias"]
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS and not k.startswith("AZURE_OPENAI_")}
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra_env)
    if alias:  # the subprocesses instructor's tests start (`python -O -c "import instructor..."`) too
        from instructor_az.alias import shim_dir

        env["PYTHONPATH"] = os.pathsep.join(p for p in (shim_dir(), env.get("PYTHONPATH")) if p)
    report.unlink(missing_ok=True)
    for prefix in OTHER_PROVIDERS:
        command += ["--deselect", prefix]
    result = subprocess.run([*command, *files], cwd=root, env=env, capture_output=True, text=True, timeout=900)
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
