"""PEP 658 core metadata read out of wheels, and the ``Requires-Python`` pages advertise."""

import io
import os
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from flaresuite.index.core_metadata import (
    HEADER_SCAN_LIMIT,
    InvalidWheel,
    extract_core_metadata,
    requires_python,
)
from flaresuite_host.index.demo import build_wheel


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_metadata_is_read_without_reading_the_whole_wheel():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big/_C.so", os.urandom(4 << 20))  # stored: a GB-sized wheel in small
        archive.writestr(
            "big-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Python: >=3.10\n",
        )
    wheel = CountingFile(buffer.getvalue())
    metadata = extract_core_metadata(wheel, "big-1.0-py3-none-any.whl")
    assert requires_python(metadata) == ">=3.10"
    assert wheel.bytes_read < 64 * 1024


def test_the_metadata_of_a_real_wheel_is_its_dist_info_metadata_verbatim():
    wheel = build_wheel("Demo_Pkg", "1.0", requires_python=">=3.9", requires=("numpy",))
    metadata = extract_core_metadata(io.BytesIO(wheel), "Demo_Pkg-1.0-py3-none-any.whl")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        assert metadata == archive.read("Demo_Pkg-1.0.dist-info/METADATA")


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({}, "expected one .dist-info/METADATA, found 0"),
        ({"a-1.dist-info/METADATA": "x", "b-1.dist-info/METADATA": "y"}, "found 2"),
        ({"pkg/a-1.dist-info/METADATA": "nested"}, "found 0"),
    ],
)
def test_a_wheel_needs_exactly_one_top_level_metadata(members, message):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    with pytest.raises(InvalidWheel, match=message):
        extract_core_metadata(buffer, "a-1-py3-none-any.whl")


def test_a_file_that_is_not_a_zip_is_an_invalid_wheel():
    with pytest.raises(InvalidWheel, match="not a readable wheel"):
        extract_core_metadata(io.BytesIO(b"not a zip"), "a-1-py3-none-any.whl")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3.9, <4\n", ">=3.9, <4"),
        (b"Metadata-Version: 2.1\nName: a\nVersion: 1\n", None),
        (b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python:   \n", None),
    ],
)
def test_requires_python_is_the_fields_value_or_none(metadata, expected):
    assert requires_python(metadata) == expected


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (b"Metadata-Version: 2.1\r\nName: a\r\nRequires-Python: >=3.8\r\n\r\nbody", ">=3.8"),
        (b"Name: a\nrequires-python :>=3.8\n", ">=3.8"),  # names are case-insensitive
        (b"Name: a\nRequires-Python: >=3.8,\n <4\n", ">=3.8, <4"),  # a folded value
        (b"Name: a\nRequires-Python: >=3.8\nRequires-Python: >=3.9\n", None),  # given twice
        (b"Name: a\n\nRequires-Python: >=3.8\n", None),  # in the description, not a header
        (b"Name: a\nRequires-Python: not a specifier\n", None),
        (b"Name: a\nRequires-Python: \xff>=3.8\n", None),
    ],
)
def test_the_header_scan_reads_only_the_header_block(metadata, expected):
    assert requires_python(metadata) == expected


def test_a_field_past_the_scan_limit_is_not_found():
    padding = b"".join(b"Classifier: %d\n" % n for n in range(HEADER_SCAN_LIMIT // 10))
    assert requires_python(b"Name: a\n" + padding + b"Requires-Python: >=3.8\n") is None


header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20
).filter(lambda value: value.strip())


@given(
    before=st.lists(st.sampled_from(["Name: a", "Version: 1.0", "Requires-Dist: b>=1"])),
    value=st.sampled_from([">=3.9", ">=3.9,<4", "~=3.10", "==3.*", "!=3.0.*,>=2.7"])
    | header_values,
    description=st.text(max_size=50),
)
def test_the_header_scan_agrees_with_the_email_parser(before, value, description):
    metadata = "\n".join(["Metadata-Version: 2.1", *before, f"Requires-Python: {value}"])
    data = (metadata + "\n\n" + description).encode()
    raw, _ = parse_email(data)
    expected = raw.get("requires_python")
    expected = expected.strip() if isinstance(expected, str) and expected.strip() else None
    if expected is not None:
        try:
            SpecifierSet(expected)
        except InvalidSpecifier:
            expected = None
    assert requires_python(data) == expected
