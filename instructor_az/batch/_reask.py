"""Reading a job's results, and the rows that failed validation re-asked: online or as a batch.

Either way a row goes on from the protocol state its batch answers left (`_results.replay`): its
conversation already holds the rejected answer and the validation errors, so the next request is the
re-ask an online call would send.

- `reask="online"`: the pipeline engine (`pipeline._engine.Engine`, with a `start` that hands it
  each row's state) runs those rows through the normal re-ask loop, paced at the quota of an online
  deployment (`reask_model`: Azure's batch deployments serve batch jobs only); the other rows pass
  through as they are.
- `follow_up` (`BatchJob.reask_batch`): the same next requests written as a new round of request
  files and submitted as batches, at batch prices; reading replays every round.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import telemetry
from .._errors import ConfigurationError
from .._run import retrying_for
from ..pipeline._engine import Engine, _wrap
from ..pipeline._rows import Outcome, Row
from ._lines import LineWriter, line_kwargs
from ._results import Round, Rounds, Settled, replay, settled_rows

if TYPE_CHECKING:
    from ._job import BatchJob, Part

REASK_CHOICES = ("none", "online")
#: The pipeline options `results(reask="online")` passes to the engine.
PIPELINE_OPTIONS = frozenset(
    {
        "concurrency", "max_concurrency", "tokens_per_minute", "transport_retries", "retry_backoff",
        "ordered", "output", "errors", "resume",
    }
)  # fmt: skip


def _check_retries(max_retries: int) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(
            f"max_retries must be a whole number >= 0 (re-asks per row, over every round), got {max_retries!r}"
        )


def _rounds(job: BatchJob) -> list[Round]:
    def files(parts: list[Part], key: str) -> list[str | None]:
        return [getattr(part, key) for part in parts]

    out: list[Round] = []
    for number in range(1, job.rounds + 1):
        parts = job.round_parts(number)
        out.append((files(parts, "output"), files(parts, "error_output")))
    return out


def _ready(job: BatchJob, client: Any) -> None:
    from ._lines import RESPONSES_URL, is_responses

    job.check()
    if (job.url == RESPONSES_URL) != is_responses(client):
        what = "client.responses, or a Responses mode" if job.url == RESPONSES_URL else "chat completions"
        raise ConfigurationError(
            f"this job's lines are {job.url}: read its results with the client that wrote them ({what})"
        )
    if not job.done:
        raise ConfigurationError(
            "the batch job has not ended yet: wait() for it (or cancel() it) before reading its results"
        )


def _needs_more(settled: Settled) -> bool:
    return settled.reask or settled.retry


def _remaining(settled: Settled, max_retries: int) -> int:
    """Attempts a row has left: re-asks count answers that failed validation; a line that failed in
    transit spent a request, not an attempt."""
    return max_retries + 1 - len(settled.state.attempts)


# --- reading, with or without online re-asks ---------------------------------------------------------


def _online_engine(
    job: BatchJob,
    client: Any,
    inputs: Iterable[Any],
    rounds: Rounds,
    *,
    response_model: Any,
    reask_model: str | None,
    max_retries: int,
    pipeline: Mapping[str, Any],
) -> Engine:
    if not reask_model:
        raise ConfigurationError(
            'reask="online" needs reask_model=: an online (Standard / GlobalStandard) deployment; Azure\'s '
            "batch deployments serve batch jobs only"
        )
    unknown = set(pipeline) - PIPELINE_OPTIONS
    if unknown:
        raise ConfigurationError(
            f"results() takes these pipeline options for online re-asks: {', '.join(sorted(PIPELINE_OPTIONS))}; "
            f"not {', '.join(sorted(unknown))}"
        )
    wrapped = _wrap(client)
    kwargs = line_kwargs(wrapped, {**job.options, "model": job.model})

    def start(row: Row) -> Outcome | tuple[Any, Any, int]:
        state = wrapped._attempts(
            response_model, {**kwargs, "messages": row.messages}, None, None, observe=False
        )
        settled = replay(row, state, rounds)
        left = _remaining(settled, max_retries)
        if not _needs_more(settled) or left <= 0:
            return settled.outcome()
        state.request = {**state.request, "model": reask_model}
        state.observer = wrapped._observer(state.plan, state.request, None)  # it goes on online: traced
        return state, retrying_for(left - 1), settled.requests

    return Engine(
        client, inputs, response_model=response_model, prompt=job.prompt, start=start,
        max_retries=max_retries, **pipeline,
    )  # fmt: skip


def results(
    job: BatchJob,
    client: Any,
    inputs: Iterable[Any],
    *,
    response_model: Any,
    reask: str,
    reask_model: str | None,
    max_retries: int,
    pipeline: Mapping[str, Any],
) -> Iterator[Outcome]:
    if reask not in REASK_CHOICES:
        raise ConfigurationError(
            f"reask must be 'none' or 'online' (a follow-up batch is job.reask_batch()), got {reask!r}"
        )
    _check_retries(max_retries)
    _ready(job, client)
    return _results(job, client, inputs, response_model, reask, reask_model, max_retries, pipeline)


def _results(
    job: BatchJob,
    client: Any,
    inputs: Iterable[Any],
    response_model: Any,
    reask: str,
    reask_model: str | None,
    max_retries: int,
    pipeline: Mapping[str, Any],
) -> Iterator[Outcome]:
    span = telemetry.start_run(
        "instructor_az.batch.results",
        **{
            "instructor_az.batch.job": os.path.basename(job.directory),
            "gen_ai.request.model": job.model,
            "instructor_az.reask": reask,
        },
    )
    counts = {"ok": 0, "failed": 0}
    error: BaseException | None = None
    try:
        with Rounds(_rounds(job)) as indexed:
            if reask == "none":
                for item in settled_rows(
                    client, inputs, indexed, response_model=response_model, model=job.model,
                    prompt=job.prompt, kwargs=job.options,
                ):  # fmt: skip
                    outcome = item if isinstance(item, Outcome) else item.outcome()
                    counts["ok" if outcome.ok else "failed"] += 1
                    yield outcome
                return
            from ..pipeline import Results

            engine = _online_engine(
                job, client, inputs, indexed, response_model=response_model, reask_model=reask_model,
                max_retries=max_retries, pipeline=pipeline,
            )  # fmt: skip
            with telemetry.parent_of(span):  # the online re-asks' pipeline run is this one's child
                online = iter(Results(engine))
            for outcome in online:
                counts["ok" if outcome.ok else "failed"] += 1
                yield outcome
    except BaseException as exc:
        error = None if isinstance(exc, GeneratorExit) else exc
        raise
    finally:
        telemetry.end_run(
            span,
            error,
            **{"instructor_az.rows.ok": counts["ok"], "instructor_az.rows.failed": counts["failed"]},
        )


async def aresults(
    job: BatchJob,
    client: Any,
    inputs: Iterable[Any],
    *,
    response_model: Any,
    reask: str,
    reask_model: str | None,
    max_retries: int,
    pipeline: Mapping[str, Any],
) -> AsyncIterator[Outcome]:
    from ._protocol import async_client

    async_client(client)
    if reask != "online":  # reading files: the same iterator as the sync form
        for outcome in results(
            job, client, inputs, response_model=response_model, reask=reask, reask_model=reask_model,
            max_retries=max_retries, pipeline=pipeline,
        ):  # fmt: skip
            yield outcome
        return
    _check_retries(max_retries)
    _ready(job, client)
    from ..pipeline import AsyncResults

    with Rounds(_rounds(job)) as indexed:
        engine = _online_engine(
            job, client, inputs, indexed, response_model=response_model, reask_model=reask_model,
            max_retries=max_retries, pipeline=pipeline,
        )  # fmt: skip
        async for outcome in AsyncResults(engine):
            yield outcome


# --- a follow-up batch ---------------------------------------------------------------------------------


def follow_up(
    job: BatchJob, client: Any, inputs: Iterable[Any], *, response_model: Any, max_retries: int
) -> int:
    """Write the next round's request files (the rows that can go on) and add its parts to the
    manifest, unsent; returns the rows written."""
    from ._job import Part

    _check_retries(max_retries)
    _ready(job, client)
    number = job.rounds + 1
    writer = LineWriter(
        Path(job.directory), stem=f"round{number:02d}", max_lines=job.max_lines, max_bytes=job.max_bytes,
        url=job.url,
    )  # fmt: skip
    try:
        with Rounds(_rounds(job)) as indexed:
            for item in settled_rows(
                client, inputs, indexed, response_model=response_model, model=job.model,
                prompt=job.prompt, kwargs=job.options,
            ):  # fmt: skip
                if (
                    isinstance(item, Settled)
                    and _needs_more(item)
                    and item.requests <= max_retries
                    and _remaining(item, max_retries) > 0
                ):
                    writer.write(item.row, item.state.next_request())
    finally:
        writer.close()
    out = writer.out
    job.parts += [
        Part(str(path), lines, round=number) for path, lines in zip(out.paths, out.lines, strict=True)
    ]
    job.save()
    return sum(out.lines)
