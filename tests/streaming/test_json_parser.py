"""The incremental JSON parser: any split of any JSON text gives json.loads' value, events and errors."""

from __future__ import annotations

import itertools
import json
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instructor_az.streaming import (
    EndArray,
    EndObject,
    Event,
    JsonEventParser,
    JsonParseError,
    Key,
    Path,
    Scalar,
    StartArray,
    StartObject,
    StringChunk,
    parse_events,
)

# ----------------------------------------------------------------------------- helpers


def split_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(set(cuts)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def every_two_way_split(text: str) -> list[list[str]]:
    return [[text[:i], text[i:]] for i in range(len(text) + 1)]


def parse_all(chunks: list[str]) -> tuple[JsonEventParser, list[Event]]:
    parser = JsonEventParser()
    events: list[Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.close()
    return parser, events


def all_paths(value: Any, path: Path = ()) -> list[Path]:
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += all_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += all_paths(item, (*path, index))
    return paths


def at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


class Rebuild:
    """A reference consumer: builds the value from the events alone, checking their order."""

    def __init__(self) -> None:
        self.root: Any = None
        self.open: list[Path] = []  # paths of open containers
        self.chunks: list[str] = []
        self.chunk_path: Path | None = None
        self.last_key: Path | None = None

    def put(self, path: Path, value: Any) -> None:
        if not path:
            self.root = value
            return
        parent = at(self.root, path[:-1])
        if isinstance(parent, dict):
            assert self.last_key == path, "a member's value comes right after its Key"
            self.last_key = None
            parent[path[-1]] = value
        else:
            assert path[-1] == len(parent), "array elements arrive in order"
            parent.append(value)

    def __call__(self, event: Event) -> None:
        if not isinstance(event, StringChunk):
            # A string's chunks come together, then its Scalar; nothing in between.
            assert self.chunk_path is None or (isinstance(event, Scalar) and event.path == self.chunk_path)
        match event:
            case StringChunk(path=path, text=text):
                assert text, "no empty chunks"
                assert self.chunk_path in (None, path)
                self.chunk_path = path
                self.chunks.append(text)
            case Scalar(path=path, value=value):
                if isinstance(value, str):
                    assert "".join(self.chunks) == value
                else:
                    assert not self.chunks
                self.chunks, self.chunk_path = [], None
                self.put(path, value)
            case Key(path=path):
                assert self.open
                assert path[:-1] == self.open[-1]
                assert isinstance(path[-1], str)
                self.last_key = path
            case StartObject(path=path):
                self.put(path, {})
                self.open.append(path)
            case StartArray(path=path):
                self.put(path, [])
                self.open.append(path)
            case EndObject(path=path):
                assert self.open.pop() == path
                assert isinstance(at(self.root, path), dict)
            case EndArray(path=path):
                assert self.open.pop() == path
                assert isinstance(at(self.root, path), list)


def is_partial_of(partial: Any, final: Any) -> bool:
    """`partial` is what a stream of `final` may show: complete members in order, the last one partial."""
    if isinstance(final, dict):
        if not isinstance(partial, dict):
            return False
        keys = list(partial)
        if keys != list(final)[: len(keys)]:
            return False
        return all(partial[k] == final[k] for k in keys[:-1]) and (
            not keys or is_partial_of(partial[keys[-1]], final[keys[-1]])
        )
    if isinstance(final, list):
        if not isinstance(partial, list) or len(partial) > len(final):
            return False
        n = len(partial)
        return n == 0 or (partial[: n - 1] == final[: n - 1] and is_partial_of(partial[-1], final[n - 1]))
    if isinstance(final, str) and isinstance(partial, str):
        return final.startswith(partial)
    return type(partial) is type(final) and partial == final


def check_stream(text: str, chunks: list[str]) -> None:
    """Feed `chunks` (which make up `text`); check every promise the parser makes along the way."""
    assert "".join(chunks) == text
    expected = json.loads(text)
    paths = all_paths(expected)
    parser = JsonEventParser()
    rebuild = Rebuild()
    completed: set[Path] = set()
    all_events: list[Event] = []
    fed = 0
    for chunk in chunks:
        events = parser.feed(chunk)
        fed += len(chunk)
        assert parser.offset == fed
        for event in events:
            rebuild(event)
        all_events += events
        partial = parser.value()
        if partial is not None or expected is None:
            assert is_partial_of(partial, expected), (partial, expected)
        for path in paths:
            if parser.is_complete(path):
                assert at(partial, path) == at(expected, path)
                completed.add(path)
            else:
                assert path not in completed, f"{path} went back to incomplete"
    # A number at the root may go on, unless whitespace ended it: only close() can tell.
    number_may_go_on = type(expected) in (int, float) and text == text.rstrip()
    assert parser.done is not number_may_go_on
    closing = parser.close()
    for event in closing:
        rebuild(event)
    all_events += closing
    assert parser.done
    assert parser.value() == expected
    assert rebuild.root == expected
    assert not rebuild.open
    assert all(parser.is_complete(path) for path in paths)


def refuse(name: str) -> Any:
    raise ValueError(name)


def feed_all(parser: JsonEventParser, chunks: list[str], *, close: bool = True) -> Any:
    for chunk in chunks:
        parser.feed(chunk)
    if close:
        parser.close()
    return parser.value()


def failure(chunks: list[str], *, close: bool = True) -> JsonParseError:
    with pytest.raises(JsonParseError) as info:
        feed_all(JsonEventParser(), chunks, close=close)
    return info.value


# ----------------------------------------------------------------------------- properties

special_chars = st.sampled_from(
    [
        '"',
        "\\",
        "/",
        "\n",
        "\t",
        "\x00",
        "\x1f",
        "\x7f",
        "é",
        "😀",
        "𝄞",
        "\u2028",
        "\ud83d",
        "\ude00",
        "\ufeff",
    ]
)
texts = st.text(alphabet=st.one_of(st.characters(), special_chars), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=25,
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    value = draw(json_values)
    text = json.dumps(
        value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 0, 2, "\t"]))
    )
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", "\n  "])) + text + draw(st.sampled_from(["", " ", "\r\n"]))
    if len(text) <= 60 and draw(st.integers(0, 9)) == 0:
        chunks = list(text)  # one character at a time
    else:
        cuts = draw(st.lists(st.integers(0, len(text)), max_size=max(1, len(text) // 2)))
        chunks = split_at(text, cuts)
    return text, chunks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_split_of_any_document_gives_json_loads_value_and_consistent_events(
    doc: tuple[str, list[str]],
) -> None:
    check_stream(*doc)


# Texts near JSON: our verdict and value must match json.loads (NaN/Infinity aside, which we reject).
near_json = st.lists(
    st.sampled_from(
        [
            *("{", "}", "[", "]", ",", ":", " ", '"', "\\", "u", "0", "1", "9", "-", "+", ".", "e", "E"),
            *("true", "fals", "null", "nul", "ab", "d83d", "\\u", "\\ud83d", "\\ude00", "\\n", "\x01"),
        ]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(near_json, st.data())
def test_accepts_and_rejects_exactly_what_json_loads_does(text: str, data: st.DataObject) -> None:
    try:
        expected: Any = json.loads(text)
    except json.JSONDecodeError:
        expected = JsonParseError
    chunks = split_at(text, data.draw(st.lists(st.integers(0, len(text)), max_size=4)))
    if expected is JsonParseError:
        error = failure(chunks)
        assert 0 <= error.offset <= len(text)
    else:
        assert feed_all(JsonEventParser(), chunks) == expected


# ----------------------------------------------------------------------------- splits in awkward places


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"caf\\u00e9"', "café"),
        ('"\\ud83d\\ude00"', "😀"),
        ('["a\\ud83d\\ude00b"]', ["a😀b"]),
        ("[true]", [True]),
        ('{"x": false}', {"x": False}),
        ("[null,null]", [None, None]),
        ('{"x": -12.5e+3}', {"x": -12500.0}),
        ('{"key": 1}', {"key": 1}),
        ('{"k\\u00e9y\\n": "v"}', {"kéy\n": "v"}),
        ('"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t'),
    ],
)
def test_every_two_way_split(text: str, expected: Any) -> None:
    assert json.loads(text) == expected
    for chunks in [*every_two_way_split(text), list(text)]:
        check_stream(text, chunks)


def test_surrogate_pair_is_held_until_its_low_half_arrives() -> None:
    text = '"\\ud83d\\ude00"'
    for i in range(1, len(text)):
        for j in range(i, len(text)):
            _, events = parse_all([text[:i], text[i:j], text[j:]])
            chunks = [e.text for e in events if isinstance(e, StringChunk)]
            assert chunks == ["😀"]
            assert events[-1] == Scalar((), "😀")


def test_split_between_the_two_escapes_of_a_pair() -> None:
    parser = JsonEventParser()
    assert parser.feed('["x\\ud83d') == [StartArray(()), StringChunk((0,), "x")]
    assert parser.value() == ["x"]
    assert parser.feed("\\ude00") == [StringChunk((0,), "😀")]
    assert parser.value() == ["x😀"]


@pytest.mark.parametrize(
    "text",
    [
        '"\\ud800"',
        '"\\ud800x"',
        '"\\udc00"',
        '"\\ud800\\ud800\\udc00"',
        '"\\ud800\\n"',
        '"\\ud800\\u0041"',
        '"\\udbff\\udfff\\udc00\\ud800"',
        '"\\ud83d' + "\udc00" + '"',  # an escaped high half, then a raw low one: not paired
    ],
)
def test_lone_surrogates_are_kept_as_json_loads_does(text: str) -> None:
    for chunks in [*every_two_way_split(text), list(text)]:
        parser, _ = parse_all(chunks)
        assert parser.value() == json.loads(text)


def test_chunk_sizes_do_not_matter() -> None:
    value = {
        "title": 'Streaming "JSON" — é 😀\n',
        "items": [{"id": i, "ok": i % 2 == 0, "x": i / 3, "tags": ["a", None, [i]]} for i in range(30)],
        "big": 123456789012345678901234567890,
    }
    for ensure_ascii in (True, False):
        text = json.dumps(value, ensure_ascii=ensure_ascii, indent=1)
        for size in (1, 2, 3, 5, 8, 13, 64, len(text)):
            parser, _ = parse_all([text[i : i + size] for i in range(0, len(text), size)])
            assert parser.value() == value


def test_empty_deltas_are_harmless() -> None:
    parser, _ = parse_all(["", '{"a"', "", ": [tr", "", "ue, 1", "", ".5]}", ""])
    assert parser.value() == {"a": [True, 1.5]}


# ----------------------------------------------------------------------------- numbers and the root


def test_number_at_the_root_needs_close() -> None:
    parser = JsonEventParser()
    assert parser.feed("4") == []
    assert parser.feed("2") == []
    assert not parser.done
    assert parser.value() is None
    assert not parser.is_complete(())
    events = parser.close()
    assert (events, parser.done, parser.value(), parser.is_complete(())) == ([Scalar((), 42)], True, 42, True)


def test_number_at_the_root_ends_at_whitespace() -> None:
    parser = JsonEventParser()
    assert parser.feed("-1.5e3 ") == [Scalar((), -1500.0)]
    assert parser.done
    assert parser.close() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("-0.0", -0.0),
        ("1E2", 100.0),
        ("1e-2", 0.01),
        ("12345678901234567890123456789", 12345678901234567890123456789),
        ("1.0", 1.0),
        ("  7  ", 7),
    ],
)
def test_numbers_are_int_or_float_as_json_loads(text: str, expected: Any) -> None:
    for chunks in every_two_way_split(text):
        parser, _ = parse_all(chunks)
        value = parser.value()
        assert value == expected
        assert type(value) is type(json.loads(text))


def test_scalar_roots() -> None:
    for text in ['"x"', "true", "false", "null", " [ ] ", "{}"]:
        for chunks in every_two_way_split(text):
            check_stream(text, chunks)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("chunks", "offset", "problem"),
    [
        (['{"a" 1}'], 5, "expected ':'"),
        (['{"a": 1 "b": 2}'], 8, "expected ',' or '}'"),
        (["[1 2]"], 3, "expected ',' or ']'"),
        (["[1,]"], 3, "expected a value"),
        (['{"a":1,}'], 7, "expected '\"' (a key)"),
        (["{1: 2}"], 1, "expected '\"' (a key) or '}'"),
        (['{"a":1}x'], 7, "extra data after the JSON value"),
        (['{"a":1} {}'], 8, "extra data after the JSON value"),
        (['"\x01"'], 1, "invalid control character in string"),
        (['["a\nb"]'], 3, "invalid control character in string"),
        (["01"], 1, "invalid number"),
        (["-01"], 2, "invalid number"),
        (["1.e5"], 2, "invalid number"),
        (["[1.]"], 3, "invalid number (expected a digit)"),
        (["[-]"], 2, "invalid number (expected a digit)"),
        (["[1e+]"], 4, "invalid number (expected a digit)"),
        (["+1"], 0, "expected a value"),
        (["[.5]"], 1, "expected a value or ']'"),
        (["NaN"], 0, "expected a value (NaN and Infinity are not JSON)"),
        (["[Infinity]"], 1, "expected a value (NaN and Infinity are not JSON)"),
        (["-Infinity"], 1, "invalid number (expected a digit)"),
        (["tru"], 3, "unexpected end of input"),
        (["[truE]"], 4, "invalid literal (expected 'true')"),
        (["nul", "x"], 3, "invalid literal (expected 'null')"),
        (['"abc'], 4, "unexpected end of input"),
        (['"abc\\'], 5, "unexpected end of input"),
        (['{"a": [1, {"b": "c"}'], 20, "unexpected end of input"),
        ([""], 0, "unexpected end of input"),
        (["  "], 2, "unexpected end of input"),
        (['"\\x"'], 2, "invalid escape in string"),
        (['"\\u12g4"'], 5, "invalid escape in string"),
        (['"\\u12', '"'], 5, "invalid escape in string"),
        (['"\\ud83d\\u12"'], 11, "invalid escape in string"),
        (['"\\ud83d\\', 'x"'], 8, "invalid escape in string"),
        (["[1,", "2,", "]"], 5, "expected a value"),
        (["\ufeff[]"], 0, "expected a value"),
    ],
)
def test_errors_say_what_was_expected_where(chunks: list[str], offset: int, problem: str) -> None:
    text = "".join(chunks)
    with pytest.raises(ValueError):  # json.loads agrees, once NaN and Infinity are refused too
        json.loads(text, parse_constant=refuse)
    error = failure(chunks)
    assert error.offset == offset
    assert error.problem == problem
    assert str(error).startswith(f"{problem} at offset {offset}: ")
    assert error.snippet in text
    assert error.snippet or not text
    assert isinstance(error, ValueError)


def test_error_message_shows_the_snippet() -> None:
    error = failure(['{"a": 1 "b"}'])
    assert str(error) == "expected ',' or '}' at offset 8: {\"a\": 1 \"b\"}"
    prefix = '{"' + "k" * 40 + '": 1'
    error = failure([prefix + ' "b": 2, "c": 3, "d": 4, "e": 5}'])
    assert error.offset == len(prefix) + 1
    assert str(error).startswith("expected ',' or '}' at offset 47: ...")
    assert str(error).endswith("...")
    assert error.snippet == (prefix + ' "b": 2, "c": 3, "d": 4, "e": 5}')[27:67]
    assert "\\x01" in str(failure(['"\x01"']))  # control characters are shown escaped


def test_error_offset_counts_from_the_start_of_the_stream() -> None:
    error = failure(['{"a": 1, ', '"b": 2, ', '"c" 3}'])
    assert error.offset == len('{"a": 1, "b": 2, "c" ')
    assert '"c" 3' in error.snippet
    error = failure(["[", "1", "2", "3", "4", "5", "6", ", x]"])
    assert error.offset == 9
    assert "123456, x" in error.snippet
    error = failure(['"\\u', "00", "4", "x", '"'])
    assert error.offset == 6


def test_errors_are_raised_as_soon_as_a_delta_shows_them() -> None:
    parser = JsonEventParser()
    parser.feed("[1, 2")
    with pytest.raises(JsonParseError, match="expected ',' or ']' at offset 6"):
        parser.feed(" x")
    # A failed parser stays failed.
    with pytest.raises(JsonParseError, match="at offset 6"):
        parser.feed("]")
    with pytest.raises(JsonParseError, match="at offset 6"):
        parser.close()
    assert failure(["01"], close=False).offset == 1
    assert failure(["-", "-"], close=False).offset == 1


def test_error_pickles() -> None:
    error = failure(["[1,]"])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.problem, copy.offset, copy.snippet, str(copy)) == (
        error.problem,
        error.offset,
        error.snippet,
        str(error),
    )


def test_feed_after_close() -> None:
    parser = JsonEventParser()
    parser.feed("[]")
    assert parser.close() == []
    assert parser.close() == []
    with pytest.raises(RuntimeError):
        parser.feed(" ")


# ----------------------------------------------------------------------------- the partial value


def test_value_shows_a_growing_string_and_omits_a_half_number() -> None:
    parser = JsonEventParser()
    parser.feed('{"title": "Hel')
    assert parser.value() == {"title": "Hel"}
    parser.feed("lo wor")
    assert parser.value() == {"title": "Hello wor"}
    parser.feed('ld", "n": 12')
    assert parser.value() == {"title": "Hello world"}  # 12 may go on: not shown, nor its key
    parser.feed('3, "ok": tr')
    assert parser.value() == {"title": "Hello world", "n": 123}
    parser.feed('ue, "list": [1.')
    assert parser.value() == {"title": "Hello world", "n": 123, "ok": True, "list": []}
    parser.feed('5, "')
    assert parser.value() == {"title": "Hello world", "n": 123, "ok": True, "list": [1.5, ""]}
    parser.feed('x"]}')
    assert parser.value() == {"title": "Hello world", "n": 123, "ok": True, "list": [1.5, "x"]}
    assert parser.done


def test_value_is_the_live_tree() -> None:
    parser = JsonEventParser()
    parser.feed('{"a": [1, ')
    tree = parser.value()
    parser.feed("2]}")
    assert parser.value() is tree
    assert tree == {"a": [1, 2]}


def test_is_complete_turns_true_exactly_when_the_object_closes() -> None:
    text = '{"items": [{"name": "a", "n": [1, 2]}, {"name": "b"}], "total": 2}'
    parser = JsonEventParser()
    first_close = text.index("}") + 1
    for i, char in enumerate(text, start=1):
        parser.feed(char)
        assert parser.is_complete(("items", 0)) is (i >= first_close), i
        assert parser.is_complete(("items",)) is (i >= text.index("}]") + 2)
        assert parser.is_complete(("items", 0, "n", 1)) is (i >= text.index("2]") + 2)  # ends at "]"
        assert parser.is_complete(("total",)) is (i == len(text))
    assert parser.is_complete(())
    assert parser.is_complete(("total",))


def test_is_complete_for_strings_numbers_and_missing_paths() -> None:
    parser = JsonEventParser()
    parser.feed('{"s": "ab')
    assert not parser.is_complete(("s",))
    parser.feed('c", "n": 1')
    assert parser.is_complete(("s",))
    assert not parser.is_complete(("n",))
    parser.feed("0, ")
    assert parser.is_complete(("n",))
    assert not parser.is_complete(("s", 0))
    assert not parser.is_complete(("missing",))
    assert not parser.is_complete(())
    parser.feed('"l": [5]}')
    assert not parser.is_complete(("l", 1))
    assert not parser.is_complete(("l", -1))
    assert not parser.is_complete(("l", "0"))
    assert not parser.is_complete(("l", True))
    assert parser.is_complete(("l", 0))


def test_repeated_key_keeps_json_loads_value_and_completeness() -> None:
    text = '{"a": {"b": 1}, "c": 0, "a": [2, "x"]}'
    parser = JsonEventParser()
    for i, char in enumerate(text):
        parser.feed(char)
        if i >= text.index("}"):
            assert parser.is_complete(("a",))
            assert parser.is_complete(("a", "b"))
    assert parser.value() == json.loads(text) == {"a": [2, "x"], "c": 0}
    assert list(parser.value()) == ["a", "c"]


def test_events_for_a_small_document() -> None:
    events = list(parse_events(['{"a": [1, "xy', 'z", true], "b": {}}']))
    assert events == [
        StartObject(()),
        Key(("a",)),
        StartArray(("a",)),
        Scalar(("a", 0), 1),
        StringChunk(("a", 1), "xy"),
        StringChunk(("a", 1), "z"),
        Scalar(("a", 1), "xyz"),
        Scalar(("a", 2), True),
        EndArray(("a",)),
        Key(("b",)),
        StartObject(("b",)),
        EndObject(("b",)),
        EndObject(()),
    ]
    assert list(parse_events(["4", "2"])) == [Scalar((), 42)]
    with pytest.raises(JsonParseError):
        list(parse_events(["[1"]))


def test_events_are_frozen() -> None:
    event = Scalar(("a",), 1)
    with pytest.raises(AttributeError):
        event.value = 2  # type: ignore[misc]
    assert isinstance(event, Event)


def test_deep_nesting_needs_no_recursion() -> None:
    depth = 5000
    text = "[" * depth + '"x"' + "]" * depth
    parser = JsonEventParser()
    for i in range(0, len(text), 7):
        parser.feed(text[i : i + 7])
    parser.close()
    value = parser.value()
    for _ in range(depth):
        value = value[0]
    assert value == "x"
    assert parser.is_complete((0,) * depth)
