"""Run state survives a round trip through its stored form, and state written before a field
existed still loads (losing it would cost a HEAD per file on the next run)."""

import gzip
import json
import struct

import pytest

from flaresuite.index.state import FORMAT, DirectoryState


def test_directory_state_keeps_the_sources_index_pages_and_what_they_were_read_for():
    state = DirectoryState(pages={"whl/cu121/torch/index.html": "m" * 32})
    state.remember_sources("listing", {"whl/cu121/nvidia-cudnn-cu12/index.html": ("a" * 32, True)})
    loaded = DirectoryState.from_bytes(state.to_bytes())
    assert loaded.sources == {"whl/cu121/nvidia-cudnn-cu12/index.html": ("a" * 32, True)}
    assert loaded.sources_read_for == "listing"
    assert loaded.pages == state.pages


def test_state_written_before_sources_were_read_loads_without_them():
    header = json.dumps({"format": FORMAT, "digest": None, "pages": {}, "verdicts": {}}).encode()
    loaded = DirectoryState.from_bytes(gzip.compress(struct.pack(">I", len(header)) + header))
    assert loaded.sources == {} and loaded.sources_read_for is None


def test_malformed_sources_are_refused():
    header = json.dumps(
        {"format": FORMAT, "digest": None, "pages": {}, "verdicts": {}, "sources": [1]}
    ).encode()
    with pytest.raises(ValueError, match="malformed"):
        DirectoryState.from_bytes(gzip.compress(struct.pack(">I", len(header)) + header))


def test_state_written_with_the_unused_digest_field_loads_with_its_cache():
    header = json.dumps(
        {
            "format": FORMAT,
            "digest": "d" * 64,
            "pages": {"whl/index.html": "m" * 32},
            "verdicts": {},
        }
    ).encode()
    key, value = b"k" * 12, b"\x01" * 32
    entry = key + struct.pack(">H", len(value)) + value
    loaded = DirectoryState.from_bytes(
        gzip.compress(struct.pack(">I", len(header)) + header + entry)
    )
    assert loaded.pages == {"whl/index.html": "m" * 32}
    assert loaded.checksum(key) == (True, "01" * 32)
    assert b'"digest"' not in gzip.decompress(loaded.to_bytes())
