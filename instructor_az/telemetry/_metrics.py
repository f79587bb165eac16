"""The GenAI client metrics and this library's counters, created once per meter provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics

#: The bucket boundaries the GenAI semantic conventions advise for each histogram.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


@dataclass(frozen=True)
class Instruments:
    tokens: Any  #: gen_ai.client.token.usage (per attempt, input and output)
    duration: Any  #: gen_ai.client.operation.duration (per attempt, seconds)
    reasks: Any  #: instructor_az.client.reasks: re-asks sent
    validation_failures: Any  #: instructor_az.client.validation_failures: answers that failed validation


def instruments(meter: metrics.Meter) -> Instruments:
    return Instruments(
        tokens=meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        ),
        duration=meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        ),
        reasks=meter.create_counter(
            "instructor_az.client.reasks",
            unit="{request}",
            description="Re-asks sent after an invalid answer",
        ),
        validation_failures=meter.create_counter(
            "instructor_az.client.validation_failures",
            unit="{answer}",
            description="Answers that failed validation against the response model",
        ),
    )
