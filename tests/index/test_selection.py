"""What a directory publishes: accepted files, sidecars, allow list and nightly retention."""

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from flaresuite.index.allow_list import default_allow_list, parse_allow_list
from flaresuite.index.model import SourceObject
from flaresuite.index.names import NameParser
from flaresuite.index.nightly_allow_list import PYTORCH_NIGHTLY_ALLOW_LIST
from flaresuite.index.selection import Policy, Retention, select, select_archives


def objects(*keys):
    return [SourceObject(key, 1, f"etag-{key}") for key in keys]


def keys_of(selection):
    return sorted(d.obj.key for d in selection.distributions)


def nightly(keys, keep, allow):
    retention = Retention(keep, allow)
    parser = NameParser()
    retention.observe(objects(*keys), parser)
    return select(objects(*keys), parser, Policy(allow, retention.kept()))


def test_sidecars_attach_to_their_distribution_and_are_not_listed():
    selection = select(
        objects(
            "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
            "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl.metadata",
            "whl/cpu/filelock-3.16.1-py3-none-any.whl",
        ),
        NameParser(),
        Policy(),
    )
    by_key = {d.obj.key: d for d in selection.distributions}
    assert sorted(by_key) == [
        "whl/cpu/filelock-3.16.1-py3-none-any.whl",
        "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
    ]
    torch = by_key["whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"]
    assert torch.sidecar.key.endswith(".whl.metadata")
    assert by_key["whl/cpu/filelock-3.16.1-py3-none-any.whl"].sidecar is None


def test_unparseable_names_are_reported_not_published():
    selection = select(
        objects("whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl"), NameParser(), Policy()
    )
    assert selection.distributions == []
    assert [key for key, _ in selection.rejected] == [
        "whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl"
    ]


def test_the_allow_list_matches_normalised_names_and_hides_the_rest():
    allow = parse_allow_list(["torch", "Typing.Extensions", "Pillow"])
    selection = select(
        objects(
            "whl/torch-2.5.1-cp311-cp311-linux_x86_64.whl",
            "whl/typing_extensions-4.12.2-py3-none-any.whl",
            "whl/pillow-11.0.0-cp311-cp311-linux_x86_64.whl",
            "whl/notallowed-1.0-py3-none-any.whl",
        ),
        NameParser(),
        Policy(allow_list=allow),
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
    selection = nightly(nightly_keys(dates), 3, parse_allow_list(["torch"]))
    kept_versions = {str(d.name.public_version) for d in selection.distributions}
    assert kept_versions == {"2.7.0.dev20250108", "2.7.0.dev20250109", "2.7.0.dev20250110"}
    assert len(selection.distributions) == 3 * 2 * 2  # every accelerator and Python tag stays
    assert selection.hidden == 7 * 2 * 2


def test_nightly_retention_is_decided_across_directories():
    """A version seen only in another directory still counts against this one's."""
    retention = Retention(1, None)
    parser = NameParser()
    newer = objects("whl/nightly/cu126/torch-2.8.0.dev20250102+cu126-cp311-cp311-linux_x86_64.whl")
    older = objects("whl/nightly/cpu/torch-2.8.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl")
    retention.observe(newer, parser)
    retention.observe(older, parser)
    selection = select(older, parser, Policy(None, retention.kept()))
    assert selection.distributions == [] and selection.hidden == 1


def test_nightly_retention_orders_by_pep440_not_by_text():
    keys = [
        "whl/nightly/cpu/torch-2.9.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
        "whl/nightly/cpu/torch-2.10.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl",
    ]
    assert keys_of(nightly(keys, 1, parse_allow_list(["torch"]))) == [keys[1]]


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
    selection = nightly(keys, keep, parse_allow_list(["torch", "torchvision"]))
    for project in ("torch", "torchvision"):
        every = {Version(f"2.{m}.0.dev202501{d:02d}") for m, d in releases if d > 0}
        expected = set(sorted(every, reverse=True)[:keep])
        shown = {
            d.name.public_version for d in selection.distributions if d.name.project == project
        }
        assert shown == expected
    assert len(selection.distributions) + selection.hidden == len(keys)


def test_libtorch_archives_are_listed_without_parsing_versions_and_odd_names_refused():
    archives, rejected = select_archives(
        objects(
            "libtorch/nightly/cu126/libtorch-cxx11-abi-shared-with-deps-latest.zip",
            "libtorch/nightly/cu126/libtorch-shared-with-deps-2.6.0+cu126.zip",
            "libtorch/nightly/cu126/libtorch-shared with space.zip",
            "libtorch/nightly/cu126/other-archive.zip",
            "libtorch/nightly/cu126/README",
        )
    )
    assert [o.key.rsplit("/", 1)[1] for o in archives] == [
        "libtorch-cxx11-abi-shared-with-deps-latest.zip",
        "libtorch-shared-with-deps-2.6.0+cu126.zip",
    ]
    assert rejected == ["libtorch/nightly/cu126/libtorch-shared with space.zip"]
