"""Batch extraction (issue 13): our CPU per row and memory for 100,000 rows, against a hand-written
script and against instructor's `BatchProcessor`.

The same support tickets (`{"id", "text"}` records made lazily, so the inputs hold no memory) go
through three phases, each size in its own processes:

1. write: `write_requests(client, records, dir, response_model=Ticket, model=DEPLOYMENT, ...)`, the
   JSONL request file, in a fresh process that never starts an emulator;
2. the job: upload, create, the emulator answering every line (schema backend: valid answers, no
   latency), download; in its own process. That is the emulator's time (it stands in for Azure and
   holds the whole file in memory): reported, never counted as ours;
3. read + validate: `read_results(...)`, one `Outcome` per row, in a fresh process again.

For (1) and (3), at `--small` and at `--rows` rows: CPU per row (`time.process_time`, the median of
`--repeats` runs), peak RSS (VmHWM, the process's high-water mark right after those runs) and
the tracemalloc peak (one more run, traced); memory is flat when peak RSS grows at most FLAT_RSS (1.10x)
for 10x the rows and what stays held is at most FLAT_BYTES_PER_ROW (16 bytes: one 8-byte hash per id
to find repeats, one 8-byte index entry per result line), not a copy of the rows. At `--small`, a cProfile run splits the phase's time between the library's own code and the
rest (pydantic, the openai SDK, json, file I/O). Baselines, each in the same process as what it is
compared with: writing the same lines with `json.dumps` (tools built once; the first line is checked
equal to ours), and reading the output file with `json.loads` + `Ticket.model_validate_json` on the
tool call's arguments (what a hand-written script does: file order, nothing matched to the inputs).

instructor's side runs in the scratch virtualenv (`.bench/instructor-1.17`, created on first run):
`BatchProcessor.create_batch_from_messages` for (1), its lines through the emulator's v1 routes with
its hard-coded `/v1/chat/completions` endpoint for (2), `BatchProcessor.parse_results` on the output
text for (3) (what `retrieve_results` does once it has the file's text). Then three checks of what
its own `submit_batch` can reach, against the emulator served on loopback.

    python benchmarks/bench_batch.py                 # 100,000 and 10,000 rows (about 18 minutes on 2 cores)
    python benchmarks/bench_batch.py --quick         # 2,000 and 200 rows (under a minute)
    python benchmarks/bench_batch.py --no-instructor
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The deployment named in every batch line: the emulator's Global Batch deployment when its
#: `default_deployments()` has it, else FALLBACK (an emulator from before batch deployments).
#: "Memory flat as rows grow": peak RSS within this factor for 10x the rows, and at most this many
#: bytes held per row (the id hashes and the result index, 8 bytes each).
FLAT_RSS = 1.10
FLAT_BYTES_PER_ROW = 16
DEPLOYMENT = "gpt-4o-batch"
FALLBACK = "gpt-4o"
API_VERSION = "2024-10-21"
PROMPT = "Classify the support ticket: its category, its priority and a one-sentence summary."
OPTIONS = {"max_tokens": 200, "temperature": 0.1}  # both libraries' request keywords
REPEATS = 3  # timed runs of each phase (--repeats)
MAX_BODY = 1 << 30  # the emulator's upload limit (a 100,000-line request file is ~140 MB)


class Ticket(BaseModel):
    category: Literal["billing", "login", "bug", "feature_request", "shipping", "other"]
    priority: Literal["low", "medium", "high", "urgent"]
    summary: str = Field(description="one sentence")


_POOL: list[str] = []


def _pool() -> list[str]:
    """1,000 ticket texts from bench_pipeline (made once, before anything is timed)."""
    if not _POOL:
        from bench_pipeline import tickets

        _POOL.extend(tickets(1000))
    return _POOL


def records(count: int) -> Iterator[dict[str, str]]:
    """`count` ticket records, made one at a time (a pool text with the row's own id and reference),
    so neither library's memory includes the inputs."""
    pool = _pool()
    for i in range(count):
        yield {"id": f"t-{i}", "text": f"{pool[i % len(pool)]} (ref {i})"}


def messages(count: int) -> Iterator[list[dict[str, str]]]:
    """The same rows as `records`, as the message lists `BatchProcessor` takes (our `prompt=` as the
    system message)."""
    for record in records(count):
        yield [{"role": "system", "content": PROMPT}, {"role": "user", "content": record["text"]}]


# --- measuring one phase -----------------------------------------------------------------------------


def _rss_mib() -> float:
    """This process's peak RSS so far, MiB: Linux's VmHWM (`ru_maxrss` would do, but Linux carries it
    over `exec` from the parent, which would hide a worker's peak below the parent's)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def _cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of `fn()`: the median of REPEATS runs (the machine may be
    shared; the median keeps one disturbed run out)."""
    times = []
    for _ in range(REPEATS):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn()
        times.append((time.process_time() - cpu, time.perf_counter() - wall))
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times), result


def _traced_peak(fn: Callable[[], Any]) -> float:
    """tracemalloc's peak (MiB) while `fn()` runs (Python allocations only, the interpreter's excluded)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _category(filename: str, name: str, library: str) -> str | None:
    """Where a profiled function belongs; None for a C builtin that is nobody's in particular (its time
    then goes to whoever called it)."""
    if filename == "~":
        if "pydantic_core" in name:
            return "pydantic"
        if "_io." in name or "io.open" in name or "posix." in name:
            return "file I/O"
        return None
    if filename.startswith(library):
        return "ours"
    if filename.startswith(str(Path(__file__).resolve().parent)):
        return "inputs"  # this benchmark's own generator of the rows
    if "/pydantic/" in filename or "/pydantic_core/" in filename:
        return "pydantic"
    if "/openai/" in filename:
        return "openai SDK"
    if "/json/" in filename:
        return "json"
    return "other"


def _profiled(fn: Callable[[], Any], library: str) -> dict[str, float]:
    """Each category's share of `fn`'s profiled time: the sum of `tottime` (time in the function
    itself) of the functions whose file is under `library` (ours) or elsewhere; a C builtin's time is
    split among its callers' categories."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    gc.collect()
    profile.runcall(fn)
    stats: Any = pstats.Stats(profile).stats
    totals: Counter[str] = Counter()
    for (filename, _, name), (_, _, tottime, _, callers) in stats.items():
        category = _category(filename, name, library)
        if category is not None:
            totals[category] += tottime
            continue
        called = sum(entry[2] for entry in callers.values()) or 1.0
        for (caller_file, _, caller_name), entry in callers.items():
            totals[_category(caller_file, caller_name, library) or "other"] += tottime * entry[2] / called
        if not callers:
            totals["other"] += tottime
    whole = sum(totals.values()) or 1.0
    return {category: seconds / whole for category, seconds in totals.most_common()}


def _phase(
    size: int, run: Callable[[Path], Any], folder: Path, library: str, profile: bool
) -> dict[str, Any]:
    """Time `run(folder)`, then trace it and (with `profile`) profile it in scratch folders."""
    _pool()
    rss_before = _rss_mib()
    cpu, wall, result = _cpu(lambda: run(folder))
    out: dict[str, Any] = {"rows": size, "cpu_us": cpu / size * 1e6, "wall_s": wall,
                           "rss_before_mib": rss_before, "rss_peak_mib": _rss_mib(), "result": result}  # fmt: skip
    traced = folder.with_name(folder.name + "-traced")
    out["traced_peak_mib"] = _traced_peak(lambda: run(traced))
    shutil.rmtree(traced, ignore_errors=True)
    if profile:
        profiled = folder.with_name(folder.name + "-profiled")
        out["shares"] = _profiled(lambda: run(profiled), library)
        shutil.rmtree(profiled, ignore_errors=True)
    return out


def _raw_write(
    size: int, folder: Path, rows: Callable[[], Iterator[Any]], line_of: Callable[[Any], dict[str, Any]]
) -> float:
    """CPU per row (us) of writing `line_of(row)` for each row with `json.dumps`, as a script would."""
    folder.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        with (folder / "requests.jsonl").open("wb") as file:
            for row in rows():
                file.write(json.dumps(line_of(row), ensure_ascii=False).encode("utf-8") + b"\n")

    cpu, _, _ = _cpu(write)
    return cpu / size * 1e6


def _raw_read(size: int, output: Path, arguments: Callable[[dict[str, Any]], str], model: Any) -> float:
    """CPU per row (us) of `json.loads` per output line and `model_validate_json` of its answer."""

    def read() -> int:
        count = 0
        with output.open("rb") as lines:
            for line in lines:
                model.model_validate_json(arguments(json.loads(line)))
                count += 1
        return count

    cpu, _, count = _cpu(read)
    assert count == size, f"the raw read found {count} lines, expected {size}"
    return cpu / size * 1e6


# --- our side (this venv) -------------------------------------------------------------------------------


def _our_client() -> Any:
    """A wrapped AzureOpenAI that is never called: writing and reading plan requests, they send nothing."""
    from openai import AzureOpenAI

    import instructor_az

    raw = AzureOpenAI(azure_endpoint="https://bench.invalid", api_key="bench-key", api_version=API_VERSION)
    return instructor_az.from_openai(raw)


def _our_tools_line(record: dict[str, str]) -> dict[str, Any]:
    return {
        "custom_id": record["id"],
        "method": "POST",
        "url": "/chat/completions",
        "body": {
            **OPTIONS,
            "model": DEPLOYMENT,
            "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": record["text"]}],
            "tools": _TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "Ticket"}},
        },
    }


_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "Ticket",
            "description": "Correctly extracted `Ticket` with all the required parameters with correct types",
            "parameters": Ticket.model_json_schema(),
        },
    }
]


def our_write(size: int, folder: Path, profile: bool) -> dict[str, Any]:
    import instructor_az
    from instructor_az.batch import write_requests

    client = _our_client()

    def run(where: Path) -> list[int]:
        written = write_requests(client, records(size), where, response_model=Ticket, model=DEPLOYMENT,
                                 prompt=PROMPT, **OPTIONS)  # fmt: skip
        assert not written.invalid, written.invalid[:3]
        assert sum(written.lines) == size, written.lines
        return written.lines

    out = _phase(size, run, folder, str(Path(instructor_az.__file__).parent) + os.sep, profile)
    raw_folder = folder.with_name("raw-requests")
    out["raw_cpu_us"] = _raw_write(size, raw_folder, lambda: records(size), _our_tools_line)
    ours = json.loads((folder / "requests-0001.jsonl").open("rb").readline())
    raw = json.loads((raw_folder / "requests.jsonl").open("rb").readline())
    assert ours == raw, f"the raw baseline writes a different line:\n{ours}\n{raw}"
    shutil.rmtree(raw_folder, ignore_errors=True)
    out["files"] = len(out.pop("result"))
    return out


def our_read(size: int, folder: Path, profile: bool) -> dict[str, Any]:
    import instructor_az
    from instructor_az.batch import read_results

    client = _our_client()
    output, errors = folder / "output.jsonl", folder / "errors.jsonl"

    def run(_: Path) -> dict[str, int]:
        outcomes = read_results(client, records(size), response_model=Ticket, model=DEPLOYMENT, output=output,
                                errors=errors if errors.exists() else None, prompt=PROMPT, **OPTIONS)  # fmt: skip
        statuses = Counter(outcome.status for outcome in outcomes)
        assert statuses["ok"] == size, f"not every row validated: {dict(statuses)}"
        return dict(statuses)

    out = _phase(size, run, folder, str(Path(instructor_az.__file__).parent) + os.sep, profile)

    def arguments(line: dict[str, Any]) -> str:
        return str(
            line["response"]["body"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        )

    out["raw_cpu_us"] = _raw_read(size, output, arguments, Ticket)
    out.pop("result")
    return out


def emulator_job(size: int, folder: Path, library: str) -> dict[str, Any]:
    """Upload the request file, create the batch, let the emulator answer it, download the results.
    Ours on the api-version routes (what `AzureOpenAI` calls, endpoint `/chat/completions`);
    instructor's on the v1 routes with its own endpoint, `/v1/chat/completions`, as its
    `submit_batch` would send them."""
    from instructor_az.emulator import Emulator

    emulator = Emulator(backend="schema", max_recorded=1, max_body_bytes=MAX_BODY)
    if library == "instructor-az":
        raw: Any = emulator.client(max_retries=0, timeout=3600)
        request, endpoint = folder / "requests-0001.jsonl", "/chat/completions"
    else:
        raw = emulator.openai_client(max_retries=0, timeout=3600)
        request, endpoint = folder / "requests.jsonl", "/v1/chat/completions"
    cpu, wall = time.process_time(), time.perf_counter()
    with request.open("rb") as file:
        uploaded = raw.files.create(file=(request.name, file), purpose="batch")
    batch = raw.batches.create(input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h")
    answering = time.perf_counter()
    batch = raw.batches.retrieve(batch.id)  # the first read after create runs every line (no latency set)
    answering = time.perf_counter() - answering
    assert batch.status == "completed", batch
    raw.files.content(batch.output_file_id).write_to_file(folder / "output.jsonl")
    if batch.error_file_id:
        raw.files.content(batch.error_file_id).write_to_file(folder / "errors.jsonl")
    counts = batch.request_counts
    assert counts is not None, batch
    assert counts.completed == size, f"the emulator answered {counts}"
    emulator.close()
    return {"rows": size, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "answering_s": answering, "rss_peak_mib": _rss_mib()}  # fmt: skip


# --- instructor's side (the scratch venv; imports neither instructor_az nor its emulator) -------------


def _processor() -> Any:
    from instructor.batch import BatchProcessor  # type: ignore[import-not-found]  # only in the scratch venv

    return BatchProcessor(f"openai/{DEPLOYMENT}", Ticket)


def instructor_write(size: int, folder: Path, profile: bool) -> dict[str, Any]:
    import instructor  # type: ignore[import-not-found]

    processor = _processor()

    def run(where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Created batch file ..."
            processor.create_batch_from_messages(
                messages(size), file_path=str(where / "requests.jsonl"), **OPTIONS
            )

    out = _phase(size, run, folder, str(Path(instructor.__file__).parent) + os.sep, profile)
    strict = json.loads((folder / "requests.jsonl").open("rb").readline())
    response_format = strict["body"]["response_format"]

    def line_of(row: tuple[int, list[dict[str, str]]]) -> dict[str, Any]:
        body = {"model": DEPLOYMENT, "messages": row[1], **OPTIONS, "response_format": response_format}
        return {
            "custom_id": f"request-{row[0]}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }

    raw_folder = folder.with_name("raw-requests")
    out["raw_cpu_us"] = _raw_write(size, raw_folder, lambda: enumerate(messages(size)), line_of)
    raw = json.loads((raw_folder / "requests.jsonl").open("rb").readline())
    assert raw == strict, f"the raw baseline writes a different line:\n{strict}\n{raw}"
    shutil.rmtree(raw_folder, ignore_errors=True)
    out.pop("result")
    out["version"] = instructor.__version__
    return out


def instructor_read(size: int, folder: Path, profile: bool) -> dict[str, Any]:
    import instructor  # type: ignore[import-not-found]

    processor = _processor()
    output = folder / "output.jsonl"

    def run(_: Path) -> int:
        results = processor.parse_results(output.read_text(encoding="utf-8"))
        succeeded = sum(result.success for result in results)
        assert succeeded == size, f"{size - succeeded} rows did not parse"
        return succeeded

    out = _phase(size, run, folder, str(Path(instructor.__file__).parent) + os.sep, profile)

    def content(line: dict[str, Any]) -> str:
        return str(line["response"]["body"]["choices"][0]["message"]["content"])

    out["raw_cpu_us"] = _raw_read(size, output, content, Ticket)
    out.pop("result")
    out["version"] = instructor.__version__
    return out


def instructor_reach(check: str) -> dict[str, Any]:
    """instructor's own `submit_batch` / `get_batch_status` / `retrieve_results`, on the client it builds
    itself (`OpenAI()` from OPENAI_BASE_URL / OPENAI_API_KEY, set by the parent)."""
    import instructor  # type: ignore[import-not-found]
    from instructor.batch import BatchProcessor  # type: ignore[import-not-found]

    class Short(BaseModel):
        summary: str = Field(max_length=200)

    model = Short if check == "max_length" else Ticket
    processor = BatchProcessor(f"openai/{DEPLOYMENT}", model)
    out: dict[str, Any] = {"check": check, "version": instructor.__version__}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            buffer = processor.create_batch_from_messages(list(messages(50)), file_path=None, **OPTIONS)
            batch_id = processor.submit_batch(buffer)
            out["status"] = processor.get_batch_status(batch_id)
            results = processor.retrieve_results(batch_id)
        out["succeeded"] = sum(result.success for result in results)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


# --- the parent ---------------------------------------------------------------------------------------


def _worker(python: Path | str, step: str, size: int, folder: Path, *, profile: bool = False,
            env: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    command = [str(python), __file__, "--worker", step, "--size", str(size), "--dir", str(folder),
               "--deployment", DEPLOYMENT, "--repeats", str(REPEATS)]  # fmt: skip
    if profile:
        command.append("--profile")
    print(f"  {step} {size:,} rows...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{step} ({size} rows) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _reach_checks(python: Path) -> list[dict[str, Any]]:
    """instructor's submit path against the emulator on loopback: the v1 routes, the api-version routes
    (where `AzureOpenAI` goes), and a strict schema with a `max_length`."""
    from instructor_az.emulator import Emulator

    emulator = Emulator(backend="schema", max_recorded=1000, max_body_bytes=MAX_BODY)
    checks = []
    with emulator.serve() as endpoint:
        for check, base in (
            ("v1", "/openai/v1/"),
            ("api-version", "/openai/"),
            ("max_length", "/openai/v1/"),
        ):
            emulator.reset()
            env = {**os.environ, "OPENAI_BASE_URL": endpoint + base, "OPENAI_API_KEY": emulator.api_keys[0]}
            result = _worker(python, "reach-" + check, 50, Path("."), env=env)
            result["paths"] = sorted({f"{r.method} {r.path} {r.status}" for r in emulator.requests})
            result["endpoints"] = sorted({job.endpoint for job in emulator.batches.jobs.values()})
            checks.append(result)
    emulator.close()
    return checks


_HEADINGS = {"ours": "the library's own code", "inputs": "the benchmark's inputs"}


def _deployment() -> str:
    from instructor_az.emulator import default_deployments

    return DEPLOYMENT if any(d.name == DEPLOYMENT for d in default_deployments()) else FALLBACK


def _mib(value: float) -> str:
    return f"{value:.1f}"


def report(args: argparse.Namespace, runs: dict[tuple[str, str, int], dict[str, Any]],
           checks: list[dict[str, Any]]) -> None:  # fmt: skip
    big, small = args.rows, args.small
    libraries = [name for name in ("instructor-az", "instructor") if ("write", name, big) in runs]
    label = {"instructor-az": "instructor-az", "instructor": f"instructor {runs.get(('write', 'instructor', big), {}).get('version', '')}"}  # fmt: skip
    print(f"\nbatch lines for deployment {DEPLOYMENT!r}; {OPTIONS}")
    print(f"\nCPU per row (process time, median of {REPEATS} runs; the emulator's job not included)\n")
    print(f"| phase | library | µs/row at {big:,} | hand-written µs/row | ratio | wall s | "
          f"µs/row at {small:,} | hand-written | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for phase, name in (("write", "write (request file)"), ("read", "read + validate")):
        for library in libraries:
            run, few = runs[(phase, library, big)], runs[(phase, library, small)]
            print(f"| {name} | {label[library]} | {run['cpu_us']:.1f} | {run['raw_cpu_us']:.1f} | "
                  f"{run['cpu_us'] / run['raw_cpu_us']:.2f}x | {run['wall_s']:.1f} | {few['cpu_us']:.1f} | "
                  f"{few['raw_cpu_us']:.1f} | {few['cpu_us'] / few['raw_cpu_us']:.2f}x |")  # fmt: skip
    total = {
        lib: runs[("write", lib, big)]["cpu_us"] + runs[("read", lib, big)]["cpu_us"] for lib in libraries
    }
    if "instructor" in total:
        print(f"\nwrite + read per row: instructor-az {total['instructor-az']:.1f} µs, instructor "
              f"{total['instructor']:.1f} µs ({total['instructor'] / total['instructor-az']:.2f}x ours)")  # fmt: skip

    print(
        f"\nWhere the time goes (cProfile at {small:,} rows; tottime by file, C builtins to their caller)\n"
    )
    categories = ["ours", "pydantic", "openai SDK", "json", "file I/O", "inputs", "other"]
    print("| phase | library | " + " | ".join(_HEADINGS.get(c, c) for c in categories) + " |")
    print("|---|---|" + "---|" * len(categories))
    for phase in ("write", "read"):
        for library in libraries:
            shares = runs[(phase, library, small)].get("shares", {})
            cells = " | ".join(f"{shares.get(c, 0.0):.0%}" for c in categories)
            print(f"| {phase} | {label[library]} | {cells} |")

    print(f"\nMemory, each size in a fresh process ({small:,} vs {big:,} rows)\n")
    print("| phase | library | RSS after imports MiB | peak RSS MiB | ratio | tracemalloc peak MiB | ratio |")
    print("|---|---|---|---|---|---|---|")
    for phase in ("write", "read"):
        for library in libraries:
            one, other = runs[(phase, library, small)], runs[(phase, library, big)]
            print(
                f"| {phase} | {label[library]} | {_mib(other['rss_before_mib'])} | "
                f"{_mib(one['rss_peak_mib'])} / {_mib(other['rss_peak_mib'])} | "
                f"{other['rss_peak_mib'] / one['rss_peak_mib']:.2f}x | "
                f"{_mib(one['traced_peak_mib'])} / {_mib(other['traced_peak_mib'])} | "
                f"{other['traced_peak_mib'] / max(one['traced_peak_mib'], 1e-9):.1f}x |"
            )

    for phase in ("write", "read"):
        one, other = runs[(phase, "instructor-az", small)], runs[(phase, "instructor-az", big)]
        ratio = other["traced_peak_mib"] / max(one["traced_peak_mib"], 1e-9)
        held = (other["traced_peak_mib"] - one["traced_peak_mib"]) * 2**20 / (big - small)
        rss = other["rss_peak_mib"] / one["rss_peak_mib"]
        flat = rss <= FLAT_RSS and held <= FLAT_BYTES_PER_ROW
        print(f"{'PASS' if flat else 'MISS'}  instructor-az {phase}: memory flat as rows grow "
              f"(tracemalloc peak {ratio:.1f}x for {big / small:g}x the rows; {held:.0f} bytes held per row; "
              f"peak RSS {other['rss_peak_mib'] / one['rss_peak_mib']:.2f}x)")  # fmt: skip

    print("\nThe emulator's job (upload, create, answer every line, download; in its own process)\n")
    print("| request file | rows | wall s | answering s | lines/s | emulator process peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for library in libraries:
        for size in (small, big):
            job = runs[("job", library, size)]
            print(f"| {label[library]} | {size:,} | {job['wall_s']:.1f} | {job['answering_s']:.1f} | "
                  f"{size / job['answering_s']:.0f} | {_mib(job['rss_peak_mib'])} |")  # fmt: skip

    if checks:
        print("\ninstructor's own submit_batch (OpenAI() from OPENAI_BASE_URL / OPENAI_API_KEY), 50 rows, "
              "against the emulator on loopback\n")  # fmt: skip
        for check in checks:
            outcome = (
                check.get("error")
                or f"{check.get('succeeded')} of 50 rows parsed; status {check.get('status')}"
            )
            print(f"- {check['check']}: {outcome}")
            print(
                f"    server saw: {', '.join(check['paths'])}; batch endpoints: {check['endpoints'] or 'none'}"
            )


def main() -> None:
    global DEPLOYMENT, REPEATS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, help="rows for CPU and the large memory run (default 100,000)")
    parser.add_argument("--small", type=int, help="rows for the small memory run (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 and 200 rows")
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help="timed runs per phase, median (default 3)"
    )
    parser.add_argument("--keep", type=Path, help="keep the request and result files in this directory")
    parser.add_argument("--json", action="store_true", help="also print every measurement as one JSON line")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deployment", help=argparse.SUPPRESS)
    args = parser.parse_args()
    DEPLOYMENT = args.deployment or _deployment()  # the parent decides; workers are told
    REPEATS = max(1, args.repeats)
    if args.worker:
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "write-instructor-az": lambda: our_write(args.size, args.dir, args.profile),
            "read-instructor-az": lambda: our_read(args.size, args.dir, args.profile),
            "job-instructor-az": lambda: emulator_job(args.size, args.dir, "instructor-az"),
            "job-instructor": lambda: emulator_job(args.size, args.dir, "instructor"),
            "write-instructor": lambda: instructor_write(args.size, args.dir, args.profile),
            "read-instructor": lambda: instructor_read(args.size, args.dir, args.profile),
            "reach-v1": lambda: instructor_reach("v1"),
            "reach-api-version": lambda: instructor_reach("api-version"),
            "reach-max_length": lambda: instructor_reach("max_length"),
        }
        print(json.dumps(steps[args.worker]()))
        return
    args.rows = args.rows or (2000 if args.quick else 100_000)
    args.small = args.small or (200 if args.quick else 10_000)

    python = None
    if not args.no_instructor:
        from bench_pipeline import _instructor_python

        python = _instructor_python(args.instructor_venv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_batch-"))
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        for size in (args.small, args.rows):
            contenders: list[tuple[str, Path | str]] = [("instructor-az", sys.executable)]
            if python is not None:
                contenders.append(("instructor", python))
            for library, interpreter in contenders:
                folder = work / f"{library}-{size}" / "files"
                profile = size == args.small
                runs[("write", library, size)] = _worker(
                    interpreter, f"write-{library}", size, folder, profile=profile
                )
                runs[("job", library, size)] = _worker(sys.executable, f"job-{library}", size, folder)
                runs[("read", library, size)] = _worker(
                    interpreter, f"read-{library}", size, folder, profile=profile
                )
        checks = _reach_checks(python) if python is not None else []
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    report(args, runs, checks)
    if args.json:
        print(
            json.dumps(
                {"runs": {"/".join(map(str, key)): value for key, value in runs.items()}, "checks": checks}
            )
        )


if __name__ == "__main__":
    main()
