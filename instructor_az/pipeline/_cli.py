"""`instructor-az extract`: a corpus through the pipeline, from the shell.

```
instructor-az extract --model MODULE:CLASS --input PATH --output PATH
    [--deployment NAME] [--mode tools|tools_strict|json_schema|json|md_json]
    [--prompt TEXT] [--id-field id] [--text-field text]
    [--concurrency auto|N] [--tpm N] [--max-retries N] [--resume] [--errors PATH] [--no-progress]
```

Exit status: 0 when every row succeeded, 1 when some failed (each one is in the output or errors
file), 2 for a usage or configuration error (nothing is sent), 130 when interrupted (Ctrl-C or
SIGTERM: the rows not written run again with `--resume`). See docs/pipelines.md.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._auth import COGNITIVE_SERVICES_SCOPE
from .._errors import ConfigurationError
from ._progress import Progress, summary_text
from ._sources import InputSource, open_source

EXIT_OK, EXIT_FAILED_ROWS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MODES = ("tools", "tools_strict", "json_schema", "json", "md_json")
DEFAULT_PROMPT = (
    "Extract the requested fields from the user's text. Use only what the text says; "
    "where the text does not give a value, leave it empty if the schema allows."
)
#: The Entra ID scope of Azure OpenAI (Cognitive Services) data-plane tokens.
ENTRA_SCOPE = COGNITIVE_SERVICES_SCOPE


def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number from {minimum} (got {text!r})")
        return value

    return parse


def _concurrency(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        return _whole(1)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number from 1 (got {text!r})") from None


def add_parser(commands: Any) -> None:
    """Register `extract` on the `instructor-az` command's subparsers."""
    extract = commands.add_parser(
        "extract",
        help="extract a response model from every row of a JSONL / CSV file or a folder of .txt files",
        description="Run every input row through the pipeline (paced at the deployment's quota, "
        "resumable) and write one JSON line per row. Connection: AZURE_OPENAI_ENDPOINT, "
        "AZURE_OPENAI_API_KEY (else Entra ID via DefaultAzureCredential, with the 'azure' extra), "
        "OPENAI_API_VERSION, AZURE_OPENAI_DEPLOYMENT. Exit status: 0 all rows succeeded, 1 some "
        "failed, 2 usage or configuration error, 130 interrupted.",
    )
    extract.add_argument("--model", required=True, metavar="MODULE:CLASS", help="the response model")
    extract.add_argument(
        "--input", required=True, metavar="PATH", help="a .jsonl or .csv file, or a directory of .txt files"
    )
    extract.add_argument("--output", required=True, metavar="PATH", help="the JSONL file results go to")
    extract.add_argument("--deployment", metavar="NAME", help="default: $AZURE_OPENAI_DEPLOYMENT")
    extract.add_argument("--mode", choices=MODES, default="tools", help="default: tools")
    extract.add_argument("--prompt", metavar="TEXT", help="the system instruction (a generic one otherwise)")
    extract.add_argument("--id-field", default="id", metavar="NAME", help="default: id")
    extract.add_argument("--text-field", default="text", metavar="NAME", help="default: text")
    extract.add_argument(
        "--concurrency", type=_concurrency, default="auto", metavar="auto|N", help="default: auto"
    )
    extract.add_argument("--tpm", type=_whole(1), metavar="N", help="a cap on tokens per minute")
    extract.add_argument(
        "--max-retries", type=_whole(0), default=None, metavar="N", help="re-asks per row (default 2)"
    )
    extract.add_argument("--resume", action="store_true", help="skip the rows already in the output files")
    extract.add_argument("--errors", metavar="PATH", help="where failed rows go (default: --output)")
    extract.add_argument(
        "--no-progress", action="store_true", help="no live display (the summary still prints)"
    )
    from ..batch._cli import add_arguments

    add_arguments(extract, _whole)
    extract.set_defaults(run=run)


# --- configuration ---------------------------------------------------------------------------------


def load_model(spec: str) -> Any:
    """`MODULE:CLASS` imported from the current directory or `PYTHONPATH` (CLASS may be dotted)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(f"--model {spec!r}: expected MODULE:CLASS, for example models:Invoice")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"--model {spec!r}: no module {exc.name!r} (run from the directory that holds it, or add "
            "that directory to PYTHONPATH)"
        ) from None
    except Exception as exc:
        raise ConfigurationError(
            f"--model {spec!r}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ConfigurationError(f"--model {spec!r}: {module_name} has no {attribute!r}")
        value = getattr(value, part)
    return value


def _token_provider() -> Callable[[], str]:
    """Entra ID through azure-identity's DefaultAzureCredential, checked with one token now (so a
    machine without credentials stops here, before any row)."""
    from .._auth import build_credential, wrap_provider

    try:
        credential = build_credential("default", {}, asynchronous=False)
    except ConfigurationError:  # no azure-identity
        raise ConfigurationError(
            "no credentials: set AZURE_OPENAI_API_KEY, or install instructor-az[azure] to sign in with "
            "Entra ID (DefaultAzureCredential)"
        ) from None
    from azure.identity import get_bearer_token_provider

    quiet = logging.getLogger("azure.identity")  # its own multi-line warning would repeat ours
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        credential.get_token(ENTRA_SCOPE)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(
            "no credentials: AZURE_OPENAI_API_KEY is not set and Entra ID sign-in failed "
            f"(DefaultAzureCredential: {first[:300]}); set the key, or sign in (az login, a managed "
            "identity, or AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET)"
        ) from None
    finally:
        quiet.setLevel(level)
    return wrap_provider("default", get_bearer_token_provider(credential, ENTRA_SCOPE))


def connect(args: argparse.Namespace) -> tuple[Any, str]:
    """The SDK client and the deployment, from the environment and `--deployment`. The client is built
    as `from_azure` builds it (`OPENAI_API_VERSION`: a dated api-version, checked, or `v1` for the v1
    API), signed in with `AZURE_OPENAI_API_KEY`, else `AZURE_OPENAI_AD_TOKEN`, else Entra ID
    (DefaultAzureCredential, checked with one token now). No deployment is pinned in its URL: every
    request names its own, and the files and batches routes stay reachable."""
    from .._azure import api_version_of, sdk_client

    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
    if not endpoint:
        raise ConfigurationError(
            "AZURE_OPENAI_ENDPOINT is not set: export it (https://<resource>.openai.azure.com)"
        )
    deployment = args.deployment or os.environ.get("AZURE_OPENAI_DEPLOYMENT", "").strip()
    if not deployment:
        raise ConfigurationError("no deployment: pass --deployment NAME or set AZURE_OPENAI_DEPLOYMENT")
    version = api_version_of(None)
    credentials: dict[str, Any]
    key = os.environ.get("AZURE_OPENAI_API_KEY", "").strip()
    token = os.environ.get("AZURE_OPENAI_AD_TOKEN", "").strip()
    if key:
        credentials = {"api_key": key}
    elif token:
        credentials = {"azure_ad_token": token}
    else:
        credentials = {"azure_ad_token_provider": _token_provider()}
    return sdk_client(endpoint, version, credentials, False, None, {}), deployment


def _check_outputs(args: argparse.Namespace) -> None:
    for flag, path in (("--output", args.output), ("--errors", args.errors)):
        if path is None:
            continue
        file = Path(path)
        if file.is_dir():
            raise ConfigurationError(f"{flag} {path}: is a directory (expected a file path)")
        if not file.parent.is_dir():
            raise ConfigurationError(f"{flag} {path}: the directory {file.parent} does not exist")
        if not args.resume and file.exists() and file.stat().st_size > 0:
            raise ConfigurationError(
                f"{flag} {path}: already holds results; pass --resume to continue that run, or remove "
                "the file to start again"
            )
        if file.exists() and not os.access(file, os.W_OK):
            raise ConfigurationError(f"{flag} {path}: not writable")


# --- the run -----------------------------------------------------------------------------------------


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does (gracefully), in the main thread only."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def response_model(spec: str, mode: str) -> Any:
    """`--model`, imported and checked as a response model in `--mode` (before anything is sent)."""
    model = load_model(spec)
    from .._mode import Mode
    from .._plan import compile_plan

    try:
        compile_plan(model, Mode(mode))
    except Exception as exc:
        raise ConfigurationError(f"--model {spec!r}: not a response model ({exc})") from None
    return model


def _prepare(args: argparse.Namespace) -> tuple[Any, InputSource, Any, str]:
    model = response_model(args.model, args.mode)
    source = open_source(args.input, id_field=args.id_field, text_field=args.text_field)
    _check_outputs(args)
    client, deployment = connect(args)
    return model, source, client, deployment


def run(args: argparse.Namespace) -> int:
    from .. import from_openai
    from . import extract_many

    err = sys.stderr
    try:
        model, source, client, deployment = _prepare(args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    if source.ignored:
        print(
            f"note: {len(source.ignored)} entries of {source.path} are not .txt files and are not read: "
            f"{', '.join(source.ignored[:5])}{' ...' if len(source.ignored) > 5 else ''}",
            file=err,
        )
    prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
    if args.batch:
        from ..batch._cli import run_batch

        return run_batch(args, from_openai(client, mode=args.mode), model, source, deployment, prompt)
    options: dict[str, Any] = {}
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    results = extract_many(
        from_openai(client, mode=args.mode),
        source,
        response_model=model,
        model=deployment,
        prompt=prompt,
        concurrency=args.concurrency,
        tokens_per_minute=args.tpm,
        output=args.output,
        errors=args.errors,
        resume=args.resume,
        **options,
    )
    summary = results.summary
    interrupted = False
    show = not args.no_progress and err.isatty()
    try:
        with _sigterm_as_interrupt(), Progress(summary, source.rows, enabled=show, stream=err) as progress:
            try:
                for _outcome in results:
                    progress.update()
            except KeyboardInterrupt:
                interrupted = True
    except OSError as exc:  # the output file could not be written
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    print(summary_text(summary, total=source.rows))
    if interrupted or summary.interrupted:
        left = source.rows - summary.succeeded - summary.failed - summary.skipped
        print(
            f"interrupted: {left} rows not done; run the same command with --resume to finish them", file=err
        )
        return EXIT_INTERRUPTED
    return EXIT_FAILED_ROWS if summary.failed or summary.skipped_failed else EXIT_OK
