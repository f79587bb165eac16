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

import json
from typing import Any, Final

from ._errors import AnswerJSONError
from .streaming._json import JsonEventParser, JsonParseError

#: Deepest nesting of arrays and objects accepted in an answer. Azure's strict structured outputs
#: allow 10 levels of schema nesting; recursive models rarely need more than a few dozen.
MAX_ANSWER_DEPTH: Final = 64


def answer_parser(*, trailing_text: bool = False) -> JsonEventParser:
    """A parser applying the answer rules (for streamed answers)."""
    return JsonEventParser(allow_trailing_text=trailing_text, max_depth=MAX_ANSWER_DEPTH, unique_keys=True)


def load_answer(text: str) -> Any:
    """The JSON value of a complete answer text; raises a re-askable `ResponseParseError`.

    Valid answers take a fast path (Python's C JSON reader, with hooks refusing NaN and repeated keys,
    then a walk without recursion measuring the nesting); anything it refuses is read again by the
    incremental parser, whose verdict and error message are the ones a stream gets.
    """
    try:
        value = json.loads(text, object_pairs_hook=_unique, parse_constant=_refuse)
    except (ValueError, RecursionError):
        pass  # not valid under the rules: the incremental parser says exactly why
    else:
        if not _too_deep(text, value):
            return value
    parser = answer_parser()
    try:
        parser.feed(text)
        parser.close()
    except JsonParseError as exc:
        raise AnswerJSONError(f"the answer is not valid JSON: {exc}", text=text, pos=exc.offset) from None
    return parser.value()


class _Refused(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Refused("a repeated key")
    return obj


def _refuse(constant: str) -> Any:
    raise _Refused(constant)


def _too_deep(text: str, value: Any) -> bool:
    """Whether `value` (read from `text`) nests arrays and objects more than `MAX_ANSWER_DEPTH` deep."""
    if text.count("{") + text.count("[") <= MAX_ANSWER_DEPTH:
        return False  # too few containers to nest that deep
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_ANSWER_DEPTH:
            return True
        for child in node.values() if type(node) is dict else node if type(node) is list else ():
            if type(child) is dict or type(child) is list:
                todo.append((child, depth + 1))
    return False


__all__ = ["MAX_ANSWER_DEPTH", "answer_parser", "load_answer"]
