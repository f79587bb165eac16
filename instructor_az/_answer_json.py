"""What counts as JSON in a model's answer: one rule for streamed and non-streamed answers alike.

An answer is JSON as RFC 8259 defines it, read by the one incremental parser (`streaming._json`)
whether it arrived at once or in deltas, holding to three rules:

- no `NaN`, `Infinity` or `-Infinity` (not JSON; `json.loads` would accept them),
- no repeated key within an object (RFC 8259 leaves its meaning open and `json.loads` silently keeps
  the last value, losing data; I-JSON, RFC 7493, forbids it),
- at most `MAX_ANSWER_DEPTH` levels of nested arrays and objects (deeper answers are refused before
  any recursive code, ours or pydantic's or jsonschema's, walks them).

An answer that breaks a rule is a `ResponseParseError`: re-asked like any other invalid answer, with
the rule it broke in the re-ask message.
"""

from __future__ import annotations

from typing import Any, Final

from ._errors import ResponseParseError
from .streaming._json import JsonEventParser, JsonParseError

#: Deepest nesting of arrays and objects accepted in an answer. Azure's strict structured outputs
#: allow 10 levels of schema nesting; recursive models rarely need more than a few dozen.
MAX_ANSWER_DEPTH: Final = 64


def answer_parser(*, trailing_text: bool = False) -> JsonEventParser:
    """A parser applying the answer rules (for streamed answers)."""
    return JsonEventParser(allow_trailing_text=trailing_text, max_depth=MAX_ANSWER_DEPTH, unique_keys=True)


def load_answer(text: str) -> Any:
    """The JSON value of a complete answer text; raises a re-askable `ResponseParseError`."""
    parser = answer_parser()
    try:
        parser.feed(text)
        parser.close()
    except JsonParseError as exc:
        raise ResponseParseError(f"the answer is not valid JSON: {exc}", text=text) from None
    return parser.value()


__all__ = ["MAX_ANSWER_DEPTH", "answer_parser", "load_answer"]
