"""What `instructor-az extract` shows while it runs (a tqdm bar on a terminal) and when it ends (the
summary, printed in every case)."""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Any

from tqdm import tqdm

from ._summary import Summary

#: How often the live display is redrawn while no row finishes (a 429 pause, long requests).
REFRESH_SECONDS = 0.5


def _duration(exact: float) -> str:
    if exact < 10:
        return f"{exact:.1f}s"
    seconds = round(exact)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _count(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:.0f}"


def status_line(summary: Summary, total: int, elapsed: float) -> str:
    """Rows done / failed, requests in flight, rows and tokens per minute, 429s, ETA."""
    rate = summary.rows / elapsed if elapsed > 0 else 0.0  # rows ended in this run, per second
    left = max(total - summary.rows - summary.skipped, 0)
    eta = _duration(left / rate) if rate > 0 else "?"
    tokens = summary.usage.total_tokens * 60 / elapsed if elapsed > 0 else 0.0
    return (
        f"ok {summary.succeeded} failed {summary.failed} in flight {summary.in_flight} | "
        f"{rate * 60:.0f} rows/min {_count(tokens)} tok/min | 429s {summary.rate_limited} | ETA {eta}"
    )


def _width(stream: IO[str]) -> dict[str, Any]:
    """Follow the terminal's size; one that reports none (0 x 0: some CI ptys) is taken as 100 x 24."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 100, "nrows": 24}


class Progress:
    """A live bar on `stream` (a terminal) updated as rows end and every `REFRESH_SECONDS`; a no-op when
    `enabled` is false. Use it as a context manager."""

    def __init__(self, summary: Summary, total: int, *, enabled: bool, stream: IO[str]) -> None:
        self.summary, self.total, self.enabled = summary, total, enabled
        self._started = time.monotonic()
        self._bar: tqdm[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if enabled:
            self._bar = tqdm(
                total=total,
                file=stream,
                unit="row",
                **_width(stream),
                bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {postfix}",
                mininterval=0.2,
            )

    def update(self) -> None:
        if self._bar is None:
            return
        with self._lock:
            self._bar.n = self.summary.rows + self.summary.skipped
            self._bar.set_postfix_str(
                status_line(self.summary, self.total, time.monotonic() - self._started), refresh=False
            )
            self._bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self.update()

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._thread = threading.Thread(target=self._tick, name="instructor-az-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self.update()
            self._bar.close()


def summary_text(summary: Summary, *, total: int) -> str:
    """The end-of-run report: counts by outcome, tokens, requests, re-asks, 429s, wall time, rates."""
    usage = summary.usage
    lines = [
        f"rows: {total} in the input; {summary.rows} ended in this run, {summary.skipped} already done"
        + (f" ({summary.skipped_failed} of them failed)" if summary.skipped_failed else ""),
        f"  succeeded {summary.succeeded}, failed {summary.failed}, interrupted {summary.interrupted}",
    ]
    failures = sorted((k, v) for k, v in summary.outcomes.items() if k not in ("ok", "interrupted"))
    if failures:
        lines.append("  failures: " + ", ".join(f"{name} {count}" for name, count in failures))
    lines += [
        f"tokens: {usage.prompt_tokens} prompt, {usage.completion_tokens} completion"
        + (" (partly estimated)" if usage.estimated_requests else ""),
        f"requests: {summary.requests} ({summary.reasks} re-asks, {summary.transport_retries} transport "
        f"retries); 429s: {summary.rate_limited}",
        f"time: {_duration(summary.wall_time)}; {summary.rows_per_minute:.0f} rows/min, "
        f"{summary.tokens_per_minute:.0f} tokens/min; concurrency peak {summary.peak_concurrency}",
    ]
    return "\n".join(lines)
