"""The bundled support tickets through Azure's Batch API: request files from the same plan as an
online call, one batch per file, a manifest to resume from, every ticket back as a validated `Ticket`.

The emulator plays the Azure resource (its Files and Batches APIs, on a clock we move by hand, so a
job that would take hours takes no time). On Azure: a Global Batch deployment as `model=`, and the
same calls.

Run: python cookbook/batch_tickets.py
"""

import json
import tempfile
from pathlib import Path

from pipeline_tickets import Ticket  # the same model as the online pipeline example

import instructor_az
from instructor_az.batch import BatchJob, submit_batch
from instructor_az.emulator import Emulator, ManualClock

CORPUS = Path(__file__).resolve().parent / "data" / "tickets.jsonl"


def main() -> None:
    clock = ManualClock()
    emulator = Emulator(backend="schema", clock=clock)
    emulator.batches.processing_seconds = 3600  # each batch runs for an hour of the emulator's clock
    client = instructor_az.from_openai(emulator.client(max_retries=0))
    records = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]

    with tempfile.TemporaryDirectory() as folder:
        job = submit_batch(
            client, records, folder, response_model=Ticket, model="gpt-4o",
            prompt="Classify the support ticket.", max_lines=5, max_tokens=200,
        )  # fmt: skip
        print(f"submitted {len(job.parts)} batches: {[part.lines for part in job.parts]} requests")

        # A new process (or the same one after a crash) picks the job up from its manifest.
        again = BatchJob.load(folder)
        again.wait(
            client,
            poll_interval=1800,
            on_progress=lambda j: print(f"  {[p.status for p in j.parts]} {j.counts()}"),
            sleep=clock.advance,  # on Azure: time.sleep, the default
        )
        for outcome in again.results(client, records, response_model=Ticket):
            shown = outcome.value.model_dump() if outcome.ok else f"{outcome.status}: {outcome.error}"
            print(f"{outcome.id}: {shown}")


if __name__ == "__main__":
    main()
