"""`instructor-az demo`: an extraction through `from_openai(AzureOpenAI(...))` against the emulator."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field, field_validator

SAMPLES = (
    "Meet John, who is 30 years old and lives in Seattle.",
    "Our new engineer Maria turned 41 this spring; she moved here from Madrid.",
    "Yesterday the intern Ken, 19, gave a talk in Osaka about compilers.",
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
            raise ValueError("must start with a capital letter")
        return value


def run_demo(backend: str = "schema") -> int:
    from openai import AzureOpenAI

    import instructor_az
    from instructor_az.emulator import DEFAULT_ENDPOINT, LATEST_GA, Emulator

    try:
        emulator = Emulator(backend=backend)  # type: ignore[arg-type]
    except (NotImplementedError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print("instructor-az demo: from_openai(AzureOpenAI(...)) against the Azure OpenAI emulator, in-process")
    if backend == "schema":
        print(
            "backend: schema (deterministic values built from the JSON schema, with numbers and names lifted\n"
            "         from the text: not a language model; the local model backend will replace it)"
        )
    print()

    client = instructor_az.from_openai(
        AzureOpenAI(
            api_key=emulator.api_keys[0],
            api_version=LATEST_GA,
            azure_endpoint=DEFAULT_ENDPOINT,
            http_client=emulator.http_client(),
        )
    )
    reasks: list[str] = []
    client.on("parse:error", lambda error: reasks.append(str(error).splitlines()[0]))

    started = time.perf_counter()
    totals = instructor_az.Usage()
    failures = 0
    for number, text in enumerate(SAMPLES, 1):
        print(f"[{number}] {text}")
        before = len(reasks)
        try:
            person, completion = client.chat.completions.create_with_completion(
                model="gpt-4o",
                response_model=Person,
                messages=[
                    {"role": "system", "content": "Extract the person the text is about."},
                    {"role": "user", "content": text},
                ],
                max_retries=3,
            )
        except instructor_az.InstructorRetryException as exc:
            failures += 1
            totals = totals + exc.total_usage
            print(f"    failed after {exc.n_attempts} attempts: {exc}")
            continue
        usage = instructor_az.Usage.of(completion)
        totals = totals + usage
        print(f"    -> {person!r}")
        for reason in reasks[before:]:
            print(f"    re-asked: {reason}")
        print(f"    ({len(reasks) - before + 1} attempt(s), {usage.total_tokens} tokens)")
    elapsed = time.perf_counter() - started
    print()
    print(f"re-asks caused by validators: {len(reasks)}")
    print(
        f"usage: {len(emulator.requests)} requests, {totals.prompt_tokens} prompt + "
        f"{totals.completion_tokens} completion = {totals.total_tokens} tokens, {elapsed:.2f}s"
    )
    return 1 if failures else 0
