"""Streaming a catalog object: create_partial vs consuming the raw SDK stream, and vs instructor.

A catalog (a title plus a list of items with several fields) of about 2 KB, 40 KB and 160 KB is
streamed through the in-process emulator in 8-character deltas as a forced tool call. Measured: the
process CPU time (the emulator's thread included, on both sides) to consume

- raw: the SDK stream of the same answer (iterate the chunks, nothing else);
- create_partial(response_model=Catalog), consuming every partial object;

then the same in a scratch virtualenv with `instructor==1.17.0` (its `create_partial`). Growth is the
exponent k in time ~ size^k between the smallest and largest size. Peak memory (tracemalloc) of our
consumer is printed per size.

    python benchmarks/bench_stream.py                  # creates .bench/instructor-1.17 on first run
    python benchmarks/bench_stream.py --no-instructor

Targets: ours / raw <= 2x at every size; growth exponent <= 1.1; memory linear in size.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
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


def _exponent(rows: list[dict[str, Any]], key: str) -> float:
    first, last = rows[0], rows[-1]
    return math.log(last[key] / first[key]) / math.log(last["size"] / first["size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--library", default="instructor-az", choices=["instructor-az", "instructor"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    parser.add_argument("--instructor-timeout", type=float, default=900, help="seconds before giving up on instructor")
    args = parser.parse_args()

    rows = measure(args.library, args.repeats)
    if args.json:
        print(json.dumps(rows))
        return
    theirs: list[dict[str, Any]] | None = None
    if not args.no_instructor:
        python = _instructor_venv(args.instructor_venv)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            out = subprocess.run(
                [str(python), __file__, "--library", "instructor", "--json", "--repeats", "1"],
                check=True, capture_output=True, text=True, env=env, timeout=args.instructor_timeout,
            )  # fmt: skip
            theirs = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            print(f"(instructor did not finish within {args.instructor_timeout:.0f}s)")

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
