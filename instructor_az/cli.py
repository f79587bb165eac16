"""The `instructor-az` command (also `python -m instructor_az`): `emulator` serves the Azure OpenAI
emulator, `demo` runs an extraction, `extract` runs a corpus through the pipeline
(`instructor_az.pipeline._cli`), `batch` steps a Batch API job (`instructor_az.batch._commands`),
`--version` prints the installed version."""

from __future__ import annotations

import argparse
import importlib.metadata
import ipaddress
import sys
from collections.abc import Sequence
from typing import Any


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _version() -> str:
    try:
        return importlib.metadata.version("instructor-az")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown (not installed)"


def _fault_times(text: str) -> int | None:
    """`--fault-times`: a whole number of requests from 1, or `always`."""
    if text.strip().lower() == "always":
        return None
    try:
        times = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1, or 'always' (got {text!r})"
        ) from None
    if times < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, or 'always' (got {times})")
    return times


def _injections(args: argparse.Namespace, emulator: Any) -> list[Any]:
    """The `--fault` options as injections; a bad one raises ValueError naming it."""
    from instructor_az.emulator._fault_queue import parse_injections

    out = []
    for spec in args.fault or []:
        try:
            injections = parse_injections(spec, times=args.fault_times)
            for injection in injections:
                if injection.deployment is not None:
                    emulator.deployment(injection.deployment)
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) else exc
            raise ValueError(f"--fault {spec!r}: {message}") from None
        out.extend(injections)
    return out


def _quotas(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """`--rpm`, `--tpm`, `--latency-per-100-tokens`, `--rpm-period` (all deployments) and `--quota
    NAME=RPM:TPM` (one deployment, the same latency and period) as `Emulator(quotas=...)`; a bad one
    raises ValueError naming it."""
    from instructor_az.emulator import Quota

    shared: dict[str, Any] = {"seconds_per_100_tokens": args.latency_per_100_tokens}
    if args.rpm_period is not None:
        shared["rpm_period"] = args.rpm_period
    default = Quota(rpm=args.rpm, tpm=args.tpm, **shared)
    quotas = {}
    for spec in args.quota or []:
        name, sep, limits = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"--quota {spec!r}: expected DEPLOYMENT=RPM:TPM, e.g. gpt-4o=60:10000")
        try:
            quotas[name] = Quota.parse(limits, **shared)
        except ValueError as exc:
            raise ValueError(f"--quota {spec!r}: {exc}") from None
    return default, quotas


def _emulator(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from instructor_az.emulator import (
            DEFAULT_API_KEY,
            DEFAULT_MAX_BODY_BYTES,
            LATEST_GA,
            BackendError,
            Deployment,
            Emulator,
            LocalBackend,
            LocalModelUnavailableError,
        )
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    deployments = None
    if args.deployment:
        deployments = []
        for spec in args.deployment:
            name, _, model = spec.partition("=")
            deployments.append(Deployment(name, model or name))
    try:
        backend = args.backend
        if backend == "local":
            backend = LocalBackend()
            print("loading the local model...", flush=True)
            print(f"  loaded in {backend.load():.1f}s", flush=True)
        emulator = Emulator(
            api_keys=args.api_key or [DEFAULT_API_KEY],
            backend=backend,
            deployments=deployments,
            chunk_chars=args.chunk_chars,
            max_body_bytes=DEFAULT_MAX_BODY_BYTES if args.max_body_bytes is None else args.max_body_bytes,
        )
        default_quota, quotas = _quotas(args)
        emulator.quotas.set(default_quota)
        for name, quota in quotas.items():
            if name not in emulator.deployments:
                raise ValueError(
                    f"--quota {name}=...: no deployment {name!r} (have {', '.join(sorted(emulator.deployments))})"
                )
            emulator.quotas.set(quota, deployment=name)
        injections = _injections(args, emulator)
    except (LocalModelUnavailableError, BackendError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(
            f"warning: serving on {args.host}, not loopback: anyone who can reach this machine can use it",
            file=sys.stderr,
        )
    endpoint = f"http://{args.host}:{args.port}"
    print(f"Azure OpenAI emulator ({args.backend} backend) on {endpoint}")
    print(f"  AZURE_OPENAI_ENDPOINT={endpoint}")
    print(f"  AZURE_OPENAI_API_KEY={emulator.api_keys[0]}")
    print(f"  OPENAI_API_VERSION={LATEST_GA}")
    print(f"  deployments: {', '.join(sorted(emulator.deployments))}")
    print(f"  v1 routes:   OpenAI(base_url='{endpoint}/openai/v1/', api_key=...)")
    print(f"  control API: {endpoint}/_emulator/ (same api-key; see docs/emulator.md)")
    for name, quota in [("all deployments", emulator.quotas.default), *emulator.quotas.configured().items()]:
        if quota.rpm is not None or quota.tpm is not None or quota.seconds_per_100_tokens:
            print(
                f"  quota:       {name}: rpm={quota.rpm} tpm={quota.tpm} "
                f"seconds_per_100_tokens={quota.seconds_per_100_tokens}"
            )
    for injection in injections:
        emulator.inject(injection.fault, deployment=injection.deployment, times=injection.times)
        times = "every request" if injection.times is None else f"{injection.times} request(s)"
        where = f" on {injection.deployment}" if injection.deployment else ""
        print(f"  fault:       {injection.fault.spec} for {times}{where}")
    sys.stdout.flush()
    uvicorn.run(emulator.app, host=args.host, port=args.port, log_level=args.log_level, lifespan="off")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from instructor_az._demo import run_demo

    return run_demo(backend=args.backend)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="instructor-az", description="Validated, typed data from Azure OpenAI, and an offline emulator."
    )
    parser.add_argument("--version", action="version", version=f"instructor-az {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="serve the Azure OpenAI emulator over HTTP")
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback)"
    )
    emulator.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    emulator.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="an accepted API key (repeatable; default: emulator-key)",
    )
    emulator.add_argument(
        "--backend",
        choices=["schema", "scripted", "local"],
        default="schema",
        help="what writes answers: schema (deterministic values), scripted, local (a real small model)",
    )
    emulator.add_argument(
        "--deployment",
        action="append",
        metavar="NAME[=MODEL]",
        help="a deployment to serve (repeatable; replaces the defaults)",
    )
    emulator.add_argument("--chunk-chars", type=int, default=8, help="characters per streamed delta")
    emulator.add_argument(
        "--fault",
        action="append",
        metavar="SPEC",
        help="inject a fault at startup, in the x-emulator-fault header's syntax, optionally with "
        'times=N and deployment=NAME, e.g. "rate_limit; retry_after_ms=10" (repeatable; queued in order)',
    )
    emulator.add_argument(
        "--fault-times",
        type=_fault_times,
        default=1,
        metavar="N",
        help="requests each --fault fires on, unless its spec says times=N (default 1; 'always': until "
        "cleared through the control API)",
    )
    emulator.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        metavar="N",
        help="the largest request body accepted; larger ones get a 413 (default 32 MiB)",
    )
    emulator.add_argument(
        "--rpm", type=int, default=None, metavar="N", help="requests per minute, every deployment"
    )
    emulator.add_argument(
        "--tpm", type=int, default=None, metavar="N", help="tokens per minute, every deployment"
    )
    emulator.add_argument(
        "--quota",
        action="append",
        metavar="DEPLOYMENT=RPM:TPM",
        help="one deployment's limits, e.g. gpt-4o=60:10000 (either may be empty; repeatable; overrides --rpm/--tpm)",
    )
    emulator.add_argument(
        "--latency-per-100-tokens",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds added per 100 completion tokens, streamed or not (default 0)",
    )
    emulator.add_argument(
        "--rpm-period",
        type=float,
        default=None,
        metavar="S",
        help="seconds over which RPM is evaluated (default 10, as Azure: a period admits RPM*S/60)",
    )
    emulator.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    emulator.set_defaults(run=_emulator)

    demo = commands.add_parser("demo", help="run an extraction against the in-process emulator")
    demo.add_argument(
        "--backend",
        choices=["auto", "local", "schema"],
        default="auto",
        help="the emulator's backend (default auto: the local model when the 'local' extra is installed)",
    )
    demo.set_defaults(run=_demo)

    from instructor_az.pipeline._cli import add_parser as add_extract

    add_extract(commands)
    from instructor_az.batch._commands import add_parser as add_batch

    add_batch(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
