"""Validation of request bodies and keys: everything is checked before anything is deleted."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaresuite.http import HttpRequest
from flaresuite.purge.keys import InvalidKey, validate_key
from flaresuite.purge.requests import (
    ProjectDeletion,
    RequestRejected,
    check_body_size,
    parse_delete,
    parse_project_deletion,
)


def body(raw: bytes | object, **headers: str) -> HttpRequest:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return HttpRequest("POST", "https://x/delete", headers, data)


def rejected(parse, request) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        parse(request)
    return caught.value


@given(st.text(min_size=1).filter(lambda key: len(key.encode("utf-8", "surrogatepass")) <= 1024))
def test_any_nonempty_utf8_key_of_at_most_1024_bytes_is_valid(key):
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(InvalidKey, match="not valid UTF-8"):
            validate_key(key)
    else:
        assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "must not be empty"),
        ("x" * 1025, "1025 bytes"),
        ("é" * 513, "1026 bytes"),
        ("\ud800", "not valid UTF-8"),
        (7, "must be strings, got int"),
        (None, "must be strings, got NoneType"),
    ],
)
def test_keys_r2_could_not_hold_are_invalid(key, reason):
    with pytest.raises(InvalidKey, match=reason):
        validate_key(key)


def test_a_1024_byte_key_is_the_largest_accepted():
    assert validate_key("k" * 1024)


def test_delete_body_gives_unique_keys_in_first_seen_order():
    assert parse_delete(body({"objectKeys": ["b", "a", "b", "c", "a"]})) == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "without a byte-order mark"),
        (b"[" * 100_000 + b"]" * 100_000, "nested 100000 levels deep; the limit is 64"),
        ([], "must be a JSON object, got array"),
        ({}, "objectKeys is required"),
        ({"objectKeys": "a"}, "must be an array, got string"),
        ({"objectKeys": None}, "must be an array, got null"),
        ({"objectKeys": []}, "must not be empty"),
        ({"objectKeys": ["a", 3]}, r"objectKeys\[1\]: object keys must be strings"),
        ({"objectKeys": ["a", ""]}, r"objectKeys\[1\]: object keys must not be empty"),
        ({"objectKeys": ["x" * 1025]}, r"objectKeys\[0\]: .* 1025 bytes"),
        ({"objectKeys": ["k"] * 10_001}, "10001 keys; at most 10000"),
        ({"objectKeys": ["a"], "extra": 1}, "unknown field"),
    ],
)
def test_malformed_delete_bodies_are_rejected_with_400_and_a_reason(raw, reason):
    rejection = rejected(parse_delete, body(raw))
    assert rejection.status == 400
    assert re.search(reason, rejection.message)


def test_ten_thousand_keys_is_the_most_one_request_may_name():
    assert len(parse_delete(body({"objectKeys": [f"k{i}" for i in range(10_000)]}))) == 10_000


def test_project_deletion_defaults_to_a_real_run():
    assert parse_project_deletion(body({"projectId": "12"})) == ProjectDeletion("12", False)
    assert parse_project_deletion(body({"projectId": "12", "dryRun": True})) == ProjectDeletion(
        "12", True
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({}, "projectId is required"),
        ({"projectId": 12}, "must be a string"),
        ({"projectId": "proj_12"}, "bare id"),
        ({"projectId": "12", "dryRun": "yes"}, "dryRun must be true or false, got string"),
        ({"projectId": "12", "dryRun": 1}, "dryRun must be true or false, got number"),
        # A misspelt flag must not silently turn a dry run into a real deletion.
        ({"projectId": "12", "dryrun": True}, "unknown field"),
    ],
)
def test_malformed_project_bodies_are_rejected_with_400(raw, reason):
    rejection = rejected(parse_project_deletion, body(raw))
    assert rejection.status == 400
    assert reason in rejection.message


def test_a_body_over_one_mebibyte_is_413_whether_declared_or_actual():
    exactly = body(b" " * 1024 * 1024, **{"content-length": str(1024 * 1024)})
    check_body_size(exactly)
    declared = body(b"{}", **{"content-length": str(1024 * 1024 + 1)})
    assert rejected(check_body_size, declared).status == 413
    undeclared = body(b" " * (1024 * 1024 + 1))
    assert rejected(check_body_size, undeclared).status == 413


@pytest.mark.parametrize("declared", ["0", "12", " 1048576 ", "1", "lots", "\u00b2", "-1", "1e3"])
def test_a_body_over_one_mebibyte_is_413_whatever_content_length_says(declared):
    oversized = body(b" " * (1024 * 1024 + 1), **{"content-length": declared})
    assert rejected(check_body_size, oversized).status == 413


@pytest.mark.parametrize("declared", ["lots", "", "-1", "1e3", "1,2", "\u00b2", "\u0663", "1_0"])
def test_a_content_length_that_is_not_ascii_digits_is_400(declared):
    rejection = rejected(check_body_size, body(b"{}", **{"content-length": declared}))
    assert rejection.status == 400
    assert "not a byte count" in rejection.message


@pytest.mark.parametrize("declared", ["2", " 2\t", "0002"])
def test_a_content_length_may_have_surrounding_whitespace_and_leading_zeros(declared):
    check_body_size(body(b"{}", **{"content-length": declared}))


def test_a_content_length_too_long_for_int_is_413_not_a_crash():
    rejection = rejected(check_body_size, body(b"{}", **{"content-length": "9" * 5000}))
    assert rejection.status == 413
    assert len(rejection.message) < 200
