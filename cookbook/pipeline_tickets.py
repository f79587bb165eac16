"""A day of support tickets through `extract_many`, at a deployment's quota, resumable.

`cookbook/data/tickets.jsonl` is a small bundled corpus (one `{"id", "text"}` object per line). Each
ticket becomes a `Ticket` (category, urgency, customer); the emulator plays a deployment with a tight
quota (Azure's 429s with retry-after-ms), and its `schema` backend writes answers that fit the schema.
The pipeline paces itself on the quota, writes one JSON line per ticket to an output file, and a second
run with `resume=True` finds nothing left to do.

Run: python cookbook/pipeline_tickets.py
"""

import json
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

import instructor_az
from instructor_az.emulator import Emulator, Quota

CORPUS = Path(__file__).resolve().parent / "data" / "tickets.jsonl"


class Ticket(BaseModel):
    category: Literal["billing", "delivery", "bug", "account", "feedback"]
    urgency: int = Field(ge=1, le=5, description="1 = can wait, 5 = drop everything")
    customer: str = Field(description="the customer's name as signed")


def main() -> None:
    # 5 requests per half second: the pipeline must find the quota, not guess it.
    emulator = Emulator(backend="schema", quotas=Quota(rpm=600, rpm_period=0.5))
    with emulator.client(max_retries=0) as raw, tempfile.TemporaryDirectory() as tmp:
        client = instructor_az.from_openai(raw)
        records = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
        output = Path(tmp) / "tickets.out.jsonl"

        results = instructor_az.extract_many(
            client,
            records,
            response_model=Ticket,
            model="gpt-4o",
            prompt="Classify the support ticket.",
            output=output,
            ordered=True,
        )
        for outcome in results:
            shown = outcome.value.model_dump() if outcome.ok else f"{outcome.status}: {outcome.error}"
            print(f"{outcome.id}: {shown}")
        print(results.summary)

        again = instructor_az.extract_many(
            client, records, response_model=Ticket, model="gpt-4o", output=output, resume=True
        )
        assert again.collect() == []  # every ticket is already in the output file
        lines = output.read_text().splitlines()
        print(f"resumed: {again.summary.skipped} already done, {len(lines)} lines in {output.name}")


if __name__ == "__main__":
    main()
