"""Which sha256 a page may promise, from a HeadObject response."""

import base64
import hashlib

import pytest

from flaresuite.index.checksums import sha256_from_head

DIGEST = hashlib.sha256(b"wheel").digest()
NATIVE = base64.b64encode(DIGEST).decode()
OTHER_HEX = hashlib.sha256(b"other").hexdigest()


def test_the_native_checksum_wins_and_is_converted_to_hex():
    assert sha256_from_head(NATIVE, {"checksum-sha256": OTHER_HEX}) == DIGEST.hex()


def test_a_multipart_composite_is_ignored_in_favour_of_user_metadata():
    assert sha256_from_head(NATIVE + "-3", {"checksum-sha256": OTHER_HEX}) == OTHER_HEX


def test_a_checksum_of_an_object_uploaded_in_parts_is_ignored_even_without_the_suffix():
    assert sha256_from_head(NATIVE, {"checksum-sha256": OTHER_HEX}, multipart=True) == OTHER_HEX
    assert sha256_from_head(NATIVE, {}, multipart=True) is None


def test_user_metadata_is_used_when_there_is_no_native_checksum():
    assert sha256_from_head(None, {"checksum-sha256": OTHER_HEX.upper()}) == OTHER_HEX


@pytest.mark.parametrize(
    ("native", "metadata"),
    [
        (None, {}),
        (NATIVE + "-12", {}),
        ("not base64!", {}),
        (base64.b64encode(b"short").decode(), {}),
        (None, {"checksum-sha256": "xyz"}),
        (None, {"checksum-sha256": OTHER_HEX[:-1]}),
    ],
)
def test_anything_untrustworthy_gives_no_hash(native, metadata):
    assert sha256_from_head(native, metadata) is None
