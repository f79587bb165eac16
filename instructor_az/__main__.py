"""`python -m instructor_az`: the same as the `instructor-az` command."""

from __future__ import annotations

from instructor_az.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
