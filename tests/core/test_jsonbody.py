"""The JSON guard every Worker parses request bodies and frames with: what it refuses, and
that it refuses before parsing."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaresuite.jsonbody import MAX_DEPTH, BadJson, nesting_depth, parse_json

LIMIT = 1024 * 1024


def test_plain_utf8_json_parses():
    assert parse_json(b'{"keys": ["a", "\xc3\xa9"], "n": 1.5}', max_bytes=LIMIT) == {
        "keys": ["a", "é"],
        "n": 1.5,
    }


@pytest.mark.parametrize(
    "body",
    [
        "[" * 10_000 + "]" * 10_000,
        "[" * 8750,
        '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
    ],
)
def test_nesting_deeper_than_the_limit_is_refused_before_parsing(body):
    with pytest.raises(BadJson, match="nested") as refused:
        parse_json(body, max_bytes=LIMIT)
    assert refused.value.status == 400


def test_nesting_at_the_limit_is_accepted():
    body = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(body, max_bytes=LIMIT) is not None


def test_brackets_inside_strings_do_not_count():
    body = json.dumps({"key": "[" * 1000, "escaped": '\\"[[[['})
    assert nesting_depth(body) == 1
    assert parse_json(body, max_bytes=LIMIT)["key"] == "[" * 1000


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + b'{"keys": ["a"]}',
        '{"keys": ["a"]}'.encode("utf-16"),
        '{"keys": ["a"]}'.encode("utf-16-le"),
        '{"keys": ["a"]}'.encode("utf-32"),
        b'{"keys": ["\xff"]}',
    ],
)
def test_anything_but_utf8_without_a_bom_is_refused(body):
    with pytest.raises(BadJson) as refused:
        parse_json(body, max_bytes=LIMIT)
    assert refused.value.status == 400


def test_duplicate_member_names_are_refused():
    with pytest.raises(BadJson, match="more than once"):
        parse_json(b'{"dryRun": true, "dryRun": false}', max_bytes=LIMIT)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_are_refused(constant):
    with pytest.raises(BadJson, match="not a JSON number"):
        parse_json(f'{{"n": {constant}}}', max_bytes=LIMIT)


def test_an_integer_longer_than_python_converts_is_refused():
    with pytest.raises(BadJson):
        parse_json("1" * 5000, max_bytes=LIMIT)


def test_a_body_over_the_limit_is_413_without_parsing():
    with pytest.raises(BadJson) as refused:
        parse_json(b"[" + b"1," * 600 + b"1]", max_bytes=1000)
    assert refused.value.status == 413


def test_a_lone_surrogate_in_a_text_frame_is_refused():
    with pytest.raises(BadJson, match="surrogate"):
        parse_json('{"name": "\ud800"}', max_bytes=LIMIT)


def test_messages_never_quote_the_input():
    secret = "tok_" + "s" * 40
    for body in (f'{{"{secret}": 1, "{secret}": 2}}', f'["{secret}"', f"{secret}"):
        with pytest.raises(BadJson) as refused:
            parse_json(body, max_bytes=LIMIT)
        assert secret not in str(refused.value)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=30,
    )
)
def test_any_json_document_within_the_limits_round_trips(document):
    body = json.dumps(document)
    if nesting_depth(body) <= MAX_DEPTH:
        assert parse_json(body, max_bytes=LIMIT) == document


@given(st.text(alphabet='[]{}"\\,:a1 ', max_size=200))
def test_arbitrary_bracket_soup_never_escapes_as_anything_but_bad_json(text):
    with contextlib.suppress(BadJson):
        parse_json(text, max_bytes=LIMIT)
