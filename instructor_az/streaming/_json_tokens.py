"""The JSON parser's vocabulary: the events it emits (`StartObject`, `Key`, `StringChunk`, ...), its
error (`JsonParseError`), and the lexical pieces its scanner uses (the compiled token regexes, escape
decoding). `_json.JsonEventParser` is the automaton over them; import these names from `_json`.
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

Path: TypeAlias = tuple[str | int, ...]
"""Keys and list indexes from the root to a value; `()` is the root."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something the parser found; `path` locates the value it is about."""

    path: Path


@dataclass(frozen=True, slots=True)
class StartObject(Event):
    """An object opened at `path`."""


@dataclass(frozen=True, slots=True)
class EndObject(Event):
    """The object at `path` is complete."""


@dataclass(frozen=True, slots=True)
class StartArray(Event):
    """An array opened at `path`."""


@dataclass(frozen=True, slots=True)
class EndArray(Event):
    """The array at `path` is complete."""


@dataclass(frozen=True, slots=True)
class Key(Event):
    """A key is complete; `path` is its member's path (the key is `path[-1]`). Its value follows."""


@dataclass(frozen=True, slots=True)
class StringChunk(Event):
    """More decoded characters of the string value at `path` (never half a surrogate pair)."""

    text: str


@dataclass(frozen=True, slots=True)
class Scalar(Event):
    """A complete scalar: str (after its `StringChunk`s), int, float, bool or None."""

    value: str | int | float | bool | None


class JsonParseError(ValueError):
    """The text is not JSON. `offset` counts characters from the start of the whole stream."""

    def __init__(self, problem: str, offset: int, snippet: str, shown: str | None = None) -> None:
        self.problem = problem
        self.offset = offset
        self.snippet = snippet
        self._shown = f"...{snippet}..." if shown is None else shown
        super().__init__(f"{problem} at offset {offset}: {self._shown}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling would call __init__ with the formatted message only.
        return (type(self), (self.problem, self.offset, self.snippet, self._shown))


_WS_CHARS: Final = " \t\n\r"
_WS = re.compile(r"[ \t\n\r]+")
# A whole string with nothing to decode: most keys and many values.
_SIMPLE_STRING = re.compile(r'"([^"\\\x00-\x1f]*)"')
# A run of string content that can be decoded now: plain characters, simple escapes, \uXXXX escapes
# other than a high surrogate, and high surrogates only together with their low one. A high
# surrogate whose follower is not known yet stops the run (it is held until the next delta).
_STRING_RUN = re.compile(
    r'(?:[^"\\\x00-\x1f]+|\\["\\/bfnrt]'
    r"|\\u(?:[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(?![dD][89abAB])[0-9a-fA-F]{4}))*"
)
# A key with nothing to decode, and its colon if it is there.
_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"(?:[ \t\n\r]*(:))?')
_NEXT_KEY = re.compile(r',[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:')
# What ends a run of plain string characters.
_STRING_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_HEX4 = re.compile(r"[0-9a-fA-F]{0,4}")
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
# Group 1 (fraction) or 2 (exponent) matched: a float, else an int (as json.loads).
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_NUMBER_CHARS: Final = "+-.0123456789eE"
_NUMBER_START: Final = "-0123456789"
_NUMBER_RUN = re.compile(r"[-+.0-9eE]*")
# The longest prefix of a token that some valid number starts with: where it stops is the error.
_NUMBER_VIABLE = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.(?:[0-9]+(?:[eE][+-]?[0-9]*)?)?|[eE][+-]?[0-9]*)?)?")
_LITERALS: Final[dict[str, tuple[str, bool | None]]] = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
}
_SNIPPET: Final = 20  # characters shown on each side of an error
_MISSING: Final[Any] = object()

# C speed decoding of a run of string content; typeshed does not declare it.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _escape_length(s: str) -> int:
    """How much of `s` (starting with a backslash) is one escape to decode now.

    Returns the length (2, 6, or 12 for a surrogate pair), 0 when more input is needed to know, or
    minus the index of the offending character. A high surrogate needs what follows: json.loads
    pairs it only with a directly following low surrogate escape, and keeps it alone otherwise.
    """
    n = len(s)
    if n < 2:
        return 0
    if s[1] in _SIMPLE_ESCAPES:
        return 2
    if s[1] != "u":
        return -1
    digits = _HEX4.match(s, 2).end() - 2  # type: ignore[union-attr]  # {0,4} always matches
    if digits < 4:
        return 0 if 2 + digits == n else -(2 + digits)
    if not 0xD800 <= int(s[2:6], 16) <= 0xDBFF:
        return 6
    if n < 8:
        return 0 if n == 6 or s[6] == "\\" else 6
    if s[6] != "\\" or s[7] != "u":
        return 6
    digits = _HEX4.match(s, 8).end() - 8  # type: ignore[union-attr]
    if digits < 4:
        # A bad second escape is reported when it is read on its own.
        return 0 if 8 + digits == n else 6
    return 12 if 0xDC00 <= int(s[8:12], 16) <= 0xDFFF else 6


def _decode_escape(s: str, length: int) -> str:
    if length == 2:
        return _SIMPLE_ESCAPES[s[1]]
    code = int(s[2:6], 16)
    if length == 12:
        code = 0x10000 + ((code - 0xD800) << 10) + (int(s[8:12], 16) - 0xDC00)
    return chr(code)


def _common_prefix(a: str, b: str) -> int:
    # Only on short literal text (at most 5 characters), when a delta cuts one or it is wrong.
    i = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        i += 1
    return i
