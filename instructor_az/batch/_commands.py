"""`instructor-az batch submit | status | wait | results | cancel --manifest PATH`: a batch job that
outlives a terminal, one step per command.

```
instructor-az batch submit  --manifest PATH --model MODULE:CLASS --input PATH [--deployment NAME]
                            [--mode ...] [--prompt TEXT] [--id-field id] [--text-field text]
                            [--max-retries N] [--batch-max-lines N] [--reask batch|online|none]
                            [--reask-deployment NAME] [--expires-after SECONDS]
instructor-az batch status  --manifest PATH [--json]
instructor-az batch wait    --manifest PATH [--poll-interval SECONDS] [--no-progress]
instructor-az batch results --manifest PATH --output PATH [--errors PATH] [--resume]
instructor-az batch cancel  --manifest PATH
```

`--manifest` is the job's `manifest.json` or its directory (request and result files live beside
it). `submit` records where the inputs came from (path, sha256, fields, model, mode, re-ask choice),
so the other commands need only the manifest and the connection variables `extract` reads.
Exit status: 0 done / all rows succeeded; 1 a part failed Azure's validation or some rows failed;
2 usage or configuration error; 130 interrupted (the job keeps running on Azure).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from openai import APIError

from .._errors import ConfigurationError
from ..pipeline._cli import (
    DEFAULT_PROMPT,
    EXIT_FAILED_ROWS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    MODES,
    _check_outputs,
    _sigterm_as_interrupt,
    _whole,
    connect,
    load_model,
    response_model,
)
from ..pipeline._sources import open_source
from ._cli import (
    add_job_arguments,
    add_poll_argument,
    check_options,
    create_job,
    describe,
    fingerprint,
    wait_all,
    write_results,
)
from ._job import MANIFEST, BatchJob, BatchJobFailed


def job_folder(path: str) -> Path:
    """The job's directory from `--manifest` (the manifest file or the directory)."""
    given = Path(path)
    if given.suffix == ".json":
        if given.name != MANIFEST:
            raise ConfigurationError(
                f"--manifest {path}: a job's manifest is named {MANIFEST}: pass DIR/{MANIFEST} or DIR"
            )
        return given.parent
    return given


def add_parser(commands: Any) -> None:
    """Register `batch` (and its subcommands) on the `instructor-az` command's subparsers."""
    batch = commands.add_parser(
        "batch",
        help="a Batch API job step by step: submit, status, wait, results, cancel",
        description="Run a batch job one step at a time (see docs/batch.md). Connection: "
        "AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY (else Entra ID), OPENAI_API_VERSION.",
    )
    steps = batch.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = steps.add_parser(name, help=help, description=help)
        parser.add_argument(
            "--manifest", required=True, metavar="PATH", help="the job's manifest.json or directory"
        )
        return parser

    submit = step("submit", "write the request files, upload them and create the batches")
    submit.add_argument("--model", required=True, metavar="MODULE:CLASS", help="the response model")
    submit.add_argument(
        "--input", required=True, metavar="PATH", help="a .jsonl or .csv file, or a directory of .txt files"
    )
    submit.add_argument(
        "--deployment", metavar="NAME", help="the batch deployment (default: $AZURE_OPENAI_DEPLOYMENT)"
    )
    submit.add_argument("--mode", choices=MODES, default="tools", help="default: tools")
    submit.add_argument("--prompt", metavar="TEXT", help="the system instruction (a generic one otherwise)")
    submit.add_argument("--id-field", default="id", metavar="NAME", help="default: id")
    submit.add_argument("--text-field", default="text", metavar="NAME", help="default: text")
    submit.add_argument(
        "--max-retries", type=_whole(0), default=None, metavar="N", help="re-asks per row (default 2)"
    )
    add_job_arguments(submit, _whole)
    submit.set_defaults(run=_submit)

    status = step("status", "poll once: each part's status and request counts")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    status.set_defaults(run=_status)

    wait = step("wait", "poll until the job (and its follow-up rounds) has ended")
    add_poll_argument(wait)
    wait.add_argument("--no-progress", action="store_true", help="no status line per poll")
    wait.set_defaults(run=_wait)

    results = step("results", "write one JSON line per input, as `extract` does")
    results.add_argument("--output", required=True, metavar="PATH", help="the JSONL file results go to")
    results.add_argument("--errors", metavar="PATH", help="where failed rows go (default: --output)")
    results.add_argument("--resume", action="store_true", help="keep the rows already in the output files")
    results.set_defaults(run=_results)

    cancel = step("cancel", "cancel the parts still running (what they finished is kept)")
    cancel.set_defaults(run=_cancel)


# --- the steps ------------------------------------------------------------------------------------------


def _client(deployment: str, mode: str = "tools") -> Any:
    from .. import from_openai

    client, _ = connect(argparse.Namespace(deployment=deployment))
    return from_openai(client, mode=mode)


def _reopen(job: BatchJob) -> tuple[Any, Any, Any]:
    """The job's response model, inputs and client, from what `submit` recorded."""
    info = job.source
    if not info:
        raise ConfigurationError(
            f"{job.manifest}: this job was submitted from Python (no record of its inputs): read it with "
            "BatchJob.load(...).results(...)"
        )
    cwd = str(info.get("cwd", ""))
    if cwd and cwd not in sys.path:
        sys.path.insert(0, cwd)
    model = load_model(str(info["model"]))
    source = open_source(
        str(info["input"]), id_field=str(info["id_field"]), text_field=str(info["text_field"])
    )
    if fingerprint(source.path) != info.get("fingerprint"):
        raise ConfigurationError(
            f"{info['input']} changed since the job was submitted: its results are matched to the inputs it "
            "was submitted with; restore that input (or submit a new job)"
        )
    return model, source, _client(job.model, str(info.get("mode", "tools")))


def _guarded(step: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            with _sigterm_as_interrupt():
                return int(step(args))
        except ConfigurationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print(
                f"interrupted: the batch job keeps running on Azure; `instructor-az batch wait --manifest "
                f"{args.manifest}` goes on",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except BatchJobFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED_ROWS
        except APIError as exc:
            print(f"error: Azure refused the request: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_FAILED_ROWS

    return run


@_guarded
def _submit(args: argparse.Namespace) -> int:
    folder = job_folder(args.manifest)
    if (folder / MANIFEST).exists():
        raise ConfigurationError(f"{folder} already holds a batch job: `batch wait` / `batch status` it")
    check_options(args)
    model = response_model(args.model, args.mode)
    source = open_source(args.input, id_field=args.id_field, text_field=args.text_field)
    from .. import from_openai

    client, deployment = connect(args)
    prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
    job = create_job(args, from_openai(client, mode=args.mode), model, source, deployment, prompt, folder)
    print(describe(job))
    for part in job.parts:
        print(f"  {Path(part.requests).name}: {part.lines} requests, batch {part.batch_id} ({part.status})")
    return EXIT_OK


def _state(job: BatchJob) -> dict[str, Any]:
    parts = [
        {
            "round": p.round,
            "requests": Path(p.requests).name,
            "lines": p.lines,
            "batch_id": p.batch_id,
            "status": p.status,
            "request_counts": p.counts,
            "errors": p.errors,
        }
        for p in job.parts
    ]
    return {"done": job.done, "rounds": job.rounds, "request_counts": job.counts(), "parts": parts}


@_guarded
def _status(args: argparse.Namespace) -> int:
    job = BatchJob.load(job_folder(args.manifest))
    job.refresh(_client(job.model))
    state = _state(job)
    if args.json:
        print(json.dumps(state))
        return EXIT_OK
    counts = state["request_counts"]
    print(
        f"{'ended' if job.done else 'running'}: round {job.rounds}, {counts['completed']} done, "
        f"{counts['failed']} failed of {counts['total']}"
    )
    for part in state["parts"]:
        line = f"  round {part['round']} {part['requests']}: {part['status']} (batch {part['batch_id']})"
        if part["errors"]:
            line += "; " + "; ".join(f"{e.get('code')}: {e.get('message')}" for e in part["errors"][:3])
        print(line)
    return EXIT_OK


@_guarded
def _wait(args: argparse.Namespace) -> int:
    if args.poll_interval <= 0:
        raise ConfigurationError("--poll-interval must be more than 0 seconds")
    job = BatchJob.load(job_folder(args.manifest))
    model, source, client = _reopen(job)
    job.submit(client)  # parts a crash left unsubmitted
    wait_all(job, client, model, source, poll_interval=args.poll_interval, quiet=args.no_progress)
    job.check()  # a part that failed Azure's validation: BatchJobFailed, exit 1
    print(f"ended: {describe(job)}")
    return EXIT_OK


@_guarded
def _results(args: argparse.Namespace) -> int:
    job = BatchJob.load(job_folder(args.manifest))
    if not job.done:
        raise ConfigurationError(
            f"the job has not ended: `instructor-az batch wait --manifest {args.manifest}` first"
        )
    _check_outputs(args)
    model, source, client = _reopen(job)
    return write_results(
        job, client, model, source, output=args.output, errors=args.errors, resume=args.resume
    )


@_guarded
def _cancel(args: argparse.Namespace) -> int:
    job = BatchJob.load(job_folder(args.manifest))
    client = _client(job.model)
    job.cancel(client)
    job.refresh(client)
    print(
        f"cancelled: {', '.join(sorted({str(p.status) for p in job.parts}))}; `batch results` reads what finished"
    )
    return EXIT_OK
