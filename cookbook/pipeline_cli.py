"""The same day of support tickets through the command line: `instructor-az extract`.

What a shell script would do, driven from Python so it runs anywhere: serve the emulator on loopback
with a tight quota (as `instructor-az emulator --rpm 600 --rpm-period 0.5` would), point the usual
Azure variables at it, and run

    instructor-az extract --model pipeline_tickets:Ticket --input data/tickets.jsonl \\
        --output tickets.out.jsonl --errors tickets.failed.jsonl --prompt "Classify the support ticket."

from this folder (the model is `Ticket` in pipeline_tickets.py). Then the same command with `--resume`
finds every ticket done. The exit status says how it went: 0 every row succeeded, 1 some failed
(see the errors file), 2 the command could not start, 130 interrupted.

Run: python cookbook/pipeline_cli.py
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from instructor_az.emulator import DEFAULT_API_KEY, Emulator, Quota

HERE = Path(__file__).resolve().parent


def main() -> None:
    emulator = Emulator(backend="schema", quotas=Quota(rpm=600, rpm_period=0.5))
    with emulator.serve() as endpoint, tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            AZURE_OPENAI_ENDPOINT=endpoint,
            AZURE_OPENAI_API_KEY=DEFAULT_API_KEY,
            AZURE_OPENAI_DEPLOYMENT="gpt-4o",
        )
        output, errors = Path(tmp) / "tickets.out.jsonl", Path(tmp) / "tickets.failed.jsonl"
        command = [
            sys.executable, "-m", "instructor_az", "extract",  # what the `instructor-az` script runs
            "--model", "pipeline_tickets:Ticket",
            "--input", "data/tickets.jsonl",
            "--output", str(output), "--errors", str(errors),
            "--prompt", "Classify the support ticket.",
        ]  # fmt: skip

        first = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True)
        print(first.stdout)
        print(f"exit status {first.returncode}")
        for line in output.read_text().splitlines()[:3]:
            print(line)
        assert first.returncode == 0, first.stderr

        again = subprocess.run([*command, "--resume"], cwd=HERE, env=env, capture_output=True, text=True)
        print(again.stdout)
        assert again.returncode == 0, again.stderr
        rows = [json.loads(line) for line in output.read_text().splitlines()]
        print(f"resumed: exit status {again.returncode}, {len(rows)} rows in {output.name}, each once")


if __name__ == "__main__":
    main()
