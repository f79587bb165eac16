"""`instructor-az extract ... --batch`: the same rows, output and exit statuses as the online run,
through Azure's Batch API. The job's directory (`OUTPUT.batch/`, its manifest and files) sits next to
the output file; `--resume` picks a job up from it (after Ctrl-C, a crash, a closed terminal) without
submitting anything again. The steps (submit, wait with follow-up rounds, write the results) are
shared with `instructor-az batch ...` (`_commands`)."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ..pipeline._checkpoint import Checkpoint
from ..pipeline._cli import EXIT_FAILED_ROWS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _sigterm_as_interrupt
from ..pipeline._progress import summary_text
from ..pipeline._rows import id_key, invalid_key
from ..pipeline._summary import Summary
from ._job import MANIFEST, BatchJob, BatchJobFailed, new_job
from ._lines import MAX_BYTES, MAX_LINES

REASK = ("batch", "online", "none")
DEFAULT_MAX_RETRIES = 2


def add_job_arguments(parser: argparse.ArgumentParser, whole: Any) -> None:
    """The flags that shape a batch job (on `extract --batch` and `batch submit`)."""
    parser.add_argument(
        "--batch-max-lines",
        type=whole(1),
        default=MAX_LINES,
        metavar="N",
        help=f"requests per batch file (default and at most Azure's {MAX_LINES})",
    )
    parser.add_argument(
        "--reask",
        choices=REASK,
        default="batch",
        help="rows whose answer failed validation: re-asked in a follow-up batch (default), online "
        "(needs --reask-deployment), or not at all",
    )
    parser.add_argument("--reask-deployment", metavar="NAME", help="the online deployment for --reask online")
    parser.add_argument(
        "--expires-after",
        type=whole(1),
        metavar="SECONDS",
        help="expiry of the uploaded request files (Azure: 1209600 to 2592000)",
    )


def add_poll_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between polls (default 60)",
    )


def add_arguments(extract: argparse.ArgumentParser, whole: Any) -> None:
    """`--batch` and its flags on `instructor-az extract`."""
    extract.add_argument(
        "--batch", action="store_true", help="run through Azure's Batch API (see docs/batch.md)"
    )
    add_job_arguments(extract, whole)
    add_poll_argument(extract)


def job_directory(output: str) -> Path:
    path = Path(output)
    return path.with_name(path.name + ".batch")


# --- the steps, shared with `instructor-az batch` ----------------------------------------------------


def fingerprint(path: str | os.PathLike[str]) -> str:
    """sha256 of the input (a file, or a directory's .txt files by name), read in blocks."""
    digest = hashlib.sha256()
    root = Path(path)
    files = sorted(root.glob("*.txt")) if root.is_dir() else [root]
    for file in files:
        if root.is_dir():
            digest.update(file.name.encode() + b"\0")
        with file.open("rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_options(args: argparse.Namespace) -> None:
    if args.batch_max_lines > MAX_LINES:
        raise ConfigurationError(f"--batch-max-lines is at most {MAX_LINES} (Azure's limit per file)")
    if getattr(args, "poll_interval", 1.0) <= 0:
        raise ConfigurationError("--poll-interval must be more than 0 seconds")
    if args.reask == "online" and not args.reask_deployment:
        raise ConfigurationError(
            "--reask online needs --reask-deployment NAME: an online (Standard / GlobalStandard) "
            "deployment, since Azure's batch deployments serve batch jobs only"
        )
    expires = args.expires_after
    if expires is not None and not 1_209_600 <= expires <= 2_592_000:
        raise ConfigurationError(
            "--expires-after is from 1209600 (14 days) to 2592000 (30 days) seconds, Azure's range"
        )


def create_job(
    args: argparse.Namespace,
    wrapped: Any,
    model: Any,
    source: Any,
    deployment: str,
    prompt: str,
    folder: Path,
) -> BatchJob:
    """Write the request files and the manifest (with where the inputs came from), then submit."""
    max_retries = args.max_retries if args.max_retries is not None else DEFAULT_MAX_RETRIES
    job = new_job(
        wrapped, source, folder, response_model=model, model=deployment, prompt=prompt,
        max_lines=args.batch_max_lines, max_bytes=MAX_BYTES, url=None,
        expires_after=args.expires_after, options={},
    )  # fmt: skip
    job.source = {
        "input": str(Path(args.input).resolve()),
        "fingerprint": fingerprint(args.input),
        "id_field": args.id_field,
        "text_field": args.text_field,
        "model": args.model,
        "mode": args.mode,
        "cwd": os.getcwd(),
        "reask": args.reask,
        "reask_deployment": args.reask_deployment,
        "max_retries": max_retries,
    }
    job.save()
    job.submit(wrapped)
    return job


def describe(job: BatchJob) -> str:
    return (
        f"batch job: {len(job.round_parts(1))} file(s), {sum(p.lines for p in job.round_parts(1))} requests"
        + (f", {job.rounds - 1} follow-up round(s)" if job.rounds > 1 else "")
        + f"; manifest {job.manifest}"
    )


def wait_all(
    job: BatchJob, wrapped: Any, model: Any, source: Any, *, poll_interval: float, quiet: bool
) -> None:
    """Wait for the job; with `reask: batch`, submit follow-up rounds until no row can go on."""
    err = sys.stderr
    info = job.source or {}

    def progress(current: BatchJob) -> None:
        if not quiet:
            counts = current.counts()
            states = ", ".join(sorted({str(p.status) for p in current.parts}))
            print(
                f"  round {current.rounds}: {states}: {counts['completed']} done, {counts['failed']} failed "
                f"of {counts['total']}",
                file=err,
            )

    job.wait(wrapped, poll_interval=poll_interval, on_progress=progress)
    while info.get("reask", "none") == "batch" and not job.failed_validation():
        sent = job.reask_batch(wrapped, source, response_model=model, max_retries=int(info["max_retries"]))
        if not sent:
            return
        print(f"follow-up round {job.rounds}: {sent} rows re-asked or retried", file=err)
        job.wait(wrapped, poll_interval=poll_interval, on_progress=progress)


def write_results(
    job: BatchJob,
    wrapped: Any,
    model: Any,
    source: Any,
    *,
    output: str,
    errors: str | None,
    resume: bool,
) -> int:
    """The job's outcomes into the output (and errors) file, the summary on stdout; the exit status."""
    info = job.source or {}
    reask = info.get("reask", "none")
    summary = Summary()
    max_retries = int(info.get("max_retries", DEFAULT_MAX_RETRIES))
    try:
        if reask == "online":  # the engine writes the files (and skips what they hold on --resume)
            outcomes = job.results(
                wrapped, source, response_model=model, reask="online", max_retries=max_retries,
                reask_model=info.get("reask_deployment"), output=output, errors=errors, resume=resume,
            )  # fmt: skip
            for outcome in outcomes:
                summary.add(outcome)
        else:
            with Checkpoint(output, resume=resume, errors=errors) as checkpoint:
                done = checkpoint.done
                for outcome in job.results(wrapped, source, response_model=model, max_retries=max_retries):
                    key = invalid_key(getattr(outcome.error, "line", None), outcome.index)
                    if outcome.id is not None:
                        key = id_key(outcome.id)
                    if key in done:
                        summary.skipped += 1
                        summary.skipped_failed += not done[key]
                        continue
                    checkpoint.write(outcome)
                    summary.add(outcome)
    except BatchJobFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED_ROWS
    summary.requests = sum(p.lines for p in job.parts) + summary.requests
    print(summary_text(summary, total=source.rows))
    return EXIT_FAILED_ROWS if summary.failed or summary.skipped_failed else EXIT_OK


# --- extract --batch -----------------------------------------------------------------------------------


def run_batch(
    args: argparse.Namespace, wrapped: Any, model: Any, source: Any, deployment: str, prompt: str
) -> int:
    err = sys.stderr
    folder = job_directory(args.output)
    try:
        check_options(args)
        if (folder / MANIFEST).exists():
            if not args.resume:
                raise ConfigurationError(
                    f"a batch job for {args.output} is in {folder}: pass --resume to wait for it and write "
                    "its results, or remove that directory to submit again"
                )
            job = BatchJob.load(folder)
            job.submit(wrapped)  # parts a crash left unsubmitted; the others are only polled
        else:
            job = create_job(args, wrapped, model, source, deployment, prompt, folder)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except BatchJobFailed as exc:  # Azure refused the job at create
        print(f"error: {exc}", file=err)
        return EXIT_FAILED_ROWS
    print(describe(job), file=err)
    try:
        with _sigterm_as_interrupt():
            wait_all(job, wrapped, model, source, poll_interval=args.poll_interval, quiet=args.no_progress)
    except BatchJobFailed as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED_ROWS
    except KeyboardInterrupt:
        print(
            f"interrupted: the batch job keeps running on Azure; run the same command with --resume to wait "
            f"for it (manifest {job.manifest})",
            file=err,
        )
        return EXIT_INTERRUPTED
    # The output is written whole from the job's files (a resumed run rewrites it, nothing is lost):
    # only online re-asks, which cost requests, skip what an interrupted results step already wrote.
    online = (job.source or {}).get("reask") == "online"
    return write_results(
        job, wrapped, model, source, output=args.output, errors=args.errors, resume=args.resume and online
    )
