"""An incremental, sans-IO JSON parser: feed text deltas, get events and the partial value.

```python
parser = JsonEventParser()
for delta in deltas:                  # split anywhere: inside strings, escapes, numbers, literals
    for event in parser.feed(delta):  # StartObject, Key, StringChunk, Scalar, EndArray, ...
        ...
    parser.value()                    # the partial value so far, e.g. {"items": [{"name": "Jo"}]}
parser.close()                        # end of input: flushes a number at the root, checks completeness
```

Design, in the style of h11: the parser holds only the state of a push-down automaton (a stack of the
open containers and what is expected next), never the text already consumed. Each delta is scanned
once, left to right, with compiled regexes and `str` methods doing the per-character work at C speed:
one regex matches a whole run of string content (plain characters and complete escapes, decoded in
one `json.decoder.scanstring` call), another a whole number, `str.startswith` a whole literal. Only
a token cut by the end of a delta is carried over, and only its tail: the digits of a number so far,
the letters of a literal so far, or the raw text of an unfinished escape (at most 12 characters, as
`\\ud83d\\ude00` is decoded as one character). The total work is linear in the length of the stream,
whatever the deltas' sizes; re-parsing the buffer on each delta would be quadratic.

The partial value is kept up to date from the same steps: containers are inserted into their parent
when they open and filled in place, so `value()` costs nothing beyond joining the pieces of a string
still arriving. `is_complete(path)` follows from the stack, with no bookkeeping per value: a value
present in the tree is complete unless it is still open (on the stack, or the scalar being read).

Accepts exactly RFC 8259 JSON (no NaN/Infinity, no trailing commas, no comments) and, for what it
accepts, produces what `json.loads` produces: ints stay exact, lone surrogate escapes are kept, a
repeated key keeps its first position and its last value. Two options make it stricter, as the
answer path uses it (`instructor_az._answer_json`): `unique_keys=True` refuses a repeated key in an
object (RFC 8259 leaves its meaning open; I-JSON, RFC 7493, forbids it), and `max_depth=N` refuses
containers nested more than N deep. Neither costs recursion: nesting lives on an explicit stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Final, NoReturn

__all__ = [
    "EndArray",
    "EndObject",
    "Event",
    "JsonEventParser",
    "JsonParseError",
    "Key",
    "Path",
    "Scalar",
    "StartArray",
    "StartObject",
    "StringChunk",
    "parse_events",
]

from ._json_tokens import (
    _KEY,
    _LITERALS,
    _MISSING,
    _NEXT_KEY,
    _NUMBER_CHARS,
    _NUMBER_RE,
    _NUMBER_RUN,
    _NUMBER_START,
    _NUMBER_VIABLE,
    _SIMPLE_STRING,
    _SNIPPET,
    _STRING_RUN,
    _STRING_SPECIAL,
    _WS,
    _WS_CHARS,
    EndArray,
    EndObject,
    Event,
    JsonParseError,
    Key,
    Path,
    Scalar,
    StartArray,
    StartObject,
    StringChunk,
    _common_prefix,
    _decode_escape,
    _escape_length,
    _scanstring,
)

# Parser states: what the next non-whitespace character may be.
_VALUE: Final = 0  # a value (the root, after ':' or after ',' in an array)
_ARRAY_FIRST: Final = 1  # a value or ']'
_OBJECT_FIRST: Final = 2  # a key or '}'
_OBJECT_KEY: Final = 3  # a key (after ',')
_COLON: Final = 4  # ':'
_AFTER: Final = 5  # ',' or the closing bracket of the innermost container
_DONE: Final = 6  # only whitespace
# States inside a token that a delta may cut; no whitespace skipping in these.
_STRING: Final = 7  # a string (a value or a key)
_NUMBER: Final = 8  # a number; its text so far is in _tok
_LITERAL: Final = 9  # true/false/null; its text so far is in _tok


class _Frame:
    """An open container. `key`/`member` are the current member's key and path (objects only)."""

    __slots__ = ("container", "is_object", "key", "member", "path")

    def __init__(self, path: Path, container: Any, is_object: bool) -> None:
        self.path = path
        # A dict for an object, a list for an array; Any because `is_object` is what tells them apart.
        self.container = container
        self.is_object = is_object
        self.key = ""
        self.member: Path = ()


class JsonEventParser:
    """Parses one JSON document fed as text deltas; see the module docstring."""

    __slots__ = (
        "_allow_trailing",
        "_base",
        "_closed",
        "_cur",
        "_dirty",
        "_esc",
        "_is_key",
        "_literal",
        "_max_depth",
        "_parts",
        "_recent",
        "_refusal",
        "_root",
        "_stack",
        "_state",
        "_sticky",
        "_target",
        "_tok",
        "_unique",
        "_vpath",
    )

    def __init__(
        self, *, allow_trailing_text: bool = False, max_depth: int | None = None, unique_keys: bool = False
    ) -> None:
        # True for answers that may go on after the JSON (a closing ``` fence): the rest is ignored.
        self._allow_trailing = allow_trailing_text
        self._max_depth = max_depth
        self._unique = unique_keys
        self._state = _VALUE
        self._stack: list[_Frame] = []
        self._root: Any = _MISSING
        self._base = 0  # absolute offset of the current delta's first character
        self._cur = ""  # the current delta, for error snippets
        self._recent = ""  # the last characters before it, for error snippets
        self._vpath: Path = ()  # path of the scalar being read (_STRING value, _NUMBER, _LITERAL)
        self._tok = ""  # the number or literal text so far, when a delta cut it
        self._literal: tuple[str, bool | None] = ("", None)
        self._parts: list[str] = []  # decoded pieces of the string being read
        self._is_key = False
        self._esc = ""  # raw text of an escape that a delta cut (or a high surrogate on hold)
        self._target: tuple[Any, str | int] = (None, 0)  # where the string being read lives
        self._dirty = False  # _parts has pieces that the tree does not show yet
        self._sticky: set[Path] = set()  # complete paths that a repeated key re-opened
        self._refusal: Exception | None = None  # raised by feed(): the parse error, or after close()
        self._closed = False

    # ----------------------------------------------------------------------------- public API

    @property
    def done(self) -> bool:
        """The root value is complete (after a number at the root, only once `close()` ran)."""
        return self._state == _DONE

    @property
    def offset(self) -> int:
        """Characters consumed so far (all of what was fed)."""
        return self._base

    def feed(self, text: str) -> list[Event]:
        """Consume the next delta; return the events it completes, in order."""
        if self._refusal is not None:
            raise self._refusal
        events: list[Event] = []
        self._cur = text
        try:
            self._run(text, events)
        except JsonParseError as exc:
            self._refusal = exc
            raise
        n = len(text)
        # Keep a few characters for error snippets; a long delta is kept by reference, not copied.
        self._recent = text if n >= _SNIPPET else (self._recent + text)[-_SNIPPET:]
        self._base += n
        return events

    def close(self) -> list[Event]:
        """End of input: return the last events (a number at the root); raise if incomplete."""
        if isinstance(self._refusal, JsonParseError):
            raise self._refusal
        events: list[Event] = []
        if self._closed:
            return events
        self._closed = True
        self._cur = ""  # _recent already ends with the last delta
        if self._state == _NUMBER and not self._stack:
            match = _NUMBER_RE.fullmatch(self._tok)
            if match is not None:
                self._scalar(self._vpath, self._number(match, self._base - len(self._tok)), events)
        if self._state != _DONE:
            self._refusal = self._fail(self._base, "unexpected end of input")
            raise self._refusal
        self._refusal = RuntimeError("feed() after close()")
        return events

    def value(self) -> Any:
        """The value so far: the live tree (do not mutate it), or None before anything arrived.

        Objects and arrays hold what has arrived, a string still arriving is its prefix, and a
        number or literal still arriving is absent (so is its key) until complete.
        """
        if self._dirty:
            self._show_string()
        return None if self._root is _MISSING else self._root

    def is_complete(self, path: Path) -> bool:
        """Whether the value at `path` has fully arrived; once True, stays True (even if a repeated
        key later replaces the value)."""
        path = tuple(path)
        if path in self._sticky:
            return True
        # The open values form one chain from the root; `path` is open if it is on that chain.
        if self._state == _NUMBER or self._state == _LITERAL or (self._state == _STRING and not self._is_key):
            innermost: Path | None = self._vpath
        else:
            innermost = self._stack[-1].path if self._stack else None
        if innermost is not None and innermost[: len(path)] == path:
            return False
        node = self._root
        if node is _MISSING:
            return False
        for part in path:
            if isinstance(node, dict):
                if not isinstance(part, str) or part not in node:
                    return False
                node = node[part]
            elif isinstance(node, list):
                if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part < len(node):
                    return False
                node = node[part]
            else:
                return False
        return True

    # ----------------------------------------------------------------------------- scanning

    def _run(self, text: str, events: list[Event]) -> None:
        n = len(text)
        pos = 0
        state = self._state
        if state >= _STRING:  # a delta cut a token: finish it first
            if state == _STRING:
                pos = self._string(text, 0, events)
            elif state == _NUMBER:
                pos = self._number_continued(text, events)
            else:
                pos = self._literal_continued(text, events)
        stack = self._stack
        while pos < n:
            c = text[pos]
            if c in _WS_CHARS:
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]  # c is whitespace
                if pos == n:
                    break
                c = text[pos]
            state = self._state
            if state == _AFTER:
                top = stack[-1]
                if c == ",":
                    if top.is_object:
                        # The common ', "key": ' in one step.
                        match = _NEXT_KEY.match(text, pos)
                        if match is not None:
                            self._key_done(match.group(1), events, pos)
                            self._state = _VALUE
                            pos = match.end()
                            continue
                        self._state = _OBJECT_KEY
                    else:
                        self._state = _VALUE
                    pos += 1
                elif c == ("}" if top.is_object else "]"):
                    pos += 1
                    self._close_container(events)
                else:
                    expected = "',' or '}'" if top.is_object else "',' or ']'"
                    raise self._fail(self._base + pos, f"expected {expected}")
            elif state in (_OBJECT_KEY, _OBJECT_FIRST):
                if c == '"':
                    pos = self._key(text, pos, events)
                elif c == "}" and state == _OBJECT_FIRST:
                    pos += 1
                    self._close_container(events)
                else:
                    expected = "'\"' (a key) or '}'" if state == _OBJECT_FIRST else "'\"' (a key)"
                    raise self._fail(self._base + pos, f"expected {expected}")
            elif state == _COLON:
                if c != ":":
                    raise self._fail(self._base + pos, "expected ':'")
                pos += 1
                self._state = _VALUE
            elif state in (_VALUE, _ARRAY_FIRST):
                if c == "]" and state == _ARRAY_FIRST:
                    pos += 1
                    self._close_container(events)
                else:
                    pos = self._value(text, pos, c, events)
            else:  # _DONE
                if self._allow_trailing:
                    return
                raise self._fail(self._base + pos, "extra data after the JSON value")

    def _value(self, text: str, pos: int, c: str, events: list[Event]) -> int:
        """Start the value whose first character `c` is at `pos`; return where scanning resumes."""
        stack = self._stack
        if not stack:
            path: Path = ()
        else:
            top = stack[-1]
            path = top.member if top.is_object else (*top.path, len(top.container))
        if c == '"':
            match = _SIMPLE_STRING.match(text, pos)
            if match is not None:
                s = match.group(1)
                if s:
                    events.append(StringChunk(path, s))
                self._scalar(path, s, events)
                return match.end()
            # Insert the empty prefix now: a string's key is present from its first character.
            self._attach("")
            if not stack:
                self._target = (None, 0)
            else:
                top = stack[-1]
                self._target = (top.container, top.key if top.is_object else len(top.container) - 1)
            self._state = _STRING
            self._is_key = False
            self._vpath = path
            return self._string(text, pos + 1, events)
        if c == "{" or c == "[":
            if self._max_depth is not None and len(stack) >= self._max_depth:
                raise self._fail(
                    self._base + pos,
                    f"nested too deeply (more than {self._max_depth} levels of arrays and objects)",
                )
            is_object = c == "{"
            container: Any = {} if is_object else []
            self._attach(container)
            stack.append(_Frame(path, container, is_object))
            events.append(StartObject(path) if is_object else StartArray(path))
            self._state = _OBJECT_FIRST if is_object else _ARRAY_FIRST
            return pos + 1
        if c in _NUMBER_START:
            match = _NUMBER_RE.match(text, pos)
            if match is not None:
                end = match.end()
                if end < len(text) and text[end] not in _NUMBER_CHARS:
                    self._scalar(path, self._number(match, self._base + pos), events)
                    return end
            return self._number_cut_or_bad(text, pos, path)
        literal = _LITERALS.get(c)
        if literal is not None:
            word = literal[0]
            if text.startswith(word, pos):
                self._scalar(path, literal[1], events)
                return pos + len(word)
            have = text[pos : pos + len(word)]
            same = _common_prefix(have, word)
            if same == len(have) and pos + same == len(text):
                self._tok = have
                self._literal = literal
                self._vpath = path
                self._state = _LITERAL
                return len(text)
            raise self._fail(self._base + pos + same, f"invalid literal (expected {word!r})")
        if text.startswith(("NaN", "Infinity"), pos):
            raise self._fail(self._base + pos, "expected a value (NaN and Infinity are not JSON)")
        expected = "a value or ']'" if self._state == _ARRAY_FIRST else "a value"
        raise self._fail(self._base + pos, f"expected {expected}")

    def _key(self, text: str, pos: int, events: list[Event]) -> int:
        match = _KEY.match(text, pos)
        if match is not None:
            self._key_done(match.group(1), events, pos)
            if match.lastindex == 2:  # the colon came too
                self._state = _VALUE
            return match.end()
        self._state = _STRING
        self._is_key = True
        return self._string(text, pos + 1, events)

    def _string(self, text: str, pos: int, events: list[Event]) -> int:
        """Read string content from `pos`; return the position after the closing quote, or len(text)."""
        n = len(text)
        while True:
            while self._esc:
                pos = self._escape(text, pos, events)
                if pos < 0:
                    return n
            special = _STRING_SPECIAL.search(text, pos)
            if special is None:
                # The common case inside a long string: the whole rest of the delta is one chunk.
                if pos < n:
                    chunk = text[pos:] if pos else text
                    self._parts.append(chunk)
                    if not self._is_key:
                        self._dirty = True
                        events.append(StringChunk(self._vpath, chunk))
                return n
            end = plain_end = special.start()
            if text[end] == "\\":
                # Take the run of plain characters and complete escapes, to decode it in one call.
                end = _STRING_RUN.match(text, pos).end()  # type: ignore[union-attr]  # (...)* always matches
            if end > pos:
                if end == plain_end:
                    chunk = text[pos:end]
                elif end < n and text[end] == '"':
                    chunk = _scanstring(text, pos)[0]
                else:
                    chunk = _scanstring(text[pos:end] + '"', 0)[0]
                self._parts.append(chunk)
                if not self._is_key:
                    self._dirty = True
                    events.append(StringChunk(self._vpath, chunk))
            if end == n:
                return n
            c = text[end]
            if c == '"':
                self._string_done(events)
                return end + 1
            if c != "\\":
                raise self._fail(self._base + end, "invalid control character in string")
            pos = self._escape(text, end, events)
            if pos < 0:
                return n

    def _escape(self, text: str, pos: int, events: list[Event]) -> int:
        """Decode the escape starting with the held `_esc` then `text[pos:]`; -1 if it needs more."""
        held = self._esc
        s = held + text[pos : pos + 12]
        length = _escape_length(s)
        if length == 0:
            # Only happens when `s` took all of the rest of text (an escape is at most 12 long).
            self._esc = s
            return -1
        if length < 0:
            raise self._fail(self._base + pos - len(held) - length, "invalid escape in string")
        self._chunk(_decode_escape(s, length), events)
        if length >= len(held):
            self._esc = ""
            return pos + length - len(held)
        # A held high surrogate turned out to be alone: what followed it is still held.
        self._esc = held[length:]
        return pos

    def _chunk(self, s: str, events: list[Event]) -> None:
        self._parts.append(s)
        if not self._is_key:
            self._dirty = True
            events.append(StringChunk(self._vpath, s))

    def _string_done(self, events: list[Event]) -> None:
        parts = self._parts
        s = parts[0] if len(parts) == 1 else "".join(parts)
        self._parts = []
        if self._is_key:
            self._key_done(s, events, None)
            return
        self._dirty = False
        container, key = self._target
        if container is None:
            self._root = s
        else:
            container[key] = s
        events.append(Scalar(self._vpath, s))
        self._after_value()

    def _show_string(self) -> None:
        s = "".join(self._parts)
        self._parts = [s]
        self._dirty = False
        container, key = self._target
        if container is None:
            self._root = s
        else:
            container[key] = s

    def _key_done(self, key: str, events: list[Event], pos: int | None) -> None:
        top = self._stack[-1]
        path = (*top.path, key)
        if key in top.container:
            if self._unique:
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in top.path)
                offset = self._base + pos if pos is not None else self._base
                raise self._fail(offset, f"duplicate key {key!r} in the object at ${where}")
            self._stick(path, top.container[key])
        top.key = key
        top.member = path
        events.append(Key(path))
        self._state = _COLON

    def _stick(self, path: Path, value: Any) -> None:
        # A repeated key replaces a complete value: keep is_complete True for all of its paths.
        todo = [(path, value)]
        while todo:
            path, value = todo.pop()
            self._sticky.add(path)
            if isinstance(value, dict):
                todo.extend(((*path, k), v) for k, v in value.items())
            elif isinstance(value, list):
                todo.extend(((*path, i), v) for i, v in enumerate(value))

    def _number_cut_or_bad(self, text: str, pos: int, path: Path) -> int:
        end = _NUMBER_RUN.match(text, pos).end()  # type: ignore[union-attr]  # [...]* always matches
        token = text[pos:end]
        if end < len(text):
            # Not a number, else the fast path would have taken it.
            self._bad_number(token, self._base + pos)
        self._check_viable(token, self._base + pos)
        self._tok = token
        self._vpath = path
        self._state = _NUMBER
        return end

    def _number_continued(self, text: str, events: list[Event]) -> int:
        end = _NUMBER_RUN.match(text).end()  # type: ignore[union-attr]
        token = self._tok + text[:end]
        start = self._base - len(self._tok)
        if end == len(text):
            self._check_viable(token, start)
            self._tok = token
            return end
        match = _NUMBER_RE.fullmatch(token)
        if match is None:
            self._bad_number(token, start)
        self._tok = ""
        self._scalar(self._vpath, self._number(match, start), events)
        return end

    def _number(self, match: re.Match[str], start: int) -> int | float:
        if match.lastindex is not None:
            return float(match.group())
        try:
            return int(match.group())
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            raise self._fail(start, "integer too long") from None

    def _check_viable(self, token: str, start: int) -> None:
        good = _NUMBER_VIABLE.match(token).end()  # type: ignore[union-attr]  # all parts optional
        if good < len(token):
            raise self._fail(start + good, "invalid number")

    def _bad_number(self, token: str, start: int) -> NoReturn:
        self._check_viable(token, start)
        # A valid start that stops too early, e.g. "-", "1." or "1e+".
        raise self._fail(start + len(token), "invalid number (expected a digit)")

    def _literal_continued(self, text: str, events: list[Event]) -> int:
        word, value = self._literal
        need = word[len(self._tok) :]
        have = text[: len(need)]
        if have == need:
            self._tok = ""
            self._scalar(self._vpath, value, events)
            return len(need)
        same = _common_prefix(have, need)
        if same == len(have):  # the delta ended inside the literal
            self._tok += have
            return len(text)
        raise self._fail(self._base + same, f"invalid literal (expected {word!r})")

    # ----------------------------------------------------------------------------- tree

    def _attach(self, value: Any) -> None:
        stack = self._stack
        if not stack:
            self._root = value
            return
        top = stack[-1]
        if top.is_object:
            top.container[top.key] = value
        else:
            top.container.append(value)

    def _scalar(self, path: Path, value: str | int | float | bool | None, events: list[Event]) -> None:
        stack = self._stack
        if stack:
            top = stack[-1]
            if top.is_object:
                top.container[top.key] = value
            else:
                top.container.append(value)
            self._state = _AFTER
        else:
            self._root = value
            self._state = _DONE
        events.append(Scalar(path, value))

    def _after_value(self) -> None:
        self._state = _AFTER if self._stack else _DONE

    def _close_container(self, events: list[Event]) -> None:
        frame = self._stack.pop()
        events.append(EndObject(frame.path) if frame.is_object else EndArray(frame.path))
        self._state = _AFTER if self._stack else _DONE

    def _fail(self, offset: int, problem: str) -> JsonParseError:
        # Only the current delta and the few characters before it are kept: enough for a snippet.
        window = self._recent + self._cur
        window_start = self._base - len(self._recent)
        i = offset - window_start
        lo = max(0, i - _SNIPPET)
        hi = min(len(window), i + _SNIPPET)
        snippet = window[lo:hi]
        shown = snippet if snippet.isprintable() else snippet.encode("unicode_escape").decode("ascii")
        before = "" if window_start + lo == 0 else "..."
        after = "" if hi == len(window) else "..."
        return JsonParseError(problem, offset, snippet, before + shown + after)


def parse_events(chunks: Iterable[str]) -> Iterator[Event]:
    """Parse a document given as text chunks; yield its events. Raises JsonParseError."""
    parser = JsonEventParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()
