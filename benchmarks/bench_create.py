"""create(response_model=User) against the raw SDK doing the same work, and against instructor.

Both sides call the same in-process emulator (scripted: a fixed answer, so the emulator costs as
little as possible and the ratio shows the library's own overhead). The raw side sends the same
tools / tool_choice and validates with `User.model_validate_json`; ours is
`client.chat.completions.create(response_model=User)`. Then the same script runs inside a scratch
virtualenv with `instructor==1.17.0` and prints instructor's ratio over the raw SDK in that venv.

How it times: the contenders take turns of 20 calls (in an order shuffled anew every turn) and every
call is timed alone; a round reports the 0.25 quantile of each contender's calls (`--quantile`), and
the figures are the median over rounds. On a shared machine a call is either uncontended or held up
2x to 5x by the other load, and the median of a round's calls sits at that knee; the lower quantile
is the uncontended cost, and taking turns puts the load on every contender alike.

Telemetry (issue 17), in the same turns: our call with telemetry off (the default: no OpenTelemetry
SDK tracer provider is set, so no observer is made), after `instructor_az.telemetry.disable()`, and
on: `instructor_az.telemetry.enable(tracer_provider=..., meter_provider=...)` with an SDK
`TracerProvider` exporting to an `InMemorySpanExporter` through a `SimpleSpanProcessor`, then through
a `BatchSpanProcessor` (its `force_flush` after each turn is timed and shared among the turn's calls,
so its export thread's work is counted), and a `MeterProvider` with an `InMemoryMetricReader`; the
exporter is cleared after every turn. Ratios are per round (each variant over the untraced call and
over the raw SDK of that round), median [min-max] over rounds. Then the observer alone (its steps
for a one-attempt call, no SDK or emulator) is timed per set-up. `--before REV` also times the call
as it was at REV (`git archive` of `instructor_az` into a temporary directory, run in a subprocess),
for off against before telemetry. `--profile-telemetry` shows where "on" spends its time.

    python benchmarks/bench_create.py                 # creates .bench/instructor-1.17 on first run
    python benchmarks/bench_create.py --calls 3000 --no-instructor
    python benchmarks/bench_create.py --no-instructor --before 59b53db
    python benchmarks/bench_create.py --profile-telemetry --calls 2000   # where "on" spends its time

Targets: ours / raw <= 1.10; telemetry off adds nothing measurable (off / disable(), and off / before
telemetry, at most 1.03: within noise; off's own work, timed alone, <= 1% of a call); telemetry on
<= 1.15x the untraced call.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

TARGET = 1.10  #: ours / raw SDK
ON_TARGET = 1.15  #: telemetry on / the untraced call
NOISE = 0.03  #: off / disable() and off / before telemetry: at most 1.00 + this (noise)
CLOCKS = ("wall", "cpu")
OFF_SHARE = 0.01  #: telemetry off's own work (timed alone) over disabled: at most this share of a call
#: the observer set-ups `_observer_costs` times (key -> label)
OBSERVER_SETUPS = {
    "off": "off (no tracer provider)",
    "disabled": "telemetry.disable()",
    "spans": "spans, no processor; no metrics",
    "spans_metrics": "spans, no processor; metrics",
    "simple_nometrics": "spans, SimpleSpanProcessor; no metrics",
    "simple": "spans, SimpleSpanProcessor; metrics (benchmarked)",
    "batch": "spans, BatchSpanProcessor (+ flush); metrics (benchmarked)",
}


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


def _emulator() -> Any:
    from instructor_az.emulator import Emulator  # here: `--source` may point the import elsewhere

    emulator = Emulator(backend="scripted", max_recorded=16)
    emulator.scripted.on(lambda request: True, {"name": "John", "age": 30})
    return emulator


@dataclass
class Variant:
    """One contender of the rounds: its call (sync and async) and what switches it on for its turns."""

    name: str
    label: str
    call: Callable[[], Any]
    acall: Callable[[], Awaitable[Any]]
    setup: Callable[[], None] | None = None  #: before each turn, untimed (switches telemetry)
    finish: Callable[[], None] | None = None  #: at the end of each turn, timed (a batch processor's flush)
    after: Callable[[], None] | None = None  #: after each turn, untimed (clears the exporter)


BLOCK = 20  #: calls a variant makes in a row before the next variant's turn
#: the per-call time a round reports: this quantile of its calls (`--quantile`). Not the median: on a
#: shared machine a call is either uncontended or held up (2x to 5x), and the median sits at the knee
QUANTILE = 0.25


def _block(variant: Variant, calls: int, is_async: bool, samples: dict[str, list[float]]) -> Any:
    """One turn of `variant`: switch it on, one untimed call (a provider switched to makes its tracer
    then), then `calls` calls each timed alone (wall clock and process CPU: every thread's, the
    emulator's and a batch processor's export thread included), its `finish` (a flush) timed and
    shared among them. Appends seconds per call to `samples`; a coroutine when `is_async`."""

    def record(walls: list[float], cpus: list[float], finish_wall: float, finish_cpu: float) -> None:
        samples["wall"] += [w + finish_wall / calls for w in walls]
        samples["cpu"] += [c + finish_cpu / calls for c in cpus]
        if variant.after is not None:
            variant.after()

    def finish() -> tuple[float, float]:
        if variant.finish is None:
            return 0.0, 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        variant.finish()
        return time.perf_counter() - wall, time.process_time() - cpu

    if variant.setup is not None:
        variant.setup()
    if is_async:

        async def run() -> None:
            await variant.acall()
            walls, cpus = [], []
            for _ in range(calls):
                wall, cpu = time.perf_counter(), time.process_time()
                await variant.acall()
                cpus.append(time.process_time() - cpu)
                walls.append(time.perf_counter() - wall)
            record(walls, cpus, *finish())

        return run()
    variant.call()
    walls, cpus = [], []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        variant.call()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    record(walls, cpus, *finish())
    return None


def _interleaved(
    variants: list[Variant], calls: int, rounds: int, is_async: bool
) -> dict[str, dict[str, list[float]]]:
    """Per clock ("wall", "cpu"), per variant, the `QUANTILE` of the seconds its calls took in each round. The
    variants take turns of `BLOCK` calls (in an order shuffled anew for every turn) and every call is
    timed alone, so the machine's other load falls on all of them alike, and a call it held up is
    an outlier the quantile leaves out. Warmed up first."""
    shuffle = random.Random(17).shuffle

    async def turns_async(turns: list[tuple[Variant, dict[str, list[float]]]]) -> None:
        for variant, samples in turns:
            await _block(variant, BLOCK, True, samples)

    def run(turns: list[tuple[Variant, dict[str, list[float]]]]) -> None:
        if is_async:
            asyncio.run(turns_async(turns))
        else:
            for variant, samples in turns:
                _block(variant, BLOCK, False, samples)

    run([(v, {"wall": [], "cpu": []}) for v in variants for _ in range(max(1, min(200, calls) // BLOCK))])
    times: dict[str, dict[str, list[float]]] = {clock: {v.name: [] for v in variants} for clock in CLOCKS}
    for _ in range(rounds):
        samples = {v.name: {"wall": [], "cpu": []} for v in variants}
        turns = []
        for _ in range(max(1, calls // BLOCK)):
            order = list(variants)
            shuffle(order)
            turns += [(v, samples[v.name]) for v in order]
        gc.collect()
        run(turns)
        for name, per_clock in samples.items():
            for clock, values in per_clock.items():
                times[clock][name].append(_quantile(values, QUANTILE))
    return times


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _telemetry_variants(
    wrapped: Any, async_wrapped: Any, breakdown: bool = False
) -> tuple[list[Variant], Callable[[], None]]:
    """Our call with telemetry off (the default), disabled, and on (Simple / Batch span processors,
    in-memory metrics); with `breakdown`, also on with parts left out (no span processor, no metrics);
    and a function that puts telemetry back as it was found (off)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from instructor_az import telemetry

    def lib_call() -> User:
        return wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES, response_model=User)

    async def lib_async_call() -> User:
        return await async_wrapped.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, response_model=User
        )

    def on(name: str, label: str, processor: type | None, with_metrics: bool = True) -> Variant:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        if processor is not None:
            tracer_provider.add_span_processor(processor(exporter))
        reader = InMemoryMetricReader()
        # Without one, the global meter provider is asked: none is set, so no metrics are recorded.
        meter_provider = MeterProvider(metric_readers=[reader]) if with_metrics else None

        def setup() -> None:
            telemetry.enable(tracer_provider=tracer_provider, meter_provider=meter_provider)

        def flush() -> None:
            tracer_provider.force_flush()

        def after() -> None:
            exporter.clear()
            telemetry.enable()  # back to off (no global provider is set)

        # Once: a call is traced (its call span and one attempt span) and measured.
        setup()
        lib_call()
        flush()
        if processor is not None:
            spans = sorted(span.name for span in exporter.get_finished_spans())
            assert spans == ["chat gpt-4o", "create User"], spans
        if with_metrics:
            names = {
                metric.name
                for resource in reader.get_metrics_data().resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            }
            assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= names, names
        after()
        # The batch processor's flush is timed: its export thread's work belongs to its calls.
        return Variant(
            name,
            label,
            lib_call,
            lib_async_call,
            setup,
            flush if processor is BatchSpanProcessor else None,
            after,
        )

    def off_checked() -> None:
        telemetry.enable()
        assert _observer(telemetry) is None, "telemetry should be off: no tracer provider is set"

    def disabled() -> None:
        telemetry.disable()
        assert _observer(telemetry) is None

    variants = [
        Variant("off", "off (no tracer provider: the default)", lib_call, lib_async_call, setup=off_checked),
        Variant(
            "disabled", "telemetry.disable()", lib_call, lib_async_call, disabled, after=telemetry.enable
        ),
    ]
    if breakdown:
        variants += [
            on("spans", "on: spans, no processor; no metrics", None, with_metrics=False),
            on("spans_metrics", "on: spans, no processor; metrics", None),
            on(
                "simple_nometrics",
                "on: SimpleSpanProcessor; no metrics",
                SimpleSpanProcessor,
                with_metrics=False,
            ),
        ]
    variants += [
        on("simple", "on: SimpleSpanProcessor + metrics", SimpleSpanProcessor),
        on("batch", "on: BatchSpanProcessor + metrics", BatchSpanProcessor),
    ]
    return variants, telemetry.enable


def _observer(telemetry: Any) -> Any:
    return telemetry.observer_for(
        response_model="User", mode="tools", api="chat", model="gpt-4o", client=None, stream=None
    )


def measure(
    library: str, calls: int, rounds: int, with_telemetry: bool = False, clock: str = "wall"
) -> dict[str, Any]:
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
        return await async_wrapped.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, response_model=User
        )

    assert raw_call().model_dump() == lib_call().model_dump() == {"name": "John", "age": 30}
    variants = [Variant("raw", "raw SDK", raw_call, raw_async_call)]
    restore: Callable[[], None] | None = None
    if with_telemetry:
        more, restore = _telemetry_variants(wrapped, async_wrapped)
        variants += more
        lib = "off"
    else:
        variants.append(Variant("lib", library, lib_call, lib_async_call))
        lib = "lib"
    try:
        sync_all = _interleaved(variants, calls, rounds, is_async=False)
        async_all = _interleaved(variants, calls // 2, rounds, is_async=True)
    finally:
        if restore is not None:
            restore()
        emulator.close()
    sync_times, async_times = sync_all[clock], async_all[clock]
    return {
        "library": library,
        "version": _version(library),
        "clock": clock,
        "sync_raw_us": statistics.median(sync_times["raw"]) * 1e6,
        "sync_lib_us": statistics.median(sync_times[lib]) * 1e6,
        "async_raw_us": statistics.median(async_times["raw"]) * 1e6,
        "async_lib_us": statistics.median(async_times[lib]) * 1e6,
        "labels": {v.name: v.label for v in variants},
        "sync": sync_times,
        "async": async_times,
        "sync_all": sync_all,
        "async_all": async_all,
    }


def _ratios(times: dict[str, list[float]], name: str, over: str) -> tuple[float, float, float]:
    """`name` over `over`, round by round: the median, the least and the most."""
    ratios = [a / b for a, b in zip(times[name], times[over], strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def _fmt(ratio: tuple[float, float, float]) -> str:
    return f"{ratio[0]:.2f}x [{ratio[1]:.2f}-{ratio[2]:.2f}]"


def _fastest(times: dict[str, list[float]], name: str, over: str) -> float:
    """`name` over `over`, the fastest round of each (the least disturbed by the machine's other load)."""
    return min(times[name]) / min(times[over])


def print_telemetry(
    result: dict[str, Any], before: dict[str, Any] | None, costs: dict[str, float]
) -> list[tuple[bool, str]]:
    """The telemetry table; the verdicts (passed, text)."""
    print()
    print(
        f"telemetry: our create(response_model=User), {result['clock']} us/call (median over rounds); "
        "ratios round by round, median [min-max] over rounds"
    )
    header = f"{'':<40}{'sync us':>9}{'/ untraced':>20}{'/ raw SDK':>20}   {'async us':>9}{'/ untraced':>20}{'/ raw SDK':>20}"
    print(header)
    for name, label in result["labels"].items():
        cells = []
        for kind in ("sync", "async"):
            times = result[kind]
            us = statistics.median(times[name]) * 1e6
            if name == "raw":
                cells.append(f"{us:>9.1f}{'':>20}{'':>20}")
            else:
                cells.append(
                    f"{us:>9.1f}{_fmt(_ratios(times, name, 'off')):>20}{_fmt(_ratios(times, name, 'raw')):>20}"
                )
        print(f"{label:<40}{cells[0]}   {cells[1]}")
    call_us = statistics.median(result["sync"]["off"]) * 1e6
    print(
        "the observer alone (observer_for and the steps of a one-attempt call, no SDK or emulator; fastest run), "
        "us/call and its share of the untraced sync call:"
    )
    for key, label in OBSERVER_SETUPS.items():
        if key in costs:
            print(f"    {label:<52}{costs[key]:>8.1f} us  {costs[key] / call_us:>6.1%}")

    verdicts: list[tuple[bool, str]] = []
    ratio = {kind: _ratios(result[kind], "off", "disabled") for kind in ("sync", "async")}
    verdicts.append((
        all(r[0] <= 1 + NOISE for r in ratio.values()),
        f"telemetry off adds nothing measurable: off / disable() sync {_fmt(ratio['sync'])}, async "
        f"{_fmt(ratio['async'])} (median <= {1 + NOISE:.2f}: within noise)",
    ))  # fmt: skip
    if "off" in costs and "disabled" in costs:
        added = costs["off"] - costs["disabled"]
        verdicts.append((
            added / call_us <= OFF_SHARE,
            f"telemetry off's own work: {costs['off']:.1f} us a call ({costs['disabled']:.1f} us disabled), "
            f"{costs['off'] / call_us:.2%} of the untraced call (<= {OFF_SHARE:.0%} over disabled)",
        ))  # fmt: skip
    if before is not None:
        parts, ok = [], True
        for kind in ("sync", "async"):
            ours = _ratios(result[kind], "off", "raw")[0]
            theirs = _ratios(before[kind], "lib", "raw")[0]
            ok = ok and ours / theirs <= 1 + NOISE
            parts.append(f"{kind} {ours:.2f}x / {theirs:.2f}x = {ours / theirs:.2f}")
        verdicts.append((
            ok,
            f"telemetry off against before telemetry ({before['rev']}), each over its own raw SDK "
            "(round by round, median): " + ", ".join(parts) + f" (<= {1 + NOISE:.2f}: within noise; separate processes)",
        ))  # fmt: skip
    for name in ("simple", "batch"):
        sync, asyn = _ratios(result["sync"], name, "off"), _ratios(result["async"], name, "off")
        verdicts.append((
            sync[0] <= ON_TARGET and asyn[0] <= ON_TARGET,
            f"telemetry on ({result['labels'][name].removeprefix('on: ')}) <= {ON_TARGET:.2f}x the untraced "
            f"call: sync {_fmt(sync)}, async {_fmt(asyn)} (fastest rounds {_fastest(result['sync'], name, 'off'):.2f}x"
            f" / {_fastest(result['async'], name, 'off'):.2f}x)",
        ))  # fmt: skip
    return verdicts


def _best_us(
    fn: Callable[[], Any], number: int, repeat: int, after: Callable[[], None] | None = None
) -> float:
    """Microseconds per call of `fn`, the fastest of `repeat` runs of `number` (`after` timed too)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if after is not None:
            after()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def _observer_costs(number: int, repeat: int, only: tuple[str, ...] | None = None) -> dict[str, float]:
    """What one call's observer costs, without the SDK or the emulator: `observer_for` and every step
    a successful one-attempt call tells it (attempt_started, headers, sent, answered, succeeded,
    ended), on a real completion and real Azure headers, per telemetry set-up; microseconds a call."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from instructor_az import telemetry
    from instructor_az._errors import Usage

    emulator = _emulator()
    client = emulator.client()
    request = {"model": "gpt-4o", "messages": MESSAGES, "tools": TOOLS, "tool_choice": TOOL_CHOICE}
    raw = client.chat.completions.with_raw_response.create(**request)
    headers, completion = raw.headers, raw.parse()
    emulator.close()
    usage = Usage.reported(completion, request)

    def lifecycle() -> None:
        observer = telemetry.observer_for(
            response_model="User", mode="tools", api="chat", model="gpt-4o", client=client, stream=None
        )
        if observer is None:
            return
        observer.attempt_started(request)
        observer.headers(headers)
        observer.sent()
        observer.answered(completion, usage)
        observer.succeeded()
        observer.ended(None, usage, 1)

    exporter = InMemorySpanExporter()

    def tracer_provider(processor: type | None) -> Any:
        provider = TracerProvider()
        if processor is not None:
            provider.add_span_processor(processor(exporter))
        return provider

    def meter_provider() -> Any:
        return MeterProvider(metric_readers=[InMemoryMetricReader()])

    setups: dict[str, tuple[Callable[[], Any], bool]] = {
        "off": (telemetry.enable, False),
        "disabled": (telemetry.disable, False),
        "spans": (lambda: telemetry.enable(tracer_provider=tracer_provider(None)), False),
        "spans_metrics": (
            lambda: telemetry.enable(tracer_provider=tracer_provider(None), meter_provider=meter_provider()),
            False,
        ),
        "simple_nometrics": (
            lambda: telemetry.enable(tracer_provider=tracer_provider(SimpleSpanProcessor)),
            False,
        ),
        "simple": (
            lambda: telemetry.enable(
                tracer_provider=tracer_provider(SimpleSpanProcessor), meter_provider=meter_provider()
            ),
            False,
        ),
        "batch": (
            lambda: telemetry.enable(
                tracer_provider=tracer_provider(BatchSpanProcessor), meter_provider=meter_provider()
            ),
            True,
        ),
    }
    costs = {}
    try:
        for key, (setup, flush) in setups.items():
            if only is not None and key not in only:
                continue
            setup()
            provider = telemetry._state["tracer_provider"]

            def after(provider: Any = provider, flush: bool = flush) -> None:
                if flush:
                    provider.force_flush()
                exporter.clear()

            lifecycle()
            costs[key] = _best_us(lifecycle, number, repeat, after)
    finally:
        telemetry.enable()
    return costs


def _group(path: str) -> str:
    for needle, name in (
        ("instructor_az/telemetry", "instructor_az.telemetry"),
        ("opentelemetry/sdk/trace", "opentelemetry-sdk trace (spans, processor, exporter)"),
        ("opentelemetry/sdk/metrics", "opentelemetry-sdk metrics"),
        ("opentelemetry/attributes", "opentelemetry attributes (BoundedAttributes, cleaning)"),
        ("opentelemetry/sdk", "opentelemetry-sdk other"),
        ("opentelemetry", "opentelemetry-api (context, trace)"),
        ("openai/_legacy_response", "openai _legacy_response (with_raw_response)"),
        ("openai/_response", "openai _response (the plain create's)"),
    ):
        if needle in path:
            return name
    return "everything else (SDK, httpx, emulator, instructor_az, pydantic)"


#: profile_telemetry's in-place steps: each variant over the one it adds to
STEPS = {
    "raw_response": "raw",
    "off": "raw",
    "disabled": "off",
    "spans": "off",
    "spans_metrics": "spans",
    "simple_nometrics": "spans",
    "simple": "off",
}


def _in_place(variants: dict[str, Variant], calls: int) -> None:
    """The observer's steps timed where they run, inside real calls (each step's function wrapped with
    a timer for the while: about a microsecond of its own per step), mean us a call."""
    from openai import _legacy_response

    import instructor_az._client as client_module
    from instructor_az.telemetry import _observer

    spent: dict[str, float] = {}
    originals: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        originals.append((owner, name, original))
        setattr(owner, name, wrapper)

    timed(client_module, "observer_for", "observer_for")
    for step in ("attempt_started", "headers", "sent", "answered", "succeeded", "ended"):
        timed(_observer.CallObserver, step, step)
    timed(_legacy_response.LegacyAPIResponse, "parse", "(with_raw_response's parse)")
    print(
        f"\n(2b) the observer's steps in place (inside real sync calls, {calls} each; each step wrapped with a "
        "timer), mean us/call, then the call's 0.25 quantile:"
    )
    try:
        for name in ("off", "spans", "simple"):
            variant = variants[name]
            if variant.setup is not None:
                variant.setup()
            for _ in range(BLOCK):
                variant.call()
            spent.clear()
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                variant.call()
                times.append(time.perf_counter() - start)
            if variant.after is not None:
                variant.after()
            steps = {k: v / calls * 1e6 for k, v in spent.items()}
            observer = sum(v for k, v in steps.items() if not k.startswith("("))
            print(
                f"    {variant.label:<40} observer {observer:>5.0f} us: "
                + ", ".join(f"{k} {v:.0f}" for k, v in steps.items())
                + f"; call {_quantile(times, 0.25) * 1e6:.0f} us"
            )
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def profile_telemetry(calls: int, top: int, clock: str = "wall") -> None:
    """Where "on" spends its time. (1) The observer's own cost per set-up, timed without the SDK or the
    emulator. (2) The raw SDK's `with_raw_response` (which "on" goes through) against its plain
    `create`, and our call off against on with parts left out, taking turns; (2b) the observer's steps
    timed in place. (3) cProfile of `calls` traced calls
    (SimpleSpanProcessor + metrics) against as many untraced ones, grouped by package, and the
    functions of opentelemetry / instructor_az.telemetry the traced calls spend most time in."""
    import cProfile
    import pstats

    print("(1) the observer of one call (observer_for + the steps of a one-attempt call), no SDK / emulator;")
    print("    fastest of 25 runs of 200, us/call:")
    costs = _observer_costs(200, 25)
    for key, us in costs.items():
        print(f"    {OBSERVER_SETUPS[key]:<58}{us:>8.1f}")

    emulator = _emulator()
    import instructor_az

    raw = emulator.client()

    def raw_call() -> User:
        completion = raw.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice=TOOL_CHOICE
        )
        return User.model_validate_json(completion.choices[0].message.tool_calls[0].function.arguments)

    def raw_response_call() -> User:
        response = raw.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice=TOOL_CHOICE
        )
        response.headers.get("x-ms-region")
        completion = response.parse()
        return User.model_validate_json(completion.choices[0].message.tool_calls[0].function.arguments)

    async def unused() -> None:
        raise NotImplementedError

    wrapped = instructor_az.from_openai(emulator.client())
    variants, restore = _telemetry_variants(wrapped, instructor_az.from_openai(emulator.async_client()), True)
    by_name = {v.name: v for v in variants}
    off, simple = by_name["off"], by_name["simple"]
    rounds, per_round = 5, max(BLOCK, calls // 2)
    try:
        contenders = [
            Variant("raw", "raw SDK create", raw_call, unused),
            Variant("raw_response", "raw SDK with_raw_response.create + parse", raw_response_call, unused),
            *(v for v in variants if v.name != "batch"),
        ]
        times = _interleaved(contenders, per_round, rounds, is_async=False)
        print(
            f"\n(2) in place: sync calls, {rounds} rounds of {per_round}, taking turns; {clock} clock, the "
            f"{QUANTILE:.2f} quantile of a round's calls (median over rounds), and ratios round by round"
        )
        labels = {v.name: v.label for v in contenders}
        for variant in contenders:
            name = variant.name
            us = statistics.median(times[clock][name]) * 1e6
            over = STEPS.get(name)
            step = f"{_fmt(_ratios(times[clock], name, over))} over {labels[over]}" if over else ""
            print(f"    {variant.label:<44}{us:>8.0f} us  {step}")

        _in_place(by_name, max(BLOCK, calls // 4))

        stats = {}
        for variant in (off, simple):
            assert variant.setup is not None
            variant.setup()
            profiler = cProfile.Profile()
            gc.collect()
            profiler.enable()
            for _ in range(calls):
                variant.call()
            profiler.disable()
            if variant.after is not None:
                variant.after()
            stats[variant.name] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    finally:
        restore()
        emulator.close()

    print(f"\n(3) cProfile, {calls} sync calls each (the profiler's overhead inflates small functions most)")
    groups: dict[str, dict[str, float]] = {}
    for name, table in stats.items():
        for (path, _line, _func), (_cc, _n, tottime, _cum, _callers) in table.items():
            group = groups.setdefault(_group(path), {"off": 0.0, "simple": 0.0})
            group[name] += tottime / calls * 1e6
    total = {name: sum(g[name] for g in groups.values()) for name in ("off", "simple")}
    print(f"    {'own time (tottime), us/call':<66}{'off':>9}{'on':>9}{'on - off':>10}")
    for group, t in sorted(groups.items(), key=lambda item: -(item[1]["simple"] - item[1]["off"])):
        print(f"    {group:<66}{t['off']:>9.0f}{t['simple']:>9.0f}{t['simple'] - t['off']:>+10.0f}")
    print(
        f"    {'total':<66}{total['off']:>9.0f}{total['simple']:>9.0f}{total['simple'] - total['off']:>+10.0f}"
    )
    rows = []
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats["simple"].items():
        if "opentelemetry" in path or "instructor_az/telemetry" in path or "_legacy_response" in path:
            short = path.split("site-packages/")[-1].split("instructor_az/")[-1]
            rows.append((tottime, cumtime, ncalls, f"{short}:{line}({func})"))
    print(f"\n    {'tottime us/call':>16}{'cumtime us/call':>16}{'calls/call':>11}  function (on)")
    for tottime, cumtime, ncalls, name in sorted(rows, reverse=True)[:top]:
        print(
            f"    {tottime / calls * 1e6:>16.1f}{cumtime / calls * 1e6:>16.1f}{ncalls / calls:>11.1f}  {name}"
        )
    print("    by cumulative time (what each step costs, its callees included):")
    for tottime, cumtime, ncalls, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(
            f"    {tottime / calls * 1e6:>16.1f}{cumtime / calls * 1e6:>16.1f}{ncalls / calls:>11.1f}  {name}"
        )


def _version(library: str) -> str:
    from importlib.metadata import version

    return version("instructor-az" if library == "instructor-az" else "instructor")


def _instructor_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} with instructor==1.17.0 (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "instructor==1.17.0",
                "starlette",
                "uvicorn",
                "jsonschema",
            ],
            check=True,
        )
    # The in-process emulator also needs PyJWT (the emulator extra); venvs made before it lack it.
    if subprocess.run([str(python), "-c", "import jwt"], capture_output=True).returncode != 0:
        print(f"adding PyJWT[crypto] to {path} (the emulator needs it; once)...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "PyJWT[crypto]>=2.8"], check=True)
    return python


def _run_json(python: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [python, __file__, "--json", *args], check=True, capture_output=True, text=True, env=env
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _before(rev: str, common: list[str]) -> dict[str, Any]:
    """The call as it was at `rev`: its `instructor_az` in a temporary directory, timed in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="bench-create-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "instructor_az"], check=True, capture_output=True
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        result = _run_json(sys.executable, ["--source", tmp, "--no-telemetry", *common])
    result["rev"] = rev
    return result


def main() -> None:
    global QUANTILE
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--library", default="instructor-az", choices=["instructor-az", "instructor"])
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line (used for the instructor run)"
    )
    parser.add_argument("--no-instructor", action="store_true")
    parser.add_argument("--instructor-venv", type=Path, default=ROOT / ".bench" / "instructor-1.17")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="what each call is timed by: wall clock (the default) or process CPU",
    )
    parser.add_argument(
        "--quantile",
        type=float,
        default=QUANTILE,
        help=f"the quantile of a round's calls it reports (default {QUANTILE}; 0.5: the median)",
    )
    parser.add_argument("--no-telemetry", action="store_true", help="skip the telemetry off / on variants")
    parser.add_argument("--before", metavar="REV", help="also time the call as it was at REV (e.g. 59b53db)")
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)  # import instructor_az from here
    parser.add_argument(
        "--profile-telemetry", action="store_true", help="cProfile traced against untraced calls"
    )
    args = parser.parse_args()
    QUANTILE = args.quantile
    if args.source is not None:
        sys.path.insert(0, str(args.source))
    if args.profile_telemetry:
        profile_telemetry(args.calls, 25, args.clock)
        return

    common = ["--calls", str(args.calls), "--rounds", str(args.rounds), "--clock", args.clock]
    common += ["--quantile", str(args.quantile)]
    with_telemetry = args.library == "instructor-az" and not args.no_telemetry
    result = measure(args.library, args.calls, args.rounds, with_telemetry, args.clock)
    if args.json:
        print(json.dumps(result))
        return
    rows = [result]
    before = None
    if args.before:
        before = _before(args.before, common)
        before["version"] = f"@{args.before}"
        rows.append(before)
    if not args.no_instructor:
        python = _instructor_venv(args.instructor_venv)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        rows.append(_run_json(
            str(python), ["--library", "instructor", *common], env
        ))  # fmt: skip

    print(
        f"create(response_model=User), in-process emulator, {args.calls} calls x {args.rounds} rounds; {args.clock} "
        f"clock, the {args.quantile:.2f} quantile of a round's calls, median over rounds"
    )
    print(
        f"{'library':<24}{'raw SDK us':>12}{'library us':>12}{'ratio':>8}   {'async raw':>10}{'async lib':>10}{'ratio':>8}"
    )
    for row in rows:
        name = f"{row['library']} {row['version']}"
        print(
            f"{name:<24}{row['sync_raw_us']:>12.1f}{row['sync_lib_us']:>12.1f}"
            f"{row['sync_lib_us'] / row['sync_raw_us']:>7.2f}x   "
            f"{row['async_raw_us']:>10.1f}{row['async_lib_us']:>10.1f}{row['async_lib_us'] / row['async_raw_us']:>7.2f}x"
        )
    sync, asyn = (result[f"{k}_lib_us"] / result[f"{k}_raw_us"] for k in ("sync", "async"))
    verdicts = [(sync <= TARGET and asyn <= TARGET,
                 f"instructor-az / raw SDK <= {TARGET:.2f}x: sync {sync:.2f}x, async {asyn:.2f}x")]  # fmt: skip
    if with_telemetry:
        costs = _observer_costs(200, 25, only=("off", "disabled", "simple", "batch"))
        verdicts += print_telemetry(result, before, costs)
    print()
    for passed, text in verdicts:
        print(f"{'PASS' if passed else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
