"""Hostile request bodies and headers, shared by every Worker's property-based suite.

Each area's ``test_hostile.py`` drives its Worker's HTTP surface on the core with these and
asserts the same contract: a clear 4xx JSON ``{"error": ...}`` and storage (R2, KV, Durable
Object) unchanged. The depth and encoding cases (:data:`LANE_BODIES`) also run in the Pyodide
lane, where a deep value used to kill the interpreter.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from flaresuite.http import HttpResponse
from flaresuite.jsonbody import MAX_DEPTH

DEEP_ARRAY = ("[" * 10_000 + "]" * 10_000).encode()
"""20 KB that crashed the delete proxy on Pyodide (``RangeError``, fatal)."""
DEEP_OPEN = ("[" * 8750).encode()
"""8.5 KB that crashed a swarm socket's Durable Object."""

LANE_BODIES = {
    "deep-array": DEEP_ARRAY,
    "deep-open": DEEP_OPEN,
    "deep-object": ('{"a":' * 5000 + "1" + "}" * 5000).encode(),
    "utf8-bom": b"\xef\xbb\xbf" + b'{"keys": ["a"]}',
    "utf16": '{"keys": ["a"]}'.encode("utf-16"),
    "utf16-le-no-bom": '{"keys": ["a"]}'.encode("utf-16-le"),
}
"""Bodies every Worker must refuse with 400 on Pyodide as on CPython."""


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

hostile_bodies = st.one_of(
    st.sampled_from(sorted(LANE_BODIES.values())),
    st.integers(min_value=MAX_DEPTH + 1, max_value=3000).map(_nested),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'{"a": NaN}',
            b'{"a": Infinity}',
            b'{"a": -Infinity}',
            b"1" * 5000,
            b'{"dryRun": true, "dryRun": false}',
            b'{"mode": "FULL", "mode": "INCREMENTAL"}',
            b"\x00" * 16,
        ]
    ),
)
"""Anything a stranger (or a broken client) might POST."""

hostile_header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "Bearer",
            "Bearer ",
            "bearer  x",
            "Basic dG9rZW4=",
            "Bearer " + "x" * 8000,
            "Bearer tok\u00e9n",
            "-1",
            "99999999999999999999999999",
            "\u00b2",
        ]
    ),
)
"""Values for Authorization, Content-Length and friends."""


def assert_clear_refusal(response: HttpResponse) -> None:
    """A 4xx whose body is JSON ``{"error": <non-empty string>, ...}``."""
    assert 400 <= response.status < 500, (response.status, response.body[:200])
    document = json.loads(response.body)
    assert isinstance(document, dict) and isinstance(document.get("error"), str)
    assert document["error"].strip()
