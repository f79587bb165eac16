"""The strings a schema asks for by `format` (fixed samples per format, `_FORMATS`) and by `pattern`
(`_pattern_string`: a string the regular expression accepts, built by walking Python's regex parse
tree), for `_schema_values`' generator.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import string
import sys
import uuid
from collections.abc import Callable
from typing import Any

# Python 3.11 renamed sre_parse (which now warns on import) to re._parser; neither has stable stubs.
_sre: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")


class SchemaValueError(ValueError):
    """Raised when no valid value can be produced (e.g. contradictory constraints, unresolvable $ref);
    the message starts with the JSON path of the offending value."""


# --- formats ------------------------------------------------------------------------------------------


def _uuid(version: int) -> Callable[[int, str], str]:
    # Derived from the JSON path so every uuid field differs, yet stays the same from call to call.
    return lambda v, path: str(
        uuid.UUID(bytes=hashlib.sha1(f"{path}#{v}".encode()).digest()[:16], version=version)
    )


_FORMATS: dict[str, Callable[[int, str], str]] = {
    "date-time": lambda v, _: f"2024-01-{1 + v % 28:02d}T09:30:00Z",
    "date": lambda v, _: f"2024-01-{1 + v % 28:02d}",
    "time": lambda v, _: f"09:{30 + v % 30:02d}:00Z",
    "duration": lambda v, _: f"P{1 + v}D",
    "email": lambda v, _: f"user{v + 1 if v else ''}@example.com",
    "idn-email": lambda v, _: f"user{v + 1 if v else ''}@example.com",
    "hostname": lambda v, _: f"host{v + 1}.example.com" if v else "example.com",
    "idn-hostname": lambda v, _: f"host{v + 1}.example.com" if v else "example.com",
    "ipv4": lambda v, _: f"192.0.2.{1 + v % 254}",
    "ipv6": lambda v, _: f"2001:db8::{v + 1:x}",
    "regex": lambda v, _: "^[a-z]+$",
    "uuid": _uuid(4),
    "uuid1": _uuid(1),
    "uuid3": _uuid(3),
    "uuid4": _uuid(4),
    "uuid5": _uuid(5),
    # pydantic's own formats for ipaddress types
    "ipvanyaddress": lambda v, _: f"192.0.2.{1 + v % 254}",
    "ipvanyinterface": lambda v, _: f"192.0.2.{1 + v % 254}/24",
    "ipv4interface": lambda v, _: f"192.0.2.{1 + v % 254}/24",
    "ipv6interface": lambda v, _: f"2001:db8::{v + 1:x}/64",
    "ipvanynetwork": lambda v, _: f"192.0.{2 + v % 250}.0/24",
    "ipv4network": lambda v, _: f"192.0.{2 + v % 250}.0/24",
    "ipv6network": lambda v, _: f"2001:db8:{v:x}::/48",
}
for _name in ("uri", "url", "iri", "uri-reference", "iri-reference"):
    _FORMATS[_name] = lambda v, _: f"https://example.com/{v + 1 if v else ''}"
del _name


# --- regular expressions ------------------------------------------------------------------------------

_PREFERRED = string.ascii_lowercase + string.ascii_uppercase + string.digits + " " + string.punctuation
_CATEGORIES = {
    name: re.compile(rx)
    for name, rx in (
        ("CATEGORY_DIGIT", r"\d"),
        ("CATEGORY_NOT_DIGIT", r"\D"),
        ("CATEGORY_SPACE", r"\s"),
        ("CATEGORY_NOT_SPACE", r"\S"),
        ("CATEGORY_WORD", r"\w"),
        ("CATEGORY_NOT_WORD", r"\W"),
    )
}


def _pattern_string(pattern: Any, path: str, variant: int, lo: float, hi: float) -> str:
    """A string that `re.search(pattern, ...)` accepts with length in [lo, hi]: emit the parse tree with
    repeats at their minimum plus `extra` more repetitions (handed out left to right), trying budgets
    near the length deficit first."""
    try:
        compiled, parsed = _parse(pattern)
    except (re.error, TypeError) as exc:
        raise SchemaValueError(f"{path}: invalid pattern {pattern!r}: {exc}") from None
    # padding for unanchored patterns, varied for uniqueness
    fill = "xyzabcdefghijklmnopqrstuvw"[variant % 26]
    deficit = max(0, int(min(lo, 10_000)) - len(_emit(parsed, _Emitter(0, 0, path, pattern))))
    for extra in dict.fromkeys([0, *(deficit // k + d for k in (1, 2, 3, 4) for d in (0, 1)), *range(1, 33)]):
        for grow in dict.fromkeys((variant, 0)):  # longer repeats set items apart when chars cannot vary
            s = _emit(parsed, _Emitter(variant, extra + grow, path, pattern))
            for candidate in (s, s + fill * int(lo - len(s)), fill * int(lo - len(s)) + s):
                if lo <= len(candidate) <= hi and compiled.search(candidate):
                    return candidate
    raise SchemaValueError(
        f"{path}: cannot produce a string matching {pattern!r} with length in [{lo}, {hi}]"
    )


@functools.lru_cache(maxsize=256)
def _parse(pattern: str) -> tuple[re.Pattern[str], Any]:
    return re.compile(pattern), _sre.parse(pattern)


class _Emitter:
    __slots__ = ("classes", "extra", "groups", "path", "pattern", "variant")

    def __init__(self, variant: int, extra: int, path: str, pattern: str) -> None:
        self.variant, self.extra, self.path, self.pattern = variant, extra, path, pattern
        self.groups: dict[int, str] = {}  # capture group -> text, for backreferences
        self.classes: dict[int, str] = {}  # id(class items) -> the char chosen for it


def _emit(items: Any, em: _Emitter) -> str:
    out: list[str] = []
    for op, av in items:
        name = op.name
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "IN":
            out.append(_class_char(av, em))
        elif name in ("NOT_LITERAL", "ANY"):  # any char but this one (ANY: but a newline)
            out.append(_class_char([(_sre.NEGATE, None), (_sre.LITERAL, 10 if name == "ANY" else av)], em))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            more = min(high - low, em.extra)
            em.extra -= more
            out.extend(_emit(sub, em) for _ in range(low + more))
        elif name == "SUBPATTERN":
            text = _emit(av[-1], em)
            if av[0] is not None:
                em.groups[av[0]] = text
            out.append(text)
        elif name == "ATOMIC_GROUP":
            out.append(_emit(av, em))
        elif name == "BRANCH":
            out.append(_emit(av[1][em.variant % len(av[1])], em))
        elif name == "GROUPREF":
            out.append(em.groups.get(av, ""))
        elif name not in ("AT", "ASSERT", "ASSERT_NOT"):  # anchors emit nothing; lookarounds re-checked
            raise SchemaValueError(f"{em.path}: pattern {em.pattern!r} uses {name}, which is not supported")
    return "".join(out)


def _class_char(items: Any, em: _Emitter) -> str:
    if id(items) in em.classes:
        return em.classes[id(items)]
    negate = any(op.name == "NEGATE" for op, _ in items)
    seeds = [
        chr(av if op.name == "LITERAL" else av[0]) for op, av in items if op.name in ("LITERAL", "RANGE")
    ]
    members = [c for c in dict.fromkeys(seeds + list(_PREFERRED)) if _in_class(c, items) != negate]
    if not members:
        raise SchemaValueError(f"{em.path}: a character class in {em.pattern!r} matches no printable char")
    em.classes[id(items)] = members[em.variant % len(members)]
    return em.classes[id(items)]


def _in_class(c: str, items: Any) -> bool:
    o = ord(c)
    for op, av in items:
        name = op.name
        if (name == "LITERAL" and o == av) or (name == "RANGE" and av[0] <= o <= av[1]):
            return True
        if name == "CATEGORY" and av.name in _CATEGORIES and _CATEGORIES[av.name].fullmatch(c):
            return True
    return False
