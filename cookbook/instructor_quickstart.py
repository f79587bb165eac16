"""instructor's own quickstart (the first example of its README), unchanged, on instructor-az.

`cookbook/instructor_readme/quickstart.py` is instructor's code as its README writes it: `import instructor`,
`instructor.from_provider("openai/gpt-4o-mini")`. This script serves the emulator on loopback, points
the openai SDK at it the usual way (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, here the emulator's v1 route),
queues the model's answer, and runs the quickstart with `python -m instructor_az.alias`, so its
unchanged `import instructor` is instructor-az.

Run: python cookbook/instructor_quickstart.py
"""

import os
import subprocess
import sys
from pathlib import Path

from instructor_az.emulator import DEFAULT_API_KEY, Emulator

QUICKSTART = Path(__file__).resolve().parent / "instructor_readme" / "quickstart.py"


def main() -> None:
    emulator = Emulator(backend="scripted")
    emulator.scripted.push({"name": "John", "age": 25})  # what the "model" answers
    with emulator.serve() as endpoint:
        env = {**os.environ, "OPENAI_BASE_URL": f"{endpoint}/openai/v1", "OPENAI_API_KEY": DEFAULT_API_KEY}
        result = subprocess.run(
            [sys.executable, "-m", "instructor_az.alias", str(QUICKSTART)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        print(result.stdout, end="")
        if result.returncode != 0:
            sys.exit(result.stderr)
        sent = emulator.last_request.body
        print(f"the request offered the tool {sent['tools'][0]['function']['name']!r} to {sent['model']!r}")


if __name__ == "__main__":
    main()
