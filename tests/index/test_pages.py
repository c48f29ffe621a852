"""The pages a run publishes: PEP 503 HTML, PEP 691 JSON and libtorch listings."""

import hashlib
import json
from datetime import UTC, datetime
from html.parser import HTMLParser

from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.pages import HTML, SIMPLE_JSON
from flaresuite.stores.memory import MemoryBucket

from .conftest import FakeSource, core_metadata

UPLOADED = datetime(2025, 1, 3, 12, 30, 5, tzinfo=UTC)
TORCH = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
FILELOCK = "whl/filelock-3.16.1-py3-none-any.whl"


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


async def pages_of(keys, *, prefixes=("whl",), sidecars=None, no_checksum=(), **config):
    source = FakeSource()
    for key in keys:
        source.add(key, sha256=None if key in no_checksum else "auto")
        source.touch(key, UPLOADED)
    for key, body in (sidecars or {}).items():
        source.add(key, body)
    main = MemoryBucket()
    settings = dict(prefixes=prefixes, warn_after=(), allow_list_prefixes=frozenset(), **config)
    await IndexBuilder(
        source, [main], MemoryBucket(), config=BuildConfig(**settings), log=lambda *a, **k: None
    ).run()
    return main.objects, source


def texts(objects, key):
    return [text for _, text in Anchors(objects[key].body.decode()).anchors]


async def test_project_pages_link_root_relative_with_hash_and_core_metadata():
    sidecar = core_metadata("torch", "2.5.1+cu121", ">=3.9,<4")
    objects, source = await pages_of([TORCH, FILELOCK], sidecars={TORCH + ".metadata": sidecar})
    page = objects["whl/cu121/torch/index.html"]
    assert page.content_type == HTML
    [(attrs, text)] = Anchors(page.body.decode()).anchors
    digest = source.checksums[TORCH]
    metadata_digest = hashlib.sha256(sidecar).hexdigest()
    assert attrs == {
        "href": f"/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl#sha256={digest}",
        "data-dist-info-metadata": f"sha256={metadata_digest}",
        "data-core-metadata": f"sha256={metadata_digest}",
        "data-requires-python": ">=3.9,<4",
        "data-upload-time": "2025-01-03T12:30:05Z",
    }
    assert text == "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
    assert b'data-requires-python="&gt;=3.9,&lt;4"' in page.body


async def test_files_without_metadata_get_plain_links():
    objects, _ = await pages_of([FILELOCK], no_checksum={FILELOCK})
    [(attrs, _)] = Anchors(objects["whl/filelock/index.html"].body.decode()).anchors
    assert attrs == {
        "href": "/whl/filelock-3.16.1-py3-none-any.whl",
        "data-upload-time": "2025-01-03T12:30:05Z",
    }


async def test_nightly_pages_never_promise_a_hash():
    key = "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl"
    objects, _ = await pages_of(
        [key],
        prefixes=("whl/nightly",),
        sidecars={key + ".metadata": core_metadata("torch", "2.7.0.dev20250101")},
    )
    body = objects["whl/nightly/cpu/torch/index.html"].body.decode()
    assert "#sha256=" not in body and 'data-core-metadata="sha256=' in body
    document = json.loads(objects["whl/nightly/cpu/torch/index.json"].body)
    assert document["files"][0]["hashes"] == {}


async def test_directory_pages_include_root_files_and_the_root_page_includes_everything():
    other = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
    objects, _ = await pages_of([TORCH, other, FILELOCK])
    assert texts(objects, "whl/cu121/index.html") == ["filelock", "torch"]
    assert texts(objects, "whl/index.html") == ["filelock", "torch"]
    assert texts(objects, "whl/torch/index.html") == [
        other.rsplit("/", 1)[1],
        TORCH.rsplit("/", 1)[1],
    ]
    assert texts(objects, "whl/cu121/torch/index.html") == [TORCH.rsplit("/", 1)[1]]
    assert texts(objects, "whl/cu121/filelock/index.html") == [FILELOCK.rsplit("/", 1)[1]]


async def test_project_lists_never_show_directories_or_files_that_are_not_distributions():
    objects, _ = await pages_of([TORCH, FILELOCK, "whl/cu121/index.html", "whl/README"])
    assert texts(objects, "whl/index.html") == ["filelock", "torch"]


async def test_case_variants_share_one_normalised_page():
    objects, _ = await pages_of(
        [
            "whl/Pillow-10.0.0-cp311-cp311-linux_x86_64.whl",
            "whl/pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
        ]
    )
    assert texts(objects, "whl/pillow/index.html") == [
        "Pillow-10.0.0-cp311-cp311-linux_x86_64.whl",
        "pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
    ]
    assert "whl/Pillow/index.html" not in objects


async def test_an_accelerator_directory_without_wheels_gets_an_index_of_the_root_files():
    """PyTorch's test-infra#6411: a new accelerator directory stayed unindexed."""
    objects, _ = await pages_of([FILELOCK, "whl/cu130/placeholder"])
    assert texts(objects, "whl/cu130/index.html") == ["filelock"]


async def test_every_value_is_html_escaped():
    key = "whl/evil-1.0-py3-none-any.whl"
    objects, _ = await pages_of(
        [key], sidecars={key + ".metadata": core_metadata("evil", "1.0", "<4,>=3.9")}
    )
    body = objects["whl/evil/index.html"].body.decode()
    assert 'data-requires-python="&lt;4,&gt;=3.9"' in body


async def test_a_requires_python_that_is_no_specifier_is_left_out():
    key = "whl/evil-1.0-py3-none-any.whl"
    objects, _ = await pages_of(
        [key],
        sidecars={key + ".metadata": core_metadata("evil", "1.0", '>=3"><script>x</script>')},
    )
    assert "data-requires-python" not in objects["whl/evil/index.html"].body.decode()


async def test_requires_python_overrides_win_over_missing_or_stale_metadata():
    """pytorch/pytorch#152191: networkx 3.3 without a sidecar was picked on Python 3.9."""
    objects, _ = await pages_of(["whl/networkx-3.3-py3-none-any.whl"])
    body = objects["whl/networkx/index.html"].body.decode()
    assert 'data-requires-python="&gt;=3.10"' in body
    document = json.loads(objects["whl/networkx/index.json"].body)
    assert document["files"][0]["requires-python"] == ">=3.10"


async def test_json_pages_follow_pep_691_and_700():
    sidecar = core_metadata("torch", "2.5.1+cu121", ">=3.9")
    objects, source = await pages_of([TORCH, FILELOCK], sidecars={TORCH + ".metadata": sidecar})
    project_list = objects["whl/cu121/index.json"]
    assert project_list.content_type == SIMPLE_JSON
    assert json.loads(project_list.body) == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "filelock"}, {"name": "torch"}],
    }
    metadata_digest = {"sha256": hashlib.sha256(sidecar).hexdigest()}
    assert json.loads(objects["whl/cu121/torch/index.json"].body) == {
        "meta": {"api-version": "1.1"},
        "name": "torch",
        "versions": ["2.5.1+cu121"],
        "files": [
            {
                "filename": "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl",
                "url": "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl",
                "hashes": {"sha256": source.checksums[TORCH]},
                "core-metadata": metadata_digest,
                "dist-info-metadata": metadata_digest,
                "size": len(source.bodies[TORCH]),
                "requires-python": ">=3.9",
                "upload-time": "2025-01-03T12:30:05Z",
            }
        ],
    }
    filelock = json.loads(objects["whl/filelock/index.json"].body)["files"][0]
    assert filelock["core-metadata"] is False


async def test_variant_wheels_and_their_manifest_are_listed_together():
    objects, _ = await pages_of(
        [
            "whl/variant/torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl",
            "whl/variant/torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu126.whl",
            "whl/variant/torch-2.9.0-variants.json",
        ],
        prefixes=("whl/variant",),
    )
    assert texts(objects, "whl/variant/torch/index.html") == [
        "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu126.whl",
        "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl",
        "torch-2.9.0-variants.json",
    ]


async def test_libtorch_listings_link_each_archive_of_their_directory():
    objects, _ = await pages_of(
        [
            "libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.5.1+cu121.zip",
            "libtorch/cu121/libtorch-shared-with-deps-2.5.1+cu121.zip",
            "libtorch/libtorch-macos-arm64-2.5.1.zip",
            "libtorch/rocm6.2/placeholder",
        ],
        prefixes=("libtorch",),
    )
    assert objects["libtorch/cu121/index.html"].body.decode() == (
        '<a href="/libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu121.zip">'
        "libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu121.zip</a><br/>\n"
        '<a href="/libtorch/cu121/libtorch-shared-with-deps-2.5.1%2Bcu121.zip">'
        "libtorch-shared-with-deps-2.5.1%2Bcu121.zip</a><br/>\n"
    )
    assert objects["libtorch/index.html"].body.count(b"<a ") == 1
    assert objects["libtorch/rocm6.2/index.html"].body == b""
