"""The `instructor-az` command: `emulator` serves the Azure OpenAI emulator, `demo` runs an extraction."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _emulator(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from instructor_az.emulator import (
            DEFAULT_API_KEY,
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
        )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
