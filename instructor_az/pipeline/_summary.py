"""What a pipeline run did, in numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .._errors import Usage
from ._rows import Outcome


@dataclass(slots=True)
class Summary:
    """Counts and rates of one run (updated as rows finish; final once the results are exhausted).

    `outcomes` counts rows by `Outcome.status` ("ok", "InstructorRetryException", "interrupted", ...);
    `skipped` rows were already in the output file (`resume=True`; `skipped_failed` of them as
    failures). `requests` are every request
    sent (re-asks and transport retries included), `reasks` the re-asks among them, `rate_limited`
    the 429s seen, `pauses` how often they paused the pipeline; `peak_concurrency` the most requests in
    flight at once and `final_concurrency` the limit at the end (`concurrency="auto"` moves it);
    `in_flight` the requests sent and not yet answered (0 once the run is over)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    skipped_failed: int = 0
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    reasks: int = 0
    rate_limited: int = 0
    transport_retries: int = 0
    pauses: int = 0
    peak_concurrency: int = 0
    final_concurrency: int = 0
    wall_time: float = 0.0
    in_flight: int = 0

    @property
    def rows(self) -> int:
        """Rows that ended in this run (any outcome)."""
        return sum(self.outcomes.values())

    @property
    def succeeded(self) -> int:
        return self.outcomes["ok"]

    @property
    def failed(self) -> int:
        return self.rows - self.succeeded - self.interrupted

    @property
    def interrupted(self) -> int:
        """Rows stopped by an interruption (not written to the output: a resumed run does them)."""
        return self.outcomes["interrupted"]

    @property
    def rows_per_minute(self) -> float:
        return self.rows * 60 / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def tokens_per_minute(self) -> float:
        return self.usage.total_tokens * 60 / self.wall_time if self.wall_time > 0 else 0.0

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.status] += 1
        self.usage = self.usage + outcome.usage
        self.reasks += max(outcome.attempts - 1, 0)

    def __str__(self) -> str:
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return (
            f"{self.rows} rows ({kinds or 'none'}; {self.skipped} skipped) in {self.wall_time:.1f}s: "
            f"{self.rows_per_minute:.0f} rows/min, {self.tokens_per_minute:.0f} tokens/min; "
            f"{self.requests} requests, {self.reasks} re-asks, {self.rate_limited} 429s, "
            f"{self.transport_retries} transport retries; {self.usage}"
        )
