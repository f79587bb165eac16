"""`load_answer` (the fast path for whole answers) and the incremental parser a stream is read by give
the same verdict and value on every text: one rule for streamed and non-streamed answers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructor_az import ResponseParseError
from instructor_az._answer_json import MAX_ANSWER_DEPTH, answer_parser, load_answer
from instructor_az.streaming import JsonParseError

near_json = st.lists(
    st.sampled_from(
        [
            *(
                "{",
                "}",
                "[",
                "]",
                ",",
                ":",
                " ",
                '"',
                '"a"',
                '"b"',
                '"a": 1',
                '"[',
                '{"',
                "\\",
                "0",
                "1",
                "-",
                ".",
            ),
            *(
                "true",
                "null",
                "NaN",
                "Infinity",
                "-Infinity",
                "1e5",
                "\\ud83d",
                '"a": {',
                '"a": [',
                "[[[[",
                "]]]]",
            ),
        ]
    ),
    max_size=24,
).map("".join)


def streamed(text: str) -> Any:
    parser = answer_parser()
    try:
        for i in range(0, len(text), 3):
            parser.feed(text[i : i + 3])
        parser.close()
    except JsonParseError:
        return JsonParseError
    return parser.value()


def whole(text: str) -> Any:
    try:
        return load_answer(text)
    except ResponseParseError:
        return JsonParseError


@settings(max_examples=400, deadline=None)
@given(near_json)
def test_whole_and_streamed_answers_get_the_same_verdict(text: str) -> None:
    assert whole(text) == streamed(text)


@pytest.mark.parametrize("depth", [MAX_ANSWER_DEPTH - 1, MAX_ANSWER_DEPTH, MAX_ANSWER_DEPTH + 1, 900, 50_000])
@pytest.mark.parametrize("shape", ["array", "object", "mixed"])
def test_the_depth_limit_is_the_same_on_both_paths(depth: int, shape: str) -> None:
    opens = {"array": ["["], "object": ['{"k": '], "mixed": ["[", '{"k": ']}[shape]
    closes = {"[": "]", '{"k": ': "}"}
    levels = [opens[i % len(opens)] for i in range(depth)]
    text = "".join(levels) + "1" + "".join(closes[o] for o in reversed(levels))
    verdict = whole(text)
    assert verdict == streamed(text)
    assert (verdict is JsonParseError) == (depth > MAX_ANSWER_DEPTH)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"a": "' + "[" * 500 + '", "b": ["' + "{" * 500 + '"]}'
    assert load_answer(text) == {"a": "[" * 500, "b": ["{" * 500]}


def test_the_errors_name_the_rule() -> None:
    with pytest.raises(ResponseParseError, match=re.escape("duplicate key 'k' in the object at $.a[0]")):
        load_answer('{"a": [{"k": 1, "k": 2}]}')
    with pytest.raises(ResponseParseError, match="NaN and Infinity are not JSON"):
        load_answer("[1, NaN]")
