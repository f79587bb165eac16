"""`instructor-az extract ... --batch`: the same rows, output and exit statuses as the online run,
through Azure's Batch API. The job's directory (`OUTPUT.batch/`, its manifest and files) sits next to
the output file; `--resume` picks a job up from it (after Ctrl-C, a crash, a closed terminal) without
submitting anything again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ..pipeline._checkpoint import Checkpoint
from ..pipeline._cli import EXIT_FAILED_ROWS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ..pipeline._progress import summary_text
from ..pipeline._summary import Summary
from ._job import MANIFEST, BatchJob, BatchJobFailed, submit_batch
from ._lines import MAX_LINES


def add_arguments(extract: argparse.ArgumentParser, whole: Any) -> None:
    """`--batch`, `--batch-max-lines N`, `--poll-interval SECONDS` on `instructor-az extract`."""
    extract.add_argument(
        "--batch", action="store_true", help="run through Azure's Batch API (see docs/batch.md)"
    )
    extract.add_argument(
        "--batch-max-lines",
        type=whole(1),
        default=MAX_LINES,
        metavar="N",
        help=f"requests per batch file (default and at most Azure's {MAX_LINES})",
    )
    extract.add_argument(
        "--poll-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between polls (default 60)",
    )


def job_directory(output: str) -> Path:
    path = Path(output)
    return path.with_name(path.name + ".batch")


def run_batch(
    args: argparse.Namespace, wrapped: Any, model: Any, source: Any, deployment: str, prompt: str
) -> int:
    err = sys.stderr
    if args.batch_max_lines > MAX_LINES:
        print(f"error: --batch-max-lines is at most {MAX_LINES} (Azure's limit per file)", file=err)
        return EXIT_USAGE
    if args.poll_interval <= 0:
        print("error: --poll-interval must be more than 0 seconds", file=err)
        return EXIT_USAGE
    folder = job_directory(args.output)
    try:
        if (folder / MANIFEST).exists():
            if not args.resume:
                raise ConfigurationError(
                    f"a batch job for {args.output} is in {folder}: pass --resume to wait for it and write "
                    "its results, or remove that directory to submit again"
                )
            job = BatchJob.load(folder)
            job.submit(wrapped)  # parts a crash left unsubmitted; the others are only polled
        else:
            job = submit_batch(
                wrapped, source, folder, response_model=model, model=deployment, prompt=prompt,
                max_lines=args.batch_max_lines,
            )  # fmt: skip
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    print(
        f"batch job: {len(job.parts)} file(s), {sum(p.lines for p in job.parts)} requests; manifest {job.manifest}",
        file=err,
    )

    def progress(current: BatchJob) -> None:
        if not args.no_progress:
            counts = current.counts()
            states = ", ".join(sorted({str(p.status) for p in current.parts}))
            print(
                f"  {states}: {counts['completed']} done, {counts['failed']} failed of {counts['total']}",
                file=err,
            )

    try:
        job.wait(wrapped, poll_interval=args.poll_interval, on_progress=progress)
    except KeyboardInterrupt:
        print(
            f"interrupted: the batch job keeps running on Azure; run the same command with --resume to wait "
            f"for it (manifest {job.manifest})",
            file=err,
        )
        return EXIT_INTERRUPTED
    summary = Summary()
    try:
        with Checkpoint(args.output, resume=False, errors=args.errors) as checkpoint:
            for outcome in job.results(wrapped, source, response_model=model):
                checkpoint.write(outcome)
                summary.add(outcome)
    except BatchJobFailed as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED_ROWS
    summary.requests = sum(p.lines for p in job.parts)
    print(summary_text(summary, total=source.rows))
    return EXIT_FAILED_ROWS if summary.failed else EXIT_OK
