"""Streaming a catalog object: create_partial vs consuming the raw SDK stream, and vs instructor.

A catalog (a title plus a list of items with several fields) of about 2 KB, 40 KB and 160 KB is
streamed through the in-process emulator in 8-character deltas as a forced tool call. Measured: the
process CPU time (the emulator's thread included, on both sides) to consume

- raw: the SDK stream of the same answer (iterate the chunks, nothing else);
- create_partial(response_model=Catalog), consuming every partial object;

then the same in a scratch virtualenv with `instructor==1.17.0` (its `create_partial`). Growth is the
exponent k in time ~ size^k between the smallest and largest size. Peak memory (tracemalloc) of our
consumer is printed per size.

The Responses API part (`--api responses`, or both by default) streams the same catalogs as
Responses events (`response.output_text.delta` for `text.format` json_schema,
`response.function_call_arguments.delta` for the function tool) and measures, per mode, the raw SDK's
`responses.create(stream=True)` sent the very request ours sends (iterate the events, nothing else)
against `responses.create_partial(response_model=Catalog)`; peak memory (tracemalloc) of both; and
instructor 1.17.0's `create_partial` in `Mode.RESPONSES_TOOLS` (it has no json_schema Responses mode).

    python benchmarks/bench_stream.py                  # creates .bench/instructor-1.17 on first run
    python benchmarks/bench_stream.py --no-instructor
    python benchmarks/bench_stream.py --api responses --repeats 5

Targets: chat, ours / raw <= 2x at every size; growth exponent <= 1.1; memory linear in size.
Responses, ours / raw <= 1.3x at every size in both modes; growth exponent <= 1.1 (linear); peak
memory exponent <= 1.1 (linear).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from instructor_az.emulator import Emulator  # noqa: E402

SIZES_KB = (2, 40, 160)


class Item(BaseModel):
    sku: str
    name: str
    description: str
    price: float
    quantity: int
    in_stock: bool


class Catalog(BaseModel):
    title: str
    items: list[Item]


def catalog(size_kb: int) -> dict[str, Any]:
    items = []
    body = {"title": "Spring catalog", "items": items}
    i = 0
    while len(json.dumps(body)) < size_kb * 1024:
        items.append(
            {
                "sku": f"SKU-{i:06d}",
                "name": f"Item number {i}",
                "description": f"A sturdy, well made thing, model {i}, for everyday use.",
                "price": round(1.5 + i * 0.25, 2),
                "quantity": i % 17,
                "in_stock": i % 3 != 0,
            }
        )
        i += 1
    return body


MESSAGES = [{"role": "user", "content": "List the catalog."}]
TOOLS = [{"type": "function", "function": {"name": "Catalog", "parameters": Catalog.model_json_schema()}}]
TOOL_CHOICE = {"type": "function", "function": {"name": "Catalog"}}


def measure(library: str, repeats: int) -> list[dict[str, Any]]:
    emulator = Emulator(backend="scripted", chunk_chars=8, max_recorded=4)
    answers: dict[str, Any] = {}
    emulator.scripted.on(lambda request: True, lambda request: answers["current"])
    raw = emulator.client()
    if library == "instructor-az":
        import instructor_az

        wrapped = instructor_az.from_openai(emulator.client())

        def ours() -> Any:
            stream = wrapped.chat.completions.create_partial(model="gpt-4o", messages=MESSAGES, response_model=Catalog)
            return deque(stream, maxlen=1)[0]
    else:
        import instructor

        wrapped = instructor.from_openai(emulator.client())

        def ours() -> Any:
            stream = wrapped.chat.completions.create_partial(model="gpt-4o", messages=MESSAGES, response_model=Catalog)
            return deque(stream, maxlen=1)[0]

    def raw_stream() -> int:
        count = 0
        for _ in raw.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice=TOOL_CHOICE, stream=True
        ):
            count += 1
        return count

    rows = []
    for size in SIZES_KB:
        answers["current"] = catalog(size)
        text_size = len(json.dumps(answers["current"]))
        final = ours()
        assert len(final.items) == len(answers["current"]["items"]), "the final object is incomplete"
        raw_times, lib_times = [], []
        for _ in range(repeats):
            gc.collect()
            start = time.process_time()
            chunks = raw_stream()
            raw_times.append(time.process_time() - start)
            gc.collect()
            start = time.process_time()
            ours()
            lib_times.append(time.process_time() - start)
        peak = 0
        if library == "instructor-az":
            tracemalloc.start()
            ours()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        rows.append(
            {
                "size": text_size,
                "chunks": chunks,
                "raw": min(raw_times),
                "lib": min(lib_times),
                "peak": peak,
            }
        )
    emulator.close()
    return rows


RESPONSES_API_VERSION = "2025-04-01-preview"
RESPONSES_INPUT = "List the catalog."
#: Our Responses modes (table name -> instructor_az.Mode); instructor 1.17.0 has only the tool one.
RESPONSES_MODES = {"json_schema": "RESPONSES_JSON_SCHEMA", "tools": "RESPONSES_TOOLS"}
RESPONSES_TARGET = 1.3
LINEAR = 1.1


def _partial_consumer(wrapped: Any) -> Any:
    def ours() -> Any:
        stream = wrapped.responses.create_partial(
            model="gpt-4o", input=RESPONSES_INPUT, response_model=Catalog
        )
        return deque(stream, maxlen=1)[0]

    return ours


def _raw_responses_consumer(raw: Any, sent: dict[str, Any]) -> Any:
    def raw_stream() -> int:
        count = 0
        for _ in raw.responses.create(model="gpt-4o", input=RESPONSES_INPUT, stream=True, **sent):
            count += 1
        return count

    return raw_stream


def measure_responses(library: str, repeats: int, modes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per mode, per size: the raw SDK's Responses stream (the request ours sent, `stream=True`,
    iterated to the end) against `responses.create_partial`, process CPU: the fastest run of each and
    the median of the ratios of runs made back to back."""
    emulator = Emulator(backend="scripted", chunk_chars=8, max_recorded=4)
    answers: dict[str, Any] = {}
    emulator.scripted.on(lambda request: True, lambda request: answers["current"])
    raw = emulator.client(api_version=RESPONSES_API_VERSION)
    if library == "instructor-az":
        import instructor_az as lib
    else:
        import instructor as lib  # type: ignore[no-redef]
    results: dict[str, list[dict[str, Any]]] = {}
    for mode_name in modes:
        mode = getattr(lib.Mode, RESPONSES_MODES[mode_name], None)
        if mode is None:
            continue
        ours = _partial_consumer(lib.from_openai(emulator.client(api_version=RESPONSES_API_VERSION), mode=mode))
        rows = []
        for size in SIZES_KB:
            answers["current"] = catalog(size)
            text_size = len(json.dumps(answers["current"]))
            final = ours()
            assert len(final.items) == len(answers["current"]["items"]), "the final object is incomplete"
            # The raw side sends what ours sent (text.format or the function tool), streamed.
            assert emulator.last_request.path.endswith("/responses")
            sent = dict(emulator.last_request.body)
            assert sent.pop("stream", None) is True
            sent.pop("input"), sent.pop("model")
            raw_stream = _raw_responses_consumer(raw, sent)
            raw_times, lib_times = [], []
            # Back to back, so a change in the machine's load hits both; more runs of the small sizes.
            for _ in range(max(repeats, repeats * 80 // size)):
                emulator.responses.clear()
                gc.collect()
                start = time.process_time()
                events = raw_stream()
                raw_times.append(time.process_time() - start)
                emulator.responses.clear()
                gc.collect()
                start = time.process_time()
                ours()
                lib_times.append(time.process_time() - start)
            peaks = {"raw_peak": 0, "peak": 0}
            for side, consume in (("raw_peak", raw_stream), ("peak", ours)) if library == "instructor-az" else ():
                emulator.responses.clear()
                gc.collect()
                tracemalloc.start()
                consume()
                peaks[side] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            ratios = sorted(o / r for r, o in zip(raw_times, lib_times, strict=True))
            rows.append(
                {
                    "size": text_size,
                    "events": events,
                    "runs": len(ratios),
                    "raw": min(raw_times),
                    "lib": min(lib_times),
                    "ratio": statistics.median(ratios),
                    "ratio_range": [ratios[0], ratios[-1]],
                    **peaks,
                }
            )
        results[mode_name] = rows
    emulator.close()
    return results


def _instructor_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} with instructor==1.17.0 (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "instructor==1.17.0", "starlette", "uvicorn", "jsonschema"],
            check=True,
        )
    # The in-process emulator also needs PyJWT (the emulator extra); venvs made before it lack it.
    if subprocess.run([str(python), "-c", "import jwt"], capture_output=True).returncode != 0:
        print(f"adding PyJWT[crypto] to {path} (the emulator needs it; once)...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "PyJWT[crypto]>=2.8"], check=True)
    return python


def _run_instructor(python: Path, args: list[str], timeout: float) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        out = subprocess.run(
            [str(python), __file__, "--library", "instructor", "--json", *args],
            check=True, capture_output=True, text=True, env=env, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"(instructor did not finish within {timeout:.0f}s)")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'MISS'}  {text}"


def print_responses(results: dict[str, list[dict[str, Any]]], theirs: dict[str, list[dict[str, Any]]] | None) -> None:
    print(
        "responses.create_partial(Catalog), Responses events, in-process emulator, 8-character deltas; process "
        "CPU seconds (fastest run); ratio: median of back-to-back runs (lowest-highest)"
    )
    for mode_name, rows in results.items():
        other_rows = (theirs or {}).get(mode_name)
        print(f"mode {RESPONSES_MODES[mode_name]}")
        header = (
            f"{'size':>9}{'events':>8}{'runs':>6}{'raw SDK':>10}{'ours':>10}{'ratio':>8}{'range':>13}"
            f"{'raw MiB':>9}{'ours MiB':>10}"
        )
        if other_rows:
            header += f"{'instructor':>12}{'ratio':>8}"
        print(header)
        for i, row in enumerate(rows):
            low, high = row["ratio_range"]
            line = (
                f"{row['size'] / 1024:>7.1f}KB{row['events']:>8}{row['runs']:>6}{row['raw']:>10.3f}{row['lib']:>10.3f}"
                f"{row['ratio']:>7.2f}x{f'{low:.2f}-{high:.2f}x':>13}"
                f"{row['raw_peak'] / 2**20:>9.2f}{row['peak'] / 2**20:>10.2f}"
            )
            if other_rows:
                other = other_rows[i]
                line += f"{other['lib']:>12.3f}{other['ratio']:>7.2f}x"
            print(line)
        print(
            f"growth exponent: raw {_exponent(rows, 'raw'):.2f}, ours {_exponent(rows, 'lib'):.2f}"
            + (f", instructor {_exponent(other_rows, 'lib'):.2f}" if other_rows else "")
            + f"; peak memory exponent raw {_exponent(rows, 'raw_peak'):.2f}, ours {_exponent(rows, 'peak'):.2f}"
        )
    for mode_name, rows in results.items():
        ratios = [row["ratio"] for row in rows]
        growth, memory = _exponent(rows, "lib"), _exponent(rows, "peak")
        name = RESPONSES_MODES[mode_name]
        print(_verdict(max(ratios) <= RESPONSES_TARGET, f"{name}: ours / raw <= {RESPONSES_TARGET}x at every size "
                       f"({', '.join(f'{r:.2f}x' for r in ratios)})"))  # fmt: skip
        print(_verdict(growth <= LINEAR, f"{name}: linear, growth exponent <= {LINEAR} ({growth:.2f})"))
        print(_verdict(memory <= LINEAR, f"{name}: memory linear, peak exponent <= {LINEAR} ({memory:.2f})"))


def _exponent(rows: list[dict[str, Any]], key: str) -> float:
    first, last = rows[0], rows[-1]
    return math.log(last[key] / first[key]) / math.log(last["size"] / first["size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--api", default="both", choices=["chat", "responses", "both"])
    parser.add_argument(
        "--responses-modes", default="json_schema,tools", help="comma-separated: json_schema, tools (default both)"
    )
    parser.add_argument("--library", default="instructor-az", choices=["instructor-az", "instructor"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    parser.add_argument("--instructor-timeout", type=float, default=900, help="seconds before giving up on instructor")
    args = parser.parse_args()
    modes = [m for m in args.responses_modes.split(",") if m]
    if unknown := set(modes) - set(RESPONSES_MODES):
        parser.error(f"unknown --responses-modes {sorted(unknown)}; choose from {sorted(RESPONSES_MODES)}")

    if args.json:
        if args.api in ("chat", "both"):
            print(json.dumps(measure(args.library, args.repeats)))
        if args.api in ("responses", "both"):
            print(json.dumps(measure_responses(args.library, args.repeats, modes)))
        return
    if args.api in ("chat", "both"):
        stream_chat(args)
    if args.api == "both":
        print()
    if args.api in ("responses", "both"):
        results = measure_responses(args.library, args.repeats, modes)
        theirs = None
        if not args.no_instructor and "tools" in modes:
            python = _instructor_venv(args.instructor_venv)
            theirs = _run_instructor(
                python, ["--api", "responses", "--responses-modes", "tools", "--repeats", "1"], args.instructor_timeout
            )
        print_responses(results, theirs)


def stream_chat(args: argparse.Namespace) -> None:
    rows = measure(args.library, args.repeats)
    theirs: list[dict[str, Any]] | None = None
    if not args.no_instructor:
        python = _instructor_venv(args.instructor_venv)
        theirs = _run_instructor(python, ["--api", "chat", "--repeats", "1"], args.instructor_timeout)

    print("create_partial(Catalog), forced tool call, in-process emulator, 8-character deltas; process CPU seconds")
    header = f"{'size':>9}{'chunks':>8}{'raw SDK':>10}{'ours':>10}{'ratio':>8}{'peak MiB':>10}"
    if theirs:
        header += f"{'instructor':>12}{'ratio':>8}"
    print(header)
    for i, row in enumerate(rows):
        line = (
            f"{row['size'] / 1024:>7.1f}KB{row['chunks']:>8}{row['raw']:>10.3f}{row['lib']:>10.3f}"
            f"{row['lib'] / row['raw']:>7.2f}x{row['peak'] / 2**20:>10.2f}"
        )
        if theirs:
            other = theirs[i]
            line += f"{other['lib']:>12.3f}{other['lib'] / other['raw']:>7.2f}x"
        print(line)
    print(
        f"growth exponent: raw {_exponent(rows, 'raw'):.2f}, ours {_exponent(rows, 'lib'):.2f}"
        + (f", instructor {_exponent(theirs, 'lib'):.2f}" if theirs else "")
        + f"; peak memory exponent {_exponent(rows, 'peak'):.2f}"
    )
    print("targets: ours / raw <= 2x at every size; growth exponent <= 1.1; memory linear")


if __name__ == "__main__":
    main()
