"""Extraction pipelines (issue 12): `aextract_many` against the loops users write today, at one quota.

Every contender sends the same N support tickets (~300-600 characters each) to the same emulated Azure
deployment, served on loopback (uvicorn in a thread; schema backend, so answers are valid and
deterministic) with a quota: `--rpm` requests per minute over fixed `--rpm-period` windows, `--tpm`
tokens per minute, `--latency-per-100-tokens` seconds per 100 completion tokens. The contenders:

1. `instructor_az.aextract_many(client, texts, response_model=Ticket, concurrency="auto")`;
2. our `create(response_model=Ticket)` under `asyncio.gather` + `asyncio.Semaphore(8 / 32 / 128)`, the
   SDK's default retries (`max_retries=2`, which honour `retry-after-ms`); a row that raises is lost;
3. the same loop with `instructor==1.17.0`, run in a subprocess inside a scratch virtualenv
   (`.bench/instructor-1.17`, created on first run; skipped, saying so, when it cannot be).

Between contenders the emulator's records and quota usage are reset and the next contender starts on
a fresh RPM window. 429s and requests are counted server-side (the emulator's records), the same way
for everyone. Rows/min counts delivered rows (lost ones excluded); the quota's rows/min is
`min(rpm, tpm / tokens per row)`, tokens per row being what the emulator reserves (prompt +
`max_tokens`). Fixed windows let a run that starts on one finish its last window early, so a short
run can pass 100%.

    python benchmarks/bench_pipeline.py                  # 200 rows, 300 rpm over 10 s windows (3-4 min)
    python benchmarks/bench_pipeline.py --quick          # 60 rows, 600 rpm over 2 s windows (under 1 min)
    python benchmarks/bench_pipeline.py --instructor-semaphores 8,32,128    # instructor at every size
    python benchmarks/bench_pipeline.py --rpm-period 1 --no-instructor      # Azure's 1 s RPM windows

Targets: ours >= 90% of the quota's rows/min, 429s <= 10% of rows, no lost rows, and more rows/min than
the best loop that lost no row (a loop that drops rows finishes early without doing the job).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from openai import AsyncAzureOpenAI
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPLOYMENT = "gpt-4o"
API_KEY = "bench-key"  # the emulator's own key, accepted only by this run's emulator
API_VERSION = "2024-10-21"
PROMPT = "Classify the support ticket: its category, its priority and a one-sentence summary."
LOOP_SIZES = (8, 32, 128)


class Ticket(BaseModel):
    category: Literal["billing", "login", "bug", "feature_request", "shipping", "other"]
    priority: Literal["low", "medium", "high", "urgent"]
    summary: str = Field(description="one sentence", max_length=200)


_OPENERS = [
    "Hi team,", "Hello,", "Good morning support,", "To whom it may concern,", "Hey there,",
    "Dear customer service,",
]  # fmt: skip
_PROBLEMS = [
    "I was charged twice for my March invoice and the second charge has not been refunded yet.",
    "I cannot log in since the password reset yesterday; the page just reloads without an error.",
    "The export to CSV button produces an empty file whenever the report has more than 500 lines.",
    "Our parcel was marked as delivered on Tuesday but nobody at the office has received it.",
    "It would really help if the dashboard could show totals per week instead of per month only.",
    "The mobile app crashes as soon as I open the settings screen on my Android 14 phone.",
    "My two-factor codes arrive about ten minutes late, so they have always expired by then.",
    "The discount code from your newsletter is rejected at checkout as invalid.",
]
_DETAILS = [
    "This started after the update last week.", "Three people on my team see the same thing.",
    "I tried another browser and cleared the cache, with no change.",
    "Order number {n} if that helps.", "Our account id is AC-{n}.",
    "We have a board meeting on Friday and need this sorted before then.",
    "I attached a screenshot to my previous email but never got an answer.",
    "It worked fine until the end of last month.", "Restarting the device did not help either.",
    "The same happened in January and was fixed by your colleague then.",
]  # fmt: skip
_CLOSINGS = [
    "Thanks in advance.", "Please advise.", "Looking forward to your reply.", "Regards, {name}.",
    "Cheers, {name}", "Thank you for your help, {name}.",
]  # fmt: skip
_NAMES = ["Ana", "Bram", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro"]


def tickets(count: int, seed: int = 12) -> list[str]:
    """`count` varied ticket texts of about 300 to 600 characters (the same ones for every contender)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [rng.choice(_OPENERS), rng.choice(_PROBLEMS)]
        details = rng.sample(_DETAILS, len(_DETAILS))
        while len(" ".join(parts)) < rng.randint(260, 520):
            parts.append(details.pop())
        parts.append(rng.choice(_CLOSINGS))
        text = " ".join(parts).format(n=rng.randint(10_000, 99_999), name=rng.choice(_NAMES))
        texts.append(text[:600])
    return texts


def _async_client(endpoint: str) -> AsyncAzureOpenAI:
    return AsyncAzureOpenAI(azure_endpoint=endpoint, api_key=API_KEY, api_version=API_VERSION, max_retries=2)


async def gather_loop(
    wrap: Callable[[AsyncAzureOpenAI], Any],
    endpoint: str,
    texts: list[str],
    size: int,
    max_tokens: int,
    wait: Callable[[], float],
) -> tuple[float, int]:
    """The loop users write: `wrap(client).chat.completions.create(response_model=Ticket)` for every row
    under `asyncio.gather`, at most `size` in flight; it starts once `wait()` seconds have passed.
    Returns (seconds, lost rows)."""
    semaphore = asyncio.Semaphore(size)
    async with _async_client(endpoint) as raw:
        client = wrap(raw)

        async def one(text: str) -> bool:
            async with semaphore:
                try:
                    messages = [{"role": "system", "content": PROMPT}, {"role": "user", "content": text}]
                    value = await client.chat.completions.create(
                        model=DEPLOYMENT, messages=messages, response_model=Ticket, max_tokens=max_tokens
                    )
                except Exception:
                    return False
                return isinstance(value, Ticket)

        await asyncio.sleep(max(wait(), 0.0))
        start = time.monotonic()
        delivered = await asyncio.gather(*(one(text) for text in texts))
        return time.monotonic() - start, delivered.count(False)


# --- the instructor side: runs in the scratch venv, imports neither instructor_az nor its emulator ---


def instructor_worker(args: argparse.Namespace) -> None:
    import instructor  # type: ignore[import-not-found]  # only in the scratch venv

    def wait() -> float:
        return float(args.start_at - time.time())

    loop = gather_loop(
        instructor.from_openai, args.endpoint, tickets(args.rows), args.semaphore, args.max_tokens, wait
    )
    wall, lost = asyncio.run(loop)
    print(json.dumps({"wall": wall, "lost": lost, "version": instructor.__version__}))


def _instructor_python(venv: Path) -> Path | None:
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            print(f"creating {venv} with instructor==1.17.0 (once)...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if subprocess.run([str(python), "-c", "import instructor"], capture_output=True).returncode:
            subprocess.run([str(python), "-m", "pip", "install", "-q", "instructor==1.17.0"], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"instructor skipped: could not set up {venv} ({exc}); is the network down?")
        return None
    return python


# --- the parent: one emulator, every contender in turn ---------------------------------------------


@dataclass
class Result:
    name: str
    rows: int
    wall: float
    lost: int
    requests: int  # server-side: every request the emulator received
    rate_limited: int  # server-side: the 429s among them
    tokens_per_row: float  # what the emulator reserved per admitted request (prompt + max_tokens)
    client_429s: int | None = None  # what the pipeline's summary saw

    def rows_per_minute(self) -> float:
        return (self.rows - self.lost) * 60 / self.wall

    def quota_rows_per_minute(self, rpm: int, tpm: int) -> float:
        return min(rpm, tpm / self.tokens_per_row) if self.tokens_per_row else rpm

    def quota_share(self, rpm: int, tpm: int) -> float:
        return self.rows_per_minute() / self.quota_rows_per_minute(rpm, tpm)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from instructor_az.emulator import Emulator, Quota

        self.args = args
        self.texts = tickets(args.rows)
        quota = Quota(rpm=args.rpm, tpm=args.tpm, seconds_per_100_tokens=args.latency_per_100_tokens,
                      rpm_period=args.rpm_period)  # fmt: skip
        self.emulator = Emulator(api_keys=[API_KEY], quotas=quota, max_recorded=100_000)

    def fresh_window(self, lead: float = 0.0) -> float:
        """Reset records and usage; the monotonic time the next RPM window opens (at least `lead` s away)."""
        self.emulator.reset()
        period, now = float(self.args.rpm_period), time.monotonic()
        return (math.floor((now + lead) / period) + 1) * period + 0.02

    def tally(self, name: str, wall: float, lost: int, client_429s: int | None = None) -> Result:
        from instructor_az.emulator._quota import estimate

        records = [r for r in list(self.emulator.requests) if r.path.endswith("/chat/completions")]
        reserved = [estimate("chat", r.body, DEPLOYMENT, DEPLOYMENT) for r in records if r.status == 200]
        admitted = [prompt + (answer or 0) for prompt, answer in reserved]
        result = Result(
            name, len(self.texts), wall, lost, len(records), sum(r.status == 429 for r in records),
            sum(admitted) / len(admitted) if admitted else 0.0, client_429s,
        )  # fmt: skip
        print(f"  {name}: {wall:.1f}s, {lost} lost, {result.rate_limited} 429s", file=sys.stderr)
        return result

    async def pipeline(self, endpoint: str) -> Result:
        import instructor_az

        async with _async_client(endpoint) as raw:
            await asyncio.sleep(self.fresh_window() - time.monotonic())
            start = time.monotonic()
            results = instructor_az.aextract_many(
                instructor_az.from_openai(raw), self.texts, response_model=Ticket, model=DEPLOYMENT,
                prompt=PROMPT, max_tokens=self.args.max_tokens, concurrency="auto",
            )  # fmt: skip
            outcomes = await results.collect()
            wall = time.monotonic() - start
        summary = results.summary
        print(f"  summary: {summary}; concurrency peak {summary.peak_concurrency}, final "
              f"{summary.final_concurrency}, {summary.pauses} pauses", file=sys.stderr)  # fmt: skip
        lost = len(self.texts) - sum(outcome.ok for outcome in outcomes)
        return self.tally('aextract_many(concurrency="auto")', wall, lost, summary.rate_limited)

    async def loop(self, endpoint: str, size: int) -> Result:
        import instructor_az

        def wait() -> float:
            return self.fresh_window() - time.monotonic()

        loop = gather_loop(instructor_az.from_openai, endpoint, self.texts, size, self.args.max_tokens, wait)
        wall, lost = await loop
        return self.tally(f"instructor-az create, Semaphore({size})", wall, lost)

    def instructor(self, python: Path, endpoint: str, size: int) -> Result | None:
        start = self.fresh_window(lead=5.0)  # the subprocess imports instructor first
        command = [
            str(python), __file__, "--worker", "--endpoint", endpoint, "--semaphore", str(size),
            "--rows", str(self.args.rows), "--max-tokens", str(self.args.max_tokens),
            "--start-at", str(time.time() + start - time.monotonic()),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode:
            print(f"instructor Semaphore({size}) failed:\n{done.stderr[-2000:]}")
            return None
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return self.tally(f"instructor {out['version']} create, Semaphore({size})", out["wall"], out["lost"])

    def run(self) -> list[Result]:
        args, results = self.args, []
        with self.emulator.serve() as endpoint:
            results.append(asyncio.run(self.pipeline(endpoint)))
            loops = [asyncio.run(self.loop(endpoint, size)) for size in LOOP_SIZES]
            results += loops
            python = None if args.no_instructor else _instructor_python(args.instructor_venv)
            if python is not None:
                for size in _instructor_sizes(args.instructor_semaphores, loops):
                    result = self.instructor(python, endpoint, size)
                    if result is not None:
                        results.append(result)
        self.emulator.close()
        return results


def _best_loop(loops: list[Result]) -> Result | None:
    """The fastest loop that lost no row (a loop that dropped rows did not do the job); None if all did."""
    complete = [loop for loop in loops if loop.lost == 0]
    return max(complete, key=Result.rows_per_minute) if complete else None


def _instructor_sizes(option: str, loops: list[Result]) -> list[int]:
    """`--instructor-semaphores`: "best" is the size of our best loop (within 3% of its rows/min, the one
    with the fewest 429s; with every loop losing rows, the one that lost fewest)."""
    if option != "best":
        return [int(size) for size in option.split(",")]
    sized = list(zip(LOOP_SIZES, loops, strict=True))
    best = _best_loop(loops)
    if best is None:
        return [min(sized, key=lambda pair: pair[1].lost)[0]]
    close = [
        (r.rate_limited, n)
        for n, r in sized
        if r.lost == 0 and r.rows_per_minute() >= 0.97 * best.rows_per_minute()
    ]
    return [min(close)[1]]


def report(args: argparse.Namespace, results: list[Result]) -> None:
    rpm, tpm = args.rpm, args.tpm
    ours, loops = results[0], results[1:]
    print(
        f"\n{args.rows} rows; quota {rpm} rpm over {args.rpm_period:g} s windows, {tpm:,} tpm, "
        f"{args.latency_per_100_tokens:g} s / 100 tokens; max_tokens {args.max_tokens}; "
        f"~{ours.tokens_per_row:.0f} tokens reserved per request, so the quota allows "
        f"{ours.quota_rows_per_minute(rpm, tpm):.0f} rows/min\n"
    )
    per_window = max(1, math.floor(rpm * args.rpm_period / 60 + 1e-9))
    ceiling = (math.ceil(args.rows / per_window) - 1) * args.rpm_period
    print(
        f"fixed windows of {per_window} requests: a run that starts on one can end after {ceiling:g} s "
        f"+ the last answer's latency (<= {args.rows * 60 / max(ceiling, 1e-9):.0f} rows/min when RPM binds)\n"
    )
    print("| contender | wall s | rows/min | % of quota | 429s | 429s % of rows | lost rows | requests |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        seen = f" (client saw {r.client_429s})" if r.client_429s is not None else ""
        print(
            f"| {r.name} | {r.wall:.1f} | {r.rows_per_minute():.0f} | {r.quota_share(rpm, tpm):.0%} | "
            f"{r.rate_limited}{seen} | {r.rate_limited / r.rows:.0%} | {r.lost} | {r.requests} |"
        )
    share = ours.quota_share(rpm, tpm)
    checks = [
        (f"ours >= 90% of the quota's rows/min: {share:.0%}", share >= 0.9),
        (f"429s <= 10% of rows: {ours.rate_limited / ours.rows:.0%}", ours.rate_limited <= 0.1 * ours.rows),
        (f"no lost rows: {ours.lost} lost", ours.lost == 0),
    ]
    best = _best_loop(loops)
    if best is not None:
        ahead = ours.rows_per_minute() / best.rows_per_minute()
        level = " (level, within 3%)" if 0.97 <= ahead <= 1.03 else ""
        text = f"ahead of the best loop that lost no row ({best.name}): {ahead:.2f}x its rows/min{level}"
        checks.append((text, ahead > 1.0))
    elif loops:
        checks.append(("ahead of the best loop: every loop lost rows", ours.lost == 0))
    print()
    for text, passed in checks:
        print(f"{'PASS' if passed else 'MISS'}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # fmt: off
    parser.add_argument("--rows", type=int, help="default 200 (60 with --quick)")
    parser.add_argument("--rpm", type=int, help="default 300 (600 with --quick)")
    parser.add_argument("--rpm-period", type=float, help="the RPM window in seconds: default 10 (2 with --quick)")
    parser.add_argument("--tpm", type=int, help="default 150,000 (300,000 with --quick)")
    parser.add_argument("--latency-per-100-tokens", type=float, default=0.05)
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 60 rows, 600 rpm over 2 s windows")
    parser.add_argument("--instructor-semaphores", default="best", help='"best" (our best loop\'s size) or e.g. 8,32,128')
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--semaphore", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    # fmt: on
    args = parser.parse_args()
    quick = {"rows": 60, "rpm": 600, "rpm_period": 2.0, "tpm": 300_000}
    full = {"rows": 200, "rpm": 300, "rpm_period": 10.0, "tpm": 150_000}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.worker:
        instructor_worker(args)
        return
    report(args, Bench(args).run())


if __name__ == "__main__":
    main()
