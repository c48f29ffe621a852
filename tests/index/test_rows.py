"""Rows rendered once per file, by f-string, are byte-identical to the jinja2 row template the
builder used before (kept here as the oracle), and JSON pages built from per-file entries equal
``json.dumps`` of the whole document."""

import hashlib
import json

import jinja2
from hypothesis import given
from hypothesis import strategies as st

from flaresuite.index.pages import project_pages
from flaresuite.index.rows import FileEntry, Segment, html_row, json_file

ORACLE = jinja2.Environment(
    autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
).from_string(
    "{% for file in files %}\n"
    '    <a href="{{ file.url }}{% if file.sha256 %}#sha256={{ file.sha256 }}{% endif %}"\n'
    "{%- if file.core_metadata_sha256 %}"
    ' data-dist-info-metadata="sha256={{ file.core_metadata_sha256 }}"'
    ' data-core-metadata="sha256={{ file.core_metadata_sha256 }}"{% endif %}\n'
    '{%- if file.requires_python %} data-requires-python="{{ file.requires_python }}"'
    "{% endif %}\n"
    '{%- if file.upload_time %} data-upload-time="{{ file.upload_time }}"{% endif %}>'
    "{{ file.filename }}</a><br/>\n"
    "{% endfor %}\n"
)
"""The row of the project page template as it was before rows were rendered by f-string."""

text = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30)
entries = st.builds(
    FileEntry,
    filename=text,
    url=text,
    version=st.sampled_from(["1.0", "2.5.1+cu121", "2.7.0.dev20250101"]),
    size=st.integers(0, 10**12),
    sha256=st.none() | st.just("ab" * 32) | text,
    core_metadata_sha256=st.none() | st.just("cd" * 32) | text,
    requires_python=st.none() | st.sampled_from([">=3.9", ">=3.9,<4", "'\"<>&"]) | text,
    upload_time=st.none() | st.just("2025-01-03T12:30:05Z"),
)


@given(entry=entries)
def test_a_row_is_byte_identical_to_the_template_row(entry):
    assert html_row(entry) == ORACLE.render(files=[entry])


@given(files=st.lists(entries, max_size=5))
def test_a_json_page_equals_dumping_the_whole_document(files):
    segment = Segment.of("/", files, compress=True)
    ordered = sorted(files, key=lambda entry: entry.url)
    document = {
        "meta": {"api-version": "1.1"},
        "name": "torch",
        "versions": sorted({entry.version for entry in files}),
        "files": [json.loads(json_file(entry)) for entry in ordered],
    }
    expected = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert project_pages("torch", [segment])[1] == expected


@given(files=st.lists(entries, max_size=5), compress=st.booleans())
def test_a_segment_gives_back_its_rows_in_url_order(files, compress):
    segment = Segment.of("/", files, compress=compress)
    ordered = sorted(files, key=lambda entry: entry.url)
    assert list(segment.lines()) == [
        (html_row(entry)[:-1].encode(), json_file(entry).encode()) for entry in ordered
    ]


def sha(n):
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_a_large_segment_is_read_back_across_decompression_chunks():
    files = [
        FileEntry(f"x-{n}-py3-none-any.whl", f"/x-{n}.whl", "1", n, sha(n), sha(-n), None, None)
        for n in range(3000)
    ]
    segment = Segment.of("/", files)
    assert len(segment.blob) > 64 * 1024  # more than one chunk of the reader
    assert [json.loads(entry)["size"] for _, entry in segment.lines()] == sorted(
        range(3000), key=lambda n: f"/x-{n}.whl"
    )
