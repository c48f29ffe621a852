"""Bearer tokens (RFC 6750) as every Worker reads and compares them."""

import pytest

from flaresuite.auth import bearer_token, token_matches


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        ("abc", None),
    ],
)
def test_the_token_is_read_only_from_a_bearer_authorization_header(header, token):
    assert bearer_token({"authorization": header} if header else {}) == token


@pytest.mark.parametrize(
    ("presented", "matches"),
    [
        ("s3cret", True),
        ("s3cre", False),
        ("s3cret!", False),
        ("", False),
        (None, False),
        ("S3CRET", False),
        ("\u017f3cret", False),  # LATIN SMALL LETTER LONG S, which casefolds to "s"
    ],
)
def test_only_the_exact_token_matches(presented, matches):
    assert token_matches(presented, "s3cret") is matches
