"""Every fault parameter is checked, in the header (Azure's 400) and in Python (`FaultSpecError`)."""

from __future__ import annotations

import math
import time

import openai
import pytest
from openai import AzureOpenAI

from instructor_az.emulator import (
    FAULT_HEADER,
    MAX_LATENCY_SECONDS,
    MAX_RETRY_AFTER_MS,
    Emulator,
    Fault,
    FaultSpecError,
)

USER = [{"role": "user", "content": "Tell me about Paris."}]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("latency; seconds=nan", "finite"),
        ("latency; seconds=inf", "finite"),
        ("latency; seconds=-5", "from 0 to 120"),
        ("latency; seconds=121", "from 0 to 120"),
        ("latency; seconds=0; chunk_seconds=nan", "finite"),
        ("latency; seconds=0; chunk_seconds=11", "chunk_seconds must be from 0 to 10"),
        ("rate_limit; retry_after_ms=-1", "retry_after_ms must be from 0"),
        ("rate_limit; retry_after_ms=1.5", "not a whole number"),
        ("rate_limit; retry_after_ms=9999999999", "retry_after_ms must be from 0"),
        ("server_error; status=503; retry_after_ms=-20", "retry_after_ms must be from 0"),
        ("drop_connection; after_chunks=-1", "after_chunks must be from 0"),
        ("drop_connection; after_chunks=2.5", "not a whole number"),
        ("length; after_chars=-3", "after_chars must be from 0"),
        ("completion_filter; after_chars=x", "not a whole number"),
        ("rate_limit; times=0", "times must be from 1"),
        ("rate_limit; times=-2", "times must be from 1"),
        ("rate_limit; retry_after_ms=10, latency; seconds=nan", "finite"),
    ],
)
def test_a_bad_fault_parameter_in_the_header_is_an_azure_400_at_once(
    client: AzureOpenAI, emulator: Emulator, header: str, fragment: str
) -> None:
    emulator.scripted.push("unused")
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={FAULT_HEADER: header})
    assert time.monotonic() - started < 2
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == FAULT_HEADER
    assert body["type"] == "invalid_request_error"
    assert body["code"] == "EmulatorBadFault"
    assert body["message"].startswith(f"Bad {FAULT_HEADER} header:")
    assert fragment in body["message"]
    assert emulator.scripted.pending == 1


def test_a_bad_fault_in_the_header_counts_nothing(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.scripted.push("a")
    good = "rate_limit; retry_after_ms=5; times=1"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="gpt-4o", messages=USER, extra_headers={FAULT_HEADER: f"{good}, latency; seconds=-1"}
        )
    with pytest.raises(openai.RateLimitError):  # its one time was not used up by the rejected request
        client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={FAULT_HEADER: good})


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Fault.latency(math.nan), "finite"),
        (lambda: Fault.latency(math.inf), "finite"),
        (lambda: Fault.latency(-5), "from 0 to 120"),
        (lambda: Fault.latency(MAX_LATENCY_SECONDS + 1), "from 0 to 120"),
        (lambda: Fault.latency(0, chunk_seconds=-0.1), "chunk_seconds"),
        (lambda: Fault.latency("1"), "number of seconds"),  # type: ignore[arg-type]
        (lambda: Fault.rate_limit(-1), "retry_after_ms"),
        (lambda: Fault.rate_limit(1.5), "whole number"),  # type: ignore[arg-type]
        (lambda: Fault.rate_limit(True), "whole number"),
        (lambda: Fault.rate_limit(MAX_RETRY_AFTER_MS + 1), "retry_after_ms"),
        (lambda: Fault.server_error(404), "5xx"),
        (lambda: Fault.server_error(503, retry_after_ms=-1), "retry_after_ms"),
        (lambda: Fault.drop_connection(-1), "after_chunks"),
        (lambda: Fault.drop_connection(1.0), "whole number"),  # type: ignore[arg-type]
        (lambda: Fault.length(after_chars=-1), "after_chars"),
        (lambda: Fault.completion_filter(after_chars=-1), "after_chars"),
        (lambda: Fault("latency", seconds=math.nan), "finite"),
        (lambda: Fault("meteor"), "unknown fault kind"),  # type: ignore[arg-type]
    ],
)
def test_python_constructors_reject_bad_parameters(make: object, fragment: str) -> None:
    with pytest.raises(FaultSpecError, match=fragment) as caught:
        make()  # type: ignore[operator]
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("times", [0, -1, 1.5, True])
def test_inject_rejects_bad_times(emulator: Emulator, times: object) -> None:
    with pytest.raises(ValueError, match="times"):
        emulator.inject(Fault.rate_limit(), times=times)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limit(20),
        Fault.server_error(503, retry_after_ms=10),
        Fault.latency(0.25, chunk_seconds=0.01),
        Fault.drop_connection(3),
        Fault.prompt_filter(violence="high", jailbreak="detected"),
        Fault.completion_filter(after_chars=4, hate="medium"),
        Fault.length(),
        Fault.length(after_chars=0),
    ],
)
def test_spec_is_the_header_syntax_of_the_fault(fault: Fault) -> None:
    assert Fault.parse(fault.spec) == fault


def test_latencies_that_add_up_past_the_cap_are_capped() -> None:
    from instructor_az.emulator._faults import merge_latency

    merged = merge_latency([Fault.latency(MAX_LATENCY_SECONDS), Fault.latency(MAX_LATENCY_SECONDS)])
    assert merged is not None
    assert merged.seconds == MAX_LATENCY_SECONDS
