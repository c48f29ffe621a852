"""The pages a prefix publishes: PEP 503 HTML, PEP 691 JSON and libtorch listings."""

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

from flaresuite.index.model import FileMetadata, SourceObject
from flaresuite.index.pages import HTML, SIMPLE_JSON, render_libtorch, render_prefix
from flaresuite.index.selection import select, select_archives

UPLOADED = datetime(2025, 1, 3, 12, 30, 5, tzinfo=UTC)


class Anchors(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str], str]] = []
        self._attrs: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._attrs = dict(attrs)

    def handle_data(self, data):
        if self._attrs is not None:
            self.anchors.append((self._attrs, data))
            self._attrs = None


def pages_of(prefix, keys, metadata=None, with_hashes=True, **select_args):
    objs = [SourceObject(k, 100, "e", UPLOADED) for k in keys]
    selection = select(prefix, objs, **select_args)
    return {p.key: p for p in render_prefix(selection, metadata or {}, with_hashes=with_hashes)}


TORCH = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
FILELOCK = "whl/filelock-3.16.1-py3-none-any.whl"


def test_project_pages_link_root_relative_with_hash_and_core_metadata():
    meta = {
        TORCH: FileMetadata(
            sha256="ab" * 32, core_metadata_sha256="cd" * 32, requires_python=">=3.9,<4"
        )
    }
    pages = pages_of("whl", [TORCH, TORCH + ".metadata", FILELOCK], meta)
    page = pages["whl/cu121/torch/index.html"]
    assert page.content_type == HTML
    [(attrs, text)] = Anchors(page.body.decode()).anchors
    assert attrs == {
        "href": "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl#sha256=" + "ab" * 32,
        "data-dist-info-metadata": "sha256=" + "cd" * 32,
        "data-core-metadata": "sha256=" + "cd" * 32,
        "data-requires-python": ">=3.9,<4",
        "data-upload-time": "2025-01-03T12:30:05Z",
    }
    assert text == "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
    assert b'data-requires-python="&gt;=3.9,&lt;4"' in page.body


def test_files_without_metadata_get_plain_links():
    pages = pages_of("whl", [FILELOCK])
    [(attrs, _)] = Anchors(pages["whl/filelock/index.html"].body.decode()).anchors
    assert attrs == {
        "href": "/whl/filelock-3.16.1-py3-none-any.whl",
        "data-upload-time": "2025-01-03T12:30:05Z",
    }


def test_nightly_pages_never_promise_a_hash():
    key = "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl"
    meta = {key: FileMetadata(sha256="ab" * 32, core_metadata_sha256="cd" * 32)}
    pages = pages_of("whl/nightly", [key], meta, with_hashes=False)
    body = pages["whl/nightly/cpu/torch/index.html"].body.decode()
    assert "#sha256=" not in body and 'data-core-metadata="sha256=' + "cd" * 32 in body
    document = json.loads(pages["whl/nightly/cpu/torch/index.json"].body)
    assert document["files"][0]["hashes"] == {}


def test_directory_pages_include_root_files_and_the_root_page_includes_everything():
    other = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
    pages = pages_of("whl", [TORCH, other, FILELOCK])
    listing = lambda key: [t for _, t in Anchors(pages[key].body.decode()).anchors]  # noqa: E731
    assert listing("whl/cu121/index.html") == ["filelock", "torch"]
    assert listing("whl/index.html") == ["filelock", "torch"]
    assert len(listing("whl/torch/index.html")) == 2
    assert listing("whl/cu121/torch/index.html") == [TORCH.rsplit("/", 1)[1]]


def test_project_lists_never_show_directories_or_vanished_projects():
    pages = pages_of("whl", [TORCH, FILELOCK, "whl/cu121/index.html", "whl/cu121/numpy/index.html"])
    names = [t for _, t in Anchors(pages["whl/index.html"].body.decode()).anchors]
    assert names == ["filelock", "torch"]


def test_case_variants_share_one_normalised_page():
    pages = pages_of(
        "whl",
        [
            "whl/Pillow-10.0.0-cp311-cp311-linux_x86_64.whl",
            "whl/pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
        ],
    )
    anchors = Anchors(pages["whl/pillow/index.html"].body.decode()).anchors
    assert [text for _, text in anchors] == [
        "Pillow-10.0.0-cp311-cp311-linux_x86_64.whl",
        "pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
    ]
    assert "whl/Pillow/index.html" not in pages


def test_an_empty_accelerator_directory_gets_an_index_of_the_root_files():
    pages = pages_of("whl", [FILELOCK, "whl/cu130/placeholder"])
    names = [t for _, t in Anchors(pages["whl/cu130/index.html"].body.decode()).anchors]
    assert names == ["filelock"]


def test_every_value_is_html_escaped():
    key = "whl/evil-1.0-py3-none-any.whl"
    meta = {key: FileMetadata(requires_python='>=3"><script>alert(1)</script>')}
    body = pages_of("whl", [key], meta)["whl/evil/index.html"].body.decode()
    assert "<script>" not in body
    assert "&lt;script&gt;" in body and "&#34;&gt;" in body


def test_json_pages_follow_pep_691_and_700():
    meta = {
        TORCH: FileMetadata(
            sha256="ab" * 32, core_metadata_sha256="cd" * 32, requires_python=">=3.9"
        )
    }
    pages = pages_of("whl", [TORCH, FILELOCK], meta)
    project_list = pages["whl/cu121/index.json"]
    assert project_list.content_type == SIMPLE_JSON
    assert json.loads(project_list.body) == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "filelock"}, {"name": "torch"}],
    }
    assert json.loads(pages["whl/cu121/torch/index.json"].body) == {
        "meta": {"api-version": "1.1"},
        "name": "torch",
        "versions": ["2.5.1+cu121"],
        "files": [
            {
                "filename": "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl",
                "url": "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl",
                "hashes": {"sha256": "ab" * 32},
                "core-metadata": {"sha256": "cd" * 32},
                "dist-info-metadata": {"sha256": "cd" * 32},
                "size": 100,
                "requires-python": ">=3.9",
                "upload-time": "2025-01-03T12:30:05Z",
            }
        ],
    }
    filelock = json.loads(pages["whl/filelock/index.json"].body)["files"][0]
    assert filelock["core-metadata"] is False and filelock["hashes"] == {}


def test_the_same_input_renders_the_same_bytes():
    first = pages_of("whl", [TORCH, FILELOCK])
    second = pages_of("whl", [FILELOCK, TORCH])
    assert {k: p.body for k, p in first.items()} == {k: p.body for k, p in second.items()}


def test_listings_are_marked_so_they_are_written_after_the_pages_they_link():
    pages = pages_of("whl", [TORCH])
    assert {k for k, p in pages.items() if p.is_listing} == {
        "whl/index.html",
        "whl/index.json",
        "whl/cu121/index.html",
        "whl/cu121/index.json",
    }


def test_libtorch_listings_link_each_archive_of_their_directory():
    objs = [
        SourceObject(k, 1, "e")
        for k in (
            "libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.5.1+cu121.zip",
            "libtorch/cu121/libtorch-shared-with-deps-2.5.1+cu121.zip",
            "libtorch/libtorch-macos-arm64-2.5.1.zip",
            "libtorch/rocm6.2/placeholder",
        )
    ]
    pages = {p.key: p.body.decode() for p in render_libtorch(select_archives("libtorch", objs))}
    assert pages["libtorch/cu121/index.html"] == (
        '<a href="/libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu121.zip">'
        "libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu121.zip</a><br/>\n"
        '<a href="/libtorch/cu121/libtorch-shared-with-deps-2.5.1%2Bcu121.zip">'
        "libtorch-shared-with-deps-2.5.1%2Bcu121.zip</a><br/>\n"
    )
    assert pages["libtorch/index.html"].count("<a ") == 1
    assert pages["libtorch/rocm6.2/index.html"] == ""
