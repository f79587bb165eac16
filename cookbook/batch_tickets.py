"""The bundled support tickets through Azure's Batch API: request files from the same plan as an
online call, one batch per file, a manifest to resume from, a follow-up batch for the answers that
failed validation, and every ticket back as a validated `Ticket`.

The emulator plays the Azure resource (its Files and Batches APIs on a clock we move by hand, so a
job that would take hours takes no time; its Global Batch deployment `gpt-4o-batch`). On Azure: your
Global Batch deployment as `model=`, and the same calls.

Run: python cookbook/batch_tickets.py
"""

import json
import tempfile
from pathlib import Path

from pipeline_tickets import Ticket  # the same model as the online pipeline example

import instructor_az
from instructor_az.batch import BatchJob, submit_batch
from instructor_az.emulator import Emulator, ManualClock, SchemaBackend, ScriptedBackend

CORPUS = Path(__file__).resolve().parent / "data" / "tickets.jsonl"


def main() -> None:
    clock = ManualClock()
    # The schema backend answers every ticket; one scripted rule makes T-1004's first answer break the
    # model (urgency 9 is not 1-5), so the follow-up batch has something to re-ask.
    backend = ScriptedBackend(fallback=SchemaBackend())
    backend.on(
        lambda request: "Dev Patel" in str(request.messages) and request.reask_reason is None,
        {"category": "account", "urgency": 9, "customer": "Dev Patel"},
    )
    emulator = Emulator(backend=backend, clock=clock)
    emulator.batches.processing_seconds = 3600  # each batch runs for an hour of the emulator's clock
    client = instructor_az.from_openai(emulator.client(max_retries=0))
    records = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]

    def show(job: BatchJob) -> None:
        print(f"  round {job.rounds}: {[p.status for p in job.parts]} {job.counts()}")

    with tempfile.TemporaryDirectory() as folder:
        job = submit_batch(
            client, records, folder, response_model=Ticket, model="gpt-4o-batch",
            prompt="Classify the support ticket.", max_lines=5, max_tokens=200,
        )  # fmt: skip
        print(f"submitted {len(job.parts)} batches: {[part.lines for part in job.parts]} requests")

        # A new process (or the same one after a crash) picks the job up from its manifest.
        job = BatchJob.load(folder)
        job.wait(client, poll_interval=1800, on_progress=show, sleep=clock.advance)  # Azure: time.sleep

        # Answers that failed validation go again, with the errors in the conversation, at batch prices.
        while sent := job.reask_batch(client, records, response_model=Ticket, max_retries=2):
            print(f"follow-up batch: {sent} tickets re-asked")
            job.wait(client, poll_interval=1800, on_progress=show, sleep=clock.advance)

        for outcome in job.results(client, records, response_model=Ticket):
            shown = outcome.value.model_dump() if outcome.ok else f"{outcome.status}: {outcome.error}"
            print(f"{outcome.id} (attempts {outcome.attempts}): {shown}")


if __name__ == "__main__":
    main()
