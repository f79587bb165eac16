"""create(response_model=User) against the raw SDK doing the same work, and against instructor.

Both sides call the same in-process emulator (scripted: a fixed answer, so the emulator costs as
little as possible and the ratio shows the library's own overhead). The raw side sends the same
tools / tool_choice and validates with `User.model_validate_json`; ours is
`client.chat.completions.create(response_model=User)`. Then the same script runs inside a scratch
virtualenv with `instructor==1.17.0` and prints instructor's ratio over the raw SDK in that venv.

    python benchmarks/bench_create.py                 # creates .bench/instructor-1.17 on first run
    python benchmarks/bench_create.py --calls 3000 --no-instructor

Target: ours / raw <= 1.10.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from instructor_az.emulator import Emulator  # noqa: E402


class User(BaseModel):
    name: str
    age: int


MESSAGES = [{"role": "user", "content": "John is 30 years old"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "User",
            "description": "Correctly extracted `User` with all the required parameters with correct types",
            "parameters": User.model_json_schema(),
        },
    }
]
TOOL_CHOICE = {"type": "function", "function": {"name": "User"}}


def _emulator() -> Emulator:
    emulator = Emulator(backend="scripted", max_recorded=16)
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    return emulator


def _per_call(fn: Callable[[], Any], calls: int, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return times


def _per_call_async(fn: Callable[[], Any], calls: int, rounds: int) -> list[float]:
    async def run() -> list[float]:
        times = []
        for _ in range(rounds):
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                await fn()
            times.append((time.perf_counter() - start) / calls)
        return times

    return asyncio.run(run())


def measure(library: str, calls: int, rounds: int) -> dict[str, Any]:
    emulator = _emulator()
    raw = emulator.client()
    async_raw = emulator.async_client()

    def raw_call() -> User:
        completion = raw.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice=TOOL_CHOICE
        )
        return User.model_validate_json(completion.choices[0].message.tool_calls[0].function.arguments)

    async def raw_async_call() -> User:
        completion = await async_raw.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice=TOOL_CHOICE
        )
        return User.model_validate_json(completion.choices[0].message.tool_calls[0].function.arguments)

    if library == "instructor-az":
        import instructor_az

        wrapped = instructor_az.from_openai(emulator.client())
        async_wrapped = instructor_az.from_openai(emulator.async_client())
    else:
        import instructor

        wrapped = instructor.from_openai(emulator.client())
        async_wrapped = instructor.from_openai(emulator.async_client())

    def lib_call() -> User:
        return wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES, response_model=User)

    async def lib_async_call() -> User:
        return await async_wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES, response_model=User)

    assert raw_call().model_dump() == lib_call().model_dump() == {"name": "John", "age": 30}
    # Warm up, then interleave rounds so drift hits both sides alike.
    _per_call(raw_call, 200, 1)
    _per_call(lib_call, 200, 1)
    raw_times: list[float] = []
    lib_times: list[float] = []
    for _ in range(rounds):
        raw_times += _per_call(raw_call, calls, 1)
        lib_times += _per_call(lib_call, calls, 1)
    async_raw_times: list[float] = []
    async_lib_times: list[float] = []
    for _ in range(rounds):
        async_raw_times += _per_call_async(raw_async_call, calls // 2, 1)
        async_lib_times += _per_call_async(lib_async_call, calls // 2, 1)
    emulator.close()
    return {
        "library": library,
        "version": _version(library),
        "sync_raw_us": statistics.median(raw_times) * 1e6,
        "sync_lib_us": statistics.median(lib_times) * 1e6,
        "async_raw_us": statistics.median(async_raw_times) * 1e6,
        "async_lib_us": statistics.median(async_lib_times) * 1e6,
    }


def _version(library: str) -> str:
    from importlib.metadata import version

    return version("instructor-az" if library == "instructor-az" else "instructor")


def _instructor_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} with instructor==1.17.0 (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "instructor==1.17.0", "starlette", "uvicorn", "jsonschema"],
            check=True,
        )
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--library", default="instructor-az", choices=["instructor-az", "instructor"])
    parser.add_argument("--json", action="store_true", help="print one JSON line (used for the instructor run)")
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    args = parser.parse_args()

    result = measure(args.library, args.calls, args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    rows = [result]
    if not args.no_instructor:
        python = _instructor_venv(args.instructor_venv)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [str(python), __file__, "--library", "instructor", "--json", "--calls", str(args.calls),
             "--rounds", str(args.rounds)],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))

    print(f"create(response_model=User), in-process emulator, {args.calls} calls x {args.rounds} rounds (median)")
    print(f"{'library':<24}{'raw SDK us':>12}{'library us':>12}{'ratio':>8}   {'async raw':>10}{'async lib':>10}{'ratio':>8}")
    for row in rows:
        name = f"{row['library']} {row['version']}"
        print(
            f"{name:<24}{row['sync_raw_us']:>12.1f}{row['sync_lib_us']:>12.1f}"
            f"{row['sync_lib_us'] / row['sync_raw_us']:>7.2f}x   "
            f"{row['async_raw_us']:>10.1f}{row['async_lib_us']:>10.1f}{row['async_lib_us'] / row['async_raw_us']:>7.2f}x"
        )
    print("target: instructor-az ratio <= 1.10x")


if __name__ == "__main__":
    main()
