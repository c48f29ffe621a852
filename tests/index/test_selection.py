"""What a prefix publishes: accepted files, sidecars, nightly allow list and retention."""

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from flaresuite.index.allow_list import default_allow_list, parse_allow_list
from flaresuite.index.model import SourceObject
from flaresuite.index.nightly_allow_list import PYTORCH_NIGHTLY_ALLOW_LIST
from flaresuite.index.selection import select, select_archives


def objects(*keys):
    return [SourceObject(key, 1, f"etag-{key}") for key in keys]


def keys_of(selection):
    return sorted(d.obj.key for d in selection.distributions)


def test_sidecars_attach_to_their_distribution_and_are_not_listed():
    selection = select(
        "whl",
        objects(
            "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
            "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl.metadata",
            "whl/filelock-3.16.1-py3-none-any.whl",
        ),
    )
    by_key = {d.obj.key: d for d in selection.distributions}
    assert sorted(by_key) == [
        "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
        "whl/filelock-3.16.1-py3-none-any.whl",
    ]
    assert by_key["whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"].sidecar.key.endswith(
        ".whl.metadata"
    )
    assert by_key["whl/filelock-3.16.1-py3-none-any.whl"].sidecar is None


def test_an_accelerator_directory_without_distributions_still_gets_a_page():
    selection = select("whl", objects("whl/filelock-3.16.1-py3-none-any.whl", "whl/cu130/README"))
    assert selection.directories == {"whl", "whl/cu130"}


def test_directories_of_other_prefixes_and_deeper_trees_are_ignored():
    selection = select(
        "whl",
        objects(
            "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
            "whl/cu121/extra/torch-2.5.1-cp311-cp311-linux_x86_64.whl",
        ),
    )
    assert selection.distributions == [] and selection.directories == set()


def test_unparseable_names_are_reported_not_published():
    selection = select("whl", objects("whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl"))
    assert selection.distributions == []
    assert [key for key, _ in selection.rejected] == [
        "whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl"
    ]


def test_nightly_shows_only_allow_listed_projects_matched_after_normalisation():
    allow = parse_allow_list(["torch", "Typing.Extensions", "Pillow"])
    selection = select(
        "whl/nightly",
        objects(
            "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
            "whl/nightly/typing_extensions-4.12.2-py3-none-any.whl",
            "whl/nightly/pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
            "whl/nightly/cpu/numpy-2.1.0-cp311-cp311-linux_x86_64.whl",
        ),
        allow_list=allow,
        keep=60,
    )
    assert {d.name.project for d in selection.distributions} == {
        "torch",
        "typing-extensions",
        "pillow",
    }
    assert selection.hidden == 1


def test_the_shipped_allow_list_is_pytorchs():
    allow = default_allow_list()
    assert len(PYTORCH_NIGHTLY_ALLOW_LIST) == 296
    assert len(allow) == 292  # Jinja2/jinja2 and friends are one project after PEP 503
    assert {"torch", "torchvision", "pytorch-triton", "typing-extensions", "jinja2"} <= allow


def nightly_keys(dates, accelerators=("cpu", "cu126")):
    return [
        f"whl/nightly/{acc}/torch-2.7.0.dev{date}+{acc}-cp{py}-cp{py}-linux_x86_64.whl"
        for date in dates
        for acc in accelerators
        for py in ("310", "311")
    ]


def test_nightly_keeps_the_newest_distinct_versions_with_every_file_of_each():
    dates = [f"202501{day:02d}" for day in range(1, 11)]
    selection = select(
        "whl/nightly", objects(*nightly_keys(dates)), allow_list=parse_allow_list(["torch"]), keep=3
    )
    kept_versions = {str(d.name.public_version) for d in selection.distributions}
    assert kept_versions == {"2.7.0.dev20250108", "2.7.0.dev20250109", "2.7.0.dev20250110"}
    assert len(selection.distributions) == 3 * 2 * 2  # every accelerator and Python tag stays
    assert selection.hidden == 7 * 2 * 2


def test_nightly_retention_orders_by_pep440_not_by_text():
    keys = [
        "whl/nightly/cpu/torch-2.9.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
        "whl/nightly/cpu/torch-2.10.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
    ]
    selection = select(
        "whl/nightly", objects(*keys), allow_list=parse_allow_list(["torch"]), keep=1
    )
    assert keys_of(selection) == [keys[1]]


@settings(max_examples=60, deadline=None)
@given(
    releases=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 30)), min_size=1, max_size=30),
    keep=st.integers(1, 10),
)
def test_nightly_retention_keeps_exactly_the_newest_versions_per_project(releases, keep):
    keys = [
        f"whl/nightly/{acc}/{project}-2.{minor}.0.dev202501{day:02d}+{acc}-cp311-cp311-linux_x86_64.whl"
        for minor, day in releases
        for project in ("torch", "torchvision")
        for acc in ("cpu", "cu126")
        if day > 0
    ]
    selection = select(
        "whl/nightly",
        objects(*keys),
        allow_list=parse_allow_list(["torch", "torchvision"]),
        keep=keep,
    )
    for project in ("torch", "torchvision"):
        every = {Version(f"2.{m}.0.dev202501{d:02d}") for m, d in releases if d > 0}
        expected = set(sorted(every, reverse=True)[:keep])
        shown = {
            d.name.public_version for d in selection.distributions if d.name.project == project
        }
        assert shown == expected
    assert len(selection.distributions) + selection.hidden == len(keys)


def test_libtorch_archives_are_listed_per_directory_without_parsing_versions():
    listing = select_archives(
        "libtorch/nightly",
        objects(
            "libtorch/nightly/cpu/libtorch-shared-with-deps-latest.zip",
            "libtorch/nightly/cu126/libtorch-cxx11-abi-shared-with-deps-latest.zip",
            "libtorch/nightly/cu126/other-archive.zip",
            "libtorch/nightly/rocm6.2/README",
        ),
    )
    assert {d: [o.key for o in objs] for d, objs in listing.items()} == {
        "libtorch/nightly/cpu": ["libtorch/nightly/cpu/libtorch-shared-with-deps-latest.zip"],
        "libtorch/nightly/cu126": [
            "libtorch/nightly/cu126/libtorch-cxx11-abi-shared-with-deps-latest.zip"
        ],
        "libtorch/nightly/rocm6.2": [],
    }
