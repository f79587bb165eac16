"""Failover across two emulated regions: our router against LiteLLM's Router, side by side.

Two emulators are served on loopback in this process, "East US" and "West US", each answering every
request after `--latency` seconds (`Emulator(latency=...)`: the round trip to a region). Every
contender sends the same fixed workload to them: `--calls` chat completions, the i-th started at
`i * --seconds / --calls` seconds into the run by a pool of `--concurrency` asyncio tasks (a task busy
with a slow call leaves the next call to another). During the middle third of the run East US is
down (`Emulator.outage`), in the phases `--outage` lists, each an equal share of it: by default a
503 for every request (after the region's latency), then every connection closed once the request
is read (`drop_connection`: the SDK sees `APIConnectionError`); `refuse` (connections refused at
once) is the third kind. Then East US is healthy again. This process switches the outages at those
offsets of the run's start, which it hands to the contender once the contender has imported, built
its clients and made `--warmup` calls.

Each contender runs in a subprocess, so each has a process and an interpreter lock of its own and
the emulators' servers run in another (as a real region would); the contenders run one after the
other, each on freshly reset emulators (`--rounds N` runs them all N times in turn and pools the
calls):

1. baseline: the raw `AsyncAzureOpenAI` SDK against West US only (never fails): the latency floor;
2. the raw SDK against East US only with its default retries (`max_retries=2`): no router at all
   (`--skip-east` leaves it out);
3. our `AsyncRouter([Target(east), Target(west)], strategy="weighted")`, `router.chat.completions.create`;
4. the same router through `instructor_az.from_openai(router)` with a small `response_model`, and
   its own baseline: `instructor_az.from_openai(West US client)` with the same `response_model`;
5. LiteLLM's `Router` (routing_strategy "simple-shuffle") over the same two regions as two `azure/`
   deployments, run in a scratch virtualenv (`.bench/litellm`, `litellm==1.110.2`, the newest on the
   day, created on first run) that has neither instructor_az nor the emulator: its side only knows
   the endpoints, the key and the api-version. Skipped, saying so, when the venv cannot be made
   (`--skip-litellm`); `--litellm-defaults` adds a LiteLLM Router with nothing set but the strategy.

Reliability settings, the same numbers on both routers where both have them: a region sits out a
`--cooldown` (5 s, LiteLLM's default `cooldown_time`; ours defaults to 10 s) after
`--failures-to-cool` failures (3: our default `failures_to_cool`, LiteLLM's default `allowed_fails`);
LiteLLM retries a failed call `num_retries=2` times (its docstring's default; a retry picks again),
with `enable_weighted_failover=True` (a retryable failure re-picks among the other deployments of the
group before anything else). Ours keeps its other defaults (`max_retries=2` rounds, probation,
doubled cooldowns). Both routers are the only retry loop: ours sends each attempt with
`max_retries=0` on its targets' clients (built as users build them, with the SDK's default 2),
LiteLLM sets `max_retries=0` on its provider calls. Every client has a 30 s timeout.

Measured per contender: success rate (calls that returned a valid answer / calls), failed calls by
error, p50 / p95 / mean latency of the calls that succeeded (from the call's start to its answer),
the same for the calls started in the outage window, added latency against the baseline (ms and
ratio), and the requests each region received, counted server-side (the emulators' records, sampled
every 50 ms to place each in a phase; refused connections from the outage's count): over the run, in
each phase of the outage with how many failed, and how long after the outage East US answered again.

    python benchmarks/bench_router.py                     # 600 calls over 30 s, 8 tasks (about 4 min)
    python benchmarks/bench_router.py --rounds 2 --litellm-defaults        # the README's figures
    python benchmarks/bench_router.py --outage drop,503   # dropped connections first
    python benchmarks/bench_router.py --skip-litellm --calls 300 --seconds 15
    python benchmarks/bench_router.py --json > router.json

Targets: our router answers every call (100%) and adds less latency at p95 than LiteLLM's Router.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPLOYMENT = "gpt-4o"
LITELLM_VERSION = "1.110.2"
REGIONS = (("eastus", "East US"), ("westus", "West US"))
MESSAGES = [{"role": "user", "content": "Name the capital of France and its country: Paris, France."}]
TIMEOUT = 30.0


# --- the contenders' side: runs in a subprocess; imports neither the emulator nor (LiteLLM) instructor_az


def _capital_model() -> Any:
    from pydantic import BaseModel

    class Capital(BaseModel):
        city: str
        country: str

    return Capital


def _sdk_client(endpoint: str, args: argparse.Namespace, max_retries: int) -> Any:
    from openai import AsyncAzureOpenAI

    return AsyncAzureOpenAI(
        azure_endpoint=endpoint, api_key=args.api_key, api_version=args.api_version,
        max_retries=max_retries, timeout=TIMEOUT,
    )  # fmt: skip


def _answered(completion: Any) -> bool:
    content = completion.choices[0].message.content if completion.choices else None
    return isinstance(content, str) and bool(content.strip())


async def _build(args: argparse.Namespace) -> tuple[Callable[[], Awaitable[bool]], dict[str, Any]]:
    """The contender's one call (True: a valid answer) and what to report about its setup."""
    kind = args.worker
    if kind in ("sdk-west", "sdk-east"):
        client = _sdk_client(args.west if kind == "sdk-west" else args.east, args, max_retries=2)

        async def plain() -> bool:
            return _answered(await client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES))

        return plain, {"max_retries": 2}
    if kind in ("ours", "ours-instructor", "instructor-west"):
        import instructor_az

        info: dict[str, Any] = {"instructor_az": instructor_az.__version__}
        if kind == "instructor-west":
            target: Any = _sdk_client(args.west, args, max_retries=2)
            info["max_retries"] = 2
        else:
            from instructor_az.router import AsyncRouter, Target

            settings = {
                "strategy": "weighted",
                "cooldown": args.cooldown,
                "failures_to_cool": args.failures_to_cool,
            }
            target = AsyncRouter(
                [
                    Target(_sdk_client(args.east, args, max_retries=2), name="eastus", model=DEPLOYMENT),
                    Target(_sdk_client(args.west, args, max_retries=2), name="westus", model=DEPLOYMENT),
                ],
                **settings,
            )
            info.update(settings, attempts_sent_with="max_retries=0")
        if kind == "ours":

            async def routed() -> bool:
                return _answered(await target.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES))

            return routed, info
        client = instructor_az.from_openai(target)
        capital = _capital_model()

        async def extracted() -> bool:
            value = await client.chat.completions.create(
                model=DEPLOYMENT, messages=MESSAGES, response_model=capital
            )
            return isinstance(value, capital) and bool(value.city)

        return extracted, info
    if kind in ("litellm", "litellm-defaults"):
        return _litellm(args, defaults=kind == "litellm-defaults")
    raise SystemExit(f"unknown worker {kind!r}")


def _litellm(
    args: argparse.Namespace, *, defaults: bool
) -> tuple[Callable[[], Awaitable[bool]], dict[str, Any]]:
    """LiteLLM's Router over the two regions: with the reliability settings above, or (`defaults`) with
    nothing but the routing strategy, as a user who configures nothing gets it."""
    import importlib.metadata
    import logging

    import litellm  # type: ignore[import-not-found]  # only in the scratch venv
    from litellm import Router  # type: ignore[import-not-found]

    litellm.suppress_debug_info = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    model_list = [
        {
            "model_name": DEPLOYMENT,
            "litellm_params": {
                "model": f"azure/{DEPLOYMENT}",
                "api_base": endpoint,
                "api_key": args.api_key,
                "api_version": args.api_version,
            },
            "model_info": {"id": name},
        }
        for name, endpoint in (("eastus", args.east), ("westus", args.west))
    ]
    settings: dict[str, Any] = {"routing_strategy": "simple-shuffle"}
    if not defaults:
        settings |= {
            "num_retries": 2,
            "allowed_fails": args.failures_to_cool,
            "cooldown_time": args.cooldown,
            "timeout": TIMEOUT,
            "enable_weighted_failover": True,
        }
    router = Router(model_list=model_list, **settings)

    async def call() -> bool:
        return _answered(await router.acompletion(model=DEPLOYMENT, messages=MESSAGES))

    return call, {"litellm": importlib.metadata.version("litellm"), **settings}


async def _workload(args: argparse.Namespace) -> dict[str, Any]:
    call, info = await _build(args)
    for _ in range(args.warmup):  # connections opened, lazy set-up done (failures here do not count)
        with contextlib.suppress(Exception):
            await call()
    print("READY", flush=True)
    start_at = float(sys.stdin.readline())
    start = time.monotonic() + (start_at - time.time())
    spacing = args.seconds / args.calls
    results: list[dict[str, Any]] = [{} for _ in range(args.calls)]
    next_index = 0

    async def task() -> None:
        nonlocal next_index
        while next_index < args.calls:
            index, next_index = next_index, next_index + 1
            await asyncio.sleep(max(start + index * spacing - time.monotonic(), 0.0))
            begin = time.monotonic()
            error = None
            try:
                ok = await call()
                if not ok:
                    error = "invalid answer"
            except Exception as exc:
                ok, error = False, type(exc).__name__
            results[index] = {
                "at": begin - start,
                "latency": time.monotonic() - begin,
                "ok": ok,
                "error": error,
            }

    await asyncio.gather(*(task() for _ in range(args.concurrency)))
    return {"calls": results, "info": info, "wall": time.monotonic() - start}


def worker(args: argparse.Namespace) -> None:
    out = asyncio.run(_workload(args))
    print(json.dumps(out))


# --- the parent: two emulated regions, the outage schedule, every contender in turn ---------------


#: `--outage` phases and the emulator's outage kinds (`Emulator.outage`)
OUTAGE_KINDS = {"503": "server_error", "drop": "drop_connection", "refuse": "refuse"}


class Region:
    """One emulated region: an emulator with a base latency, up or down (`Emulator.outage`)."""

    def __init__(self, name: str, display: str, latency: float) -> None:
        from instructor_az.emulator import Emulator

        self.name, self.display = name, display
        self.emulator = Emulator(region=display, latency=latency, max_recorded=200_000)
        self.outages: dict[str, Any] = {}  # phase -> its Outage (its `failures` count refused ones too)

    def healthy(self) -> None:
        self.emulator.restore()

    def fail(self, phase: str) -> None:
        """Down with `phase`'s failures, replacing the outage running (503: Azure's 503 body after the
        region's latency; drop: the connection closed with no status line; refuse: refused at once)."""
        self.outages[phase] = self.emulator.outage(OUTAGE_KINDS[phase])  # type: ignore[arg-type]

    def reset(self) -> None:
        self.emulator.reset()
        self.outages.clear()

    def marks(self) -> int:
        return len(self.emulator.requests)


def _kind(record: Any) -> str:
    if any(f.kind == "drop_connection" for f in record.faults) or record.status == 0:
        return "dropped"
    if record.status == 200:
        return "ok"
    return "5xx" if record.status >= 500 else str(record.status)


@dataclass
class Traffic:
    """Server-side: the requests one region received, over the run and in each phase of it ("before",
    the outage's phases "503" / "drop", "after"), by what they got ("ok", "5xx", "dropped"); over
    several rounds, their sums (and the median `back_after`)."""

    total: int = 0
    outage: int = 0  # in the 503 and drop phases
    phases: dict[str, dict[str, int]] = field(default_factory=dict)
    back_after: float | None = None  # seconds from the outage's end to the region's first answer
    failures: dict[str, int] = field(default_factory=dict)  # phase -> requests its outage failed
    rounds: list[float | None] = field(default_factory=list)  # back_after of each round

    def add(self, other: Traffic) -> None:
        self.total += other.total
        self.outage += other.outage
        for phase, kinds in other.phases.items():
            mine = self.phases.setdefault(phase, {})
            for kind, count in kinds.items():
                mine[kind] = mine.get(kind, 0) + count
        for phase, count in other.failures.items():
            self.failures[phase] = self.failures.get(phase, 0) + count
        self.rounds.append(other.back_after)
        known = [x for x in self.rounds if x is not None]
        self.back_after = statistics.median(known) if known else None


@dataclass
class Result:
    key: str
    name: str
    calls: list[dict[str, Any]]
    info: dict[str, Any]
    traffic: dict[str, Traffic]
    baseline: str | None = None  # the key of the contender its added latency is measured against

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["ok"]]

    @property
    def success(self) -> float:
        return len(self.ok) / len(self.calls)

    @property
    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls:
            if not call["ok"]:
                counts[call["error"]] = counts.get(call["error"], 0) + 1
        return counts

    def pooled(self) -> Result:
        """A copy whose traffic pools rounds (`merge`)."""
        traffic = {}
        for name, one in self.traffic.items():
            traffic[name] = Traffic()
            traffic[name].add(one)
        return Result(self.key, self.name, list(self.calls), self.info, traffic, self.baseline)

    def merge(self, other: Result) -> None:
        self.calls += other.calls
        for name, one in other.traffic.items():
            self.traffic[name].add(one)

    def latencies(self, window: tuple[float, float] | None = None) -> list[float]:
        return sorted(c["latency"] for c in self.ok if window is None or window[0] <= c["at"] < window[1])


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of sorted `values`, NaN when empty."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": _pct(values, 50),
        "p95": _pct(values, 95),
        "mean": statistics.fmean(values) if values else math.nan,
    }


CONTENDERS = (
    # key, name, baseline key
    ("sdk-west", "raw SDK, West US only (baseline)", None),
    ("sdk-east", "raw SDK, East US only, max_retries=2", "sdk-west"),
    ("ours", "instructor-az AsyncRouter (weighted)", "sdk-west"),
    ("instructor-west", "instructor-az from_openai(West US client), response_model (baseline)", None),
    ("ours-instructor", "instructor-az from_openai(AsyncRouter), response_model", "instructor-west"),
    ("litellm", "LiteLLM Router (simple-shuffle)", "sdk-west"),
    ("litellm-defaults", "LiteLLM Router (simple-shuffle), its defaults", "sdk-west"),
)


def _litellm_python(venv: Path) -> Path | None:
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            print(f"creating {venv} with litellm=={LITELLM_VERSION} (once)...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        check = [
            str(python),
            "-c",
            f"import importlib.metadata as m; assert m.version('litellm') == '{LITELLM_VERSION}'",
        ]
        if subprocess.run(check, capture_output=True).returncode:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"litellm=={LITELLM_VERSION}"], check=True
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"LiteLLM skipped: could not set up {venv} ({exc}); is the network down?", file=sys.stderr)
        return None
    return python


def _ours_available() -> str | None:
    """None when `instructor_az.router` imports with AsyncRouter and Target, else why not."""
    try:
        from instructor_az.router import AsyncRouter, Target  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.regions = {name: Region(name, display, args.latency) for name, display in REGIONS}
        self.commit = _commit()  # at the start: the checkout the contenders import
        third, phases = args.seconds / 3, args.outage
        #: (offset in the run, what East US does from then on): each outage phase gets an equal share
        #: of the middle third
        self.schedule = [(third * (1 + i / len(phases)), phase) for i, phase in enumerate(phases)]
        self.schedule.append((third * 2, "healthy"))
        self.window = (third, third * 2)

    def contender(self, key: str, name: str, python: Path, endpoints: dict[str, str]) -> Result | None:
        from instructor_az.emulator import DEFAULT_API_KEY, LATEST_GA

        args = self.args
        for region in self.regions.values():
            region.reset()
        command = [
            str(python), __file__, "--worker", key, "--east", endpoints["eastus"], "--west", endpoints["westus"],
            "--api-key", DEFAULT_API_KEY, "--api-version", LATEST_GA, "--calls", str(args.calls),
            "--seconds", str(args.seconds), "--concurrency", str(args.concurrency), "--warmup", str(args.warmup),
            "--cooldown", str(args.cooldown), "--failures-to-cool", str(args.failures_to_cool),
        ]  # fmt: skip
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
        print(f"  {name}: starting", file=sys.stderr)
        with tempfile.TemporaryFile("w+") as errors:
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
            )
            assert child.stdin is not None
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "READY":
                child.kill()
                child.wait()
                errors.seek(0)
                print(f"{name} failed before its run:\n{line}{errors.read()[-3000:]}", file=sys.stderr)
                return None
            for region in self.regions.values():
                region.emulator.requests.clear()  # the warm-up calls do not count
            start = time.time() + 0.5
            child.stdin.write(f"{start!r}\n")
            child.stdin.flush()
            samples: list[tuple[float, dict[str, int]]] = []  # (offset in the run, records so far)
            done = threading.Event()

            def sample() -> None:
                samples.append((time.time() - start, {n: r.marks() for n, r in self.regions.items()}))

            def sampler() -> None:
                while not done.wait(0.05):
                    sample()

            thread = threading.Thread(target=sampler, daemon=True)
            thread.start()
            east = self.regions["eastus"]
            for offset, state in self.schedule:
                time.sleep(max(start + offset - time.time(), 0.0))
                sample()
                if state == "healthy":
                    east.healthy()
                else:
                    east.fail(state)
            try:
                out, _ = child.communicate(timeout=args.seconds * 10 + 120)
            finally:
                done.set()
                thread.join()
            sample()
            if child.returncode:
                errors.seek(0)
                print(f"{name} failed:\n{errors.read()[-3000:]}", file=sys.stderr)
                return None
        payload = json.loads(out.strip().splitlines()[-1])
        traffic = {n: self.traffic(n, sorted(samples, key=lambda s: s[0])) for n in self.regions}
        baseline = next(base for k, _, base in CONTENDERS if k == key)
        result = Result(key, name, payload["calls"], payload["info"], traffic, baseline)
        print(
            f"  {name}: {result.success:.1%} answered in {payload['wall']:.1f} s, "
            f"East US {traffic['eastus'].total} / West US {traffic['westus'].total} requests",
            file=sys.stderr,
        )
        return result

    def traffic(self, name: str, samples: list[tuple[float, dict[str, int]]]) -> Traffic:
        """What region `name` received in each phase of the run: each record is given the time of the
        first sample that counted it (samples every 50 ms and at each phase change: the time its
        answer, or its failure, was recorded)."""
        records = list(self.regions[name].emulator.requests)
        times, index = [], 0
        for offset, counts in samples:
            while index < min(counts[name], len(records)):
                times.append(offset)
                index += 1
        times += [samples[-1][0]] * (len(records) - len(times))
        back = self.schedule[-1][0]
        traffic = Traffic(total=len(records))
        for record, at in zip(records, times, strict=True):
            phase = "before"
            for offset, state in self.schedule:
                if at > offset:
                    phase = "after" if state == "healthy" else state
            kinds = traffic.phases.setdefault(phase, {})
            kinds[_kind(record)] = kinds.get(_kind(record), 0) + 1
            if phase == "after" and traffic.back_after is None and _kind(record) == "ok":
                traffic.back_after = at - back
        region = self.regions[name]
        for phase, outage in region.outages.items():
            traffic.failures[phase] = outage.failures
            # a refused connection never reaches the server's records: count it from the outage
            if OUTAGE_KINDS[phase] == "refuse":
                kinds = traffic.phases.setdefault(phase, {})
                kinds["refused"] = kinds.get("refused", 0) + outage.failures
        traffic.outage = sum(sum(traffic.phases.get(p, {}).values()) for p in self.args.outage)
        return traffic

    def wanted(self, key: str, why_not: str | None, litellm: Path | None) -> bool:
        args = self.args
        if args.only and key not in args.only.split(","):
            return False
        if key.startswith("ours") and why_not is not None:
            return False
        if key == "sdk-east" and args.skip_east:
            return False
        if key == "litellm-defaults" and not args.litellm_defaults:
            return False
        return not (key.startswith("litellm") and litellm is None)

    def run(self) -> tuple[list[Result], list[str]]:
        args, results, notes = self.args, [], []
        why_not = _ours_available()
        if why_not is not None:
            notes.append(f"our router skipped: instructor_az.router does not import ({why_not})")
        litellm = None if args.skip_litellm else _litellm_python(args.litellm_venv)
        if litellm is None:
            notes.append("LiteLLM skipped" + (" (--skip-litellm)" if args.skip_litellm else ": no venv"))
        import logging

        # A dropped connection is uvicorn's "ASGI callable returned without completing response" error.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        keys = [key for key, _, _ in CONTENDERS if self.wanted(key, why_not, litellm)]
        pooled: dict[str, Result] = {}
        with contextlib.ExitStack() as stack:
            endpoints = {n: stack.enter_context(r.emulator.serve()) for n, r in self.regions.items()}
            for round_number in range(args.rounds):
                if args.rounds > 1:
                    print(f"round {round_number + 1} of {args.rounds}", file=sys.stderr)
                for key in keys:
                    name = next(n for k, n, _ in CONTENDERS if k == key)
                    python = (
                        litellm if key.startswith("litellm") and litellm is not None else Path(sys.executable)
                    )
                    result = self.contender(key, name, python, endpoints)
                    if result is None:
                        notes.append(f"{name} failed in round {round_number + 1} (its error is above)")
                    elif key in pooled:
                        pooled[key].merge(result)
                    else:
                        pooled[key] = result.pooled()
        results = [pooled[key] for key in keys if key in pooled]
        for region in self.regions.values():
            region.emulator.close()
        return results, notes


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _commit() -> str:
    """The checkout measured: HEAD's short hash, "+changes" when instructor_az/ differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "instructor_az"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" +changes" if dirty else "")


def summarize(
    args: argparse.Namespace, bench: Bench, results: list[Result], notes: list[str]
) -> dict[str, Any]:
    by_key = {r.key: r for r in results}
    rows = []
    for r in results:
        overall, outage = _stats(r.latencies()), _stats(r.latencies(bench.window))
        row: dict[str, Any] = {
            "key": r.key, "name": r.name, "calls": len(r.calls), "answered": len(r.ok),
            "failed": len(r.calls) - len(r.ok), "success": r.success, "errors": r.errors,
            "latency": overall, "outage_latency": outage, "settings": r.info,
            "traffic": {n: vars(t) for n, t in r.traffic.items()},
        }  # fmt: skip
        base = by_key.get(r.baseline) if r.baseline else None
        if base is not None:
            base_overall, base_outage = _stats(base.latencies()), _stats(base.latencies(bench.window))
            row["baseline"] = base.key
            row["added"] = {q: overall[q] - base_overall[q] for q in overall}
            row["ratio"] = {q: overall[q] / base_overall[q] for q in overall}
            row["added_outage"] = {q: outage[q] - base_outage[q] for q in outage}
        rows.append(row)
    window = [round(x, 2) for x in bench.window]
    return {
        "calls": args.calls, "seconds": args.seconds, "concurrency": args.concurrency,
        "latency": args.latency, "outage_window": window,
        "outage": [
            {"phase": phase, "from": round(offset, 2), "to": round(bench.schedule[i + 1][0], 2)}
            for i, (offset, phase) in enumerate(bench.schedule[:-1])
        ],
        "rounds": args.rounds,
        "commit": bench.commit,
        "cooldown": args.cooldown, "failures_to_cool": args.failures_to_cool,
        "contenders": rows, "notes": notes,
    }  # fmt: skip


def report(summary: dict[str, Any]) -> None:
    s = summary
    words = {"503": "503s", "drop": "dropped connections", "refuse": "refused connections"}
    phases = ", then ".join(f"{words[p['phase']]} from {p['from']:g} s" for p in s["outage"])
    rounds = f" ({s['rounds']} rounds, pooled)" if s["rounds"] > 1 else ""
    print(
        f"\n{s['calls']} calls over {s['seconds']:g} s from {s['concurrency']} tasks{rounds}; each region "
        f"answers after {s['latency'] * 1000:.0f} ms; East US fails from {s['outage_window'][0]:g} s to "
        f"{s['outage_window'][1]:g} s: {phases} (instructor-az at {s['commit']})\n"
    )
    print("| contender | answered | failed | success | p50 ms | p95 ms | mean ms | outage p95 ms | "
          "added p50 ms | added p95 ms (ratio) | added mean ms | outage added p95 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in s["contenders"]:
        lat, out = row["latency"], row["outage_latency"]
        added = row.get("added")
        if added:
            ratio, extra = row["ratio"], row["added_outage"]
            tail = (f"{_ms(added['p50'])} | {_ms(added['p95'])} ({ratio['p95']:.2f}x) | {_ms(added['mean'])} | "
                    f"{_ms(extra['p95'])}")  # fmt: skip
        else:
            tail = "- | - | - | -"
        print(
            f"| {row['name']} | {row['answered']} | {row['failed']} | {row['success']:.1%} | {_ms(lat['p50'])} | "
            f"{_ms(lat['p95'])} | {_ms(lat['mean'])} | {_ms(out['p95'])} | {tail} |"
        )
    print("\nRequests each region received (server-side), over the run and during the outage:\n")
    heads = {
        "503": "East US in the 503 phase (503s)",
        "drop": "East US in the drop phase (dropped)",
        "refuse": "East US in the refuse phase (refused)",
    }
    outage = [p["phase"] for p in s["outage"]]
    print(
        "| contender | East US | West US | " + " | ".join(heads[p] for p in outage)
        + " | West US in the outage | East US answering again after |"
    )  # fmt: skip
    print("|---|---|---|" + "---|" * len(outage) + "---|---|")
    for row in s["contenders"]:
        east, west = row["traffic"]["eastus"], row["traffic"]["westus"]
        cells = []
        for phase in outage:
            kinds = east["phases"].get(phase, {})
            failed = {"503": "5xx", "drop": "dropped", "refuse": "refused"}[phase]
            cells.append(f"{sum(kinds.values())} ({kinds.get(failed, 0)})")
        back = east["back_after"]
        print(
            f"| {row['name']} | {east['total']} | {west['total']} | {' | '.join(cells)} | {west['outage']} | "
            f"{'-' if back is None else f'{back:.1f} s'} |"
        )
    errors = [(row["name"], row["errors"]) for row in s["contenders"] if row["errors"]]
    if errors:
        print("\nFailed calls by error:")
        for name, counts in errors:
            print(
                f"  {name}: " + ", ".join(f"{n} {e}" for e, n in sorted(counts.items(), key=lambda x: -x[1]))
            )
    print("\nSettings:")
    for row in s["contenders"]:
        print(f"  {row['name']}: " + ", ".join(f"{k}={v}" for k, v in row["settings"].items()))
    rows = {row["key"]: row for row in s["contenders"]}
    print()
    ours, lite = rows.get("ours"), rows.get("litellm")
    if ours and lite:
        print(
            f"ours vs LiteLLM: success {ours['success']:.1%} vs {lite['success']:.1%}, p95 added latency "
            f"{_ms(ours['added']['p95'])} ms vs {_ms(lite['added']['p95'])} ms (mean {_ms(ours['added']['mean'])} "
            f"vs {_ms(lite['added']['mean'])} ms; in the outage window p95 {_ms(ours['added_outage']['p95'])} vs "
            f"{_ms(lite['added_outage']['p95'])} ms)"
        )
    if rows.get("ours-instructor"):
        row = rows["ours-instructor"]
        print(
            f"ours through from_openai(router), response_model: success {row['success']:.1%}, p95 added "
            f"{_ms(row['added']['p95'])} ms over from_openai(West US client)"
        )
    if rows.get("sdk-east"):
        print(f"no router (raw SDK on East US with its retries): success {rows['sdk-east']['success']:.1%}")
    checks = []
    if ours:
        checks.append((f"our router answers every call: {ours['success']:.1%}", ours["failed"] == 0))
    if ours and rows.get("ours-instructor"):
        row = rows["ours-instructor"]
        checks.append((f"through from_openai(router) too: {row['success']:.1%}", row["failed"] == 0))
    if ours and lite:
        a, b = ours["added"]["p95"], lite["added"]["p95"]
        checks.append((f"p95 added latency below LiteLLM's: {_ms(a)} ms vs {_ms(b)} ms", a < b))
        checks.append((f"success at least LiteLLM's: {ours['success']:.1%} vs {lite['success']:.1%}",
                       ours["success"] >= lite["success"]))  # fmt: skip
    for text, passed in checks:
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    for note in s["notes"]:
        print(f"NOTE  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # fmt: off
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=30.0, help="the run's length; East US fails in its middle third")
    parser.add_argument("--concurrency", type=int, default=8, help="asyncio tasks sending the calls")
    parser.add_argument("--latency", type=float, default=0.08, help="seconds each region takes to answer")
    parser.add_argument("--cooldown", type=float, default=5.0, help="seconds a failing region sits out (both routers)")
    parser.add_argument("--failures-to-cool", type=int, default=3, help="failures before a cooldown (both routers)")
    parser.add_argument("--warmup", type=int, default=4, help="calls each contender makes before the run")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-east", action="store_true", help="skip the raw SDK on East US only")
    parser.add_argument("--litellm-defaults", action="store_true", help="also LiteLLM's Router with only routing_strategy set")
    parser.add_argument("--litellm-venv", type=Path, default=ROOT / ".bench" / "litellm")
    parser.add_argument("--outage", default="503,drop", help="East US's failures in the outage, in order: 503, drop, refuse (default 503,drop)")
    parser.add_argument("--rounds", type=int, default=1, help="run every contender this many times, in turn, and pool the calls")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--only", help="run only these contenders, e.g. sdk-west,litellm (" + ", ".join(k for k, _, _ in CONTENDERS) + ")")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--east", help=argparse.SUPPRESS)
    parser.add_argument("--west", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--api-version", help=argparse.SUPPRESS)
    # fmt: on
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.calls < 1 or args.seconds <= 0 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--calls, --seconds, --concurrency and --rounds must be positive")
    args.outage = [phase.strip() for phase in args.outage.split(",") if phase.strip()]
    if not args.outage or set(args.outage) - set(OUTAGE_KINDS):
        parser.error("--outage takes 503, drop and / or refuse, comma-separated")
    bench = Bench(args)
    results, notes = bench.run()
    summary = summarize(args, bench, results, notes)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        report(summary)


if __name__ == "__main__":
    main()
