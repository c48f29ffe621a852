"""Distribution file names are parsed with packaging; page names are PEP 503 normalised."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from flaresuite.index.names import InvalidDistributionName, parse_distribution_name

name_parts = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9]|[._][A-Za-z0-9]){0,20}", fullmatch=True)
versions = st.builds(
    lambda release, pre, dev, local: ".".join(map(str, release)) + pre + dev + local,
    st.lists(st.integers(0, 3000), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "rc2", "b0"]),
    st.sampled_from(["", ".dev20250103", ".dev0"]),
    st.sampled_from(["", "+cu126", "+cpu", "+rocm6.2", "+c8bfe3f548"]),
)


@given(name=name_parts, version=versions)
def test_wheel_names_round_trip(name, version):
    wheel_name = name.replace("-", "_").replace(".", "_")
    parsed = parse_distribution_name(
        f"whl/cu126/{wheel_name}-{version}-cp311-cp311-linux_x86_64.whl"
    )
    assert parsed.project == canonicalize_name(wheel_name)
    assert parsed.version == Version(version)
    assert parsed.public_version == Version(Version(version).public)


@given(name=name_parts, version=versions)
def test_variant_manifests_and_sdists_parse_like_wheels(name, version):
    stem = name.replace("-", "_")
    for filename in (f"{stem}-{version}-variants.json", f"{stem}-{version}.tar.gz"):
        parsed = parse_distribution_name("whl/variant/" + filename)
        assert parsed.project == canonicalize_name(stem)
        assert parsed.version == Version(version)


def test_project_spellings_are_one_project():
    pillow = parse_distribution_name("whl/Pillow-10.0.0-cp311-cp311-linux_x86_64.whl")
    lower = parse_distribution_name("whl/pillow-10.1.0-cp311-cp311-linux_x86_64.whl")
    assert pillow.project == lower.project == "pillow"
    assert parse_distribution_name("whl/typing_extensions-4.15.0-py3-none-any.whl").project == (
        "typing-extensions"
    )


def test_local_labels_do_not_count_as_distinct_public_versions():
    cpu = parse_distribution_name("torch-2.6.0.dev20250103+cpu-cp310-cp310-linux_x86_64.whl")
    cuda = parse_distribution_name("torch-2.6.0.dev20250103+cu126-cp310-cp310-linux_x86_64.whl")
    assert cpu.version != cuda.version
    assert cpu.public_version == cuda.public_version == Version("2.6.0.dev20250103")


@pytest.mark.parametrize(
    "filename",
    [
        "torch.whl",
        "torch-latest-cp311-cp311-linux_x86_64.whl",
        "torch-2.0-py3.whl",
        "-1.0-variants.json",
        "torch-variants.json",
        "libtorch-shared-with-deps-latest.zip",
    ],
)
def test_names_no_format_allows_are_rejected(filename):
    with pytest.raises(InvalidDistributionName):
        parse_distribution_name(filename)
