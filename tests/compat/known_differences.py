"""instructor 1.17.0's tests (of tests/compat/instructor_suite.FILES) that fail through the alias, each
with its reason. docs/migrating.md lists the same ids; tests/compat/test_instructor_suite.py checks
that nothing else fails and that every entry here still fails (a fixed one must be removed)."""

from __future__ import annotations

#: test id -> why it does not pass against instructor-az
KNOWN: dict[str, str] = {}

#: The pass count reached so far: it only goes up. Issue 11 is done when it is >= BASELINE["passed"].
PASSED_AT_LEAST = 357
