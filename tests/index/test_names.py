"""Distribution file names: one pattern splits them, packaging decides what they hold."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from flaresuite.index.names import InvalidDistributionName, NameParser, parse_distribution_name

name_parts = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9]|[._][A-Za-z0-9]){0,20}", fullmatch=True)
versions = st.builds(
    lambda release, pre, dev, local: ".".join(map(str, release)) + pre + dev + local,
    st.lists(st.integers(0, 3000), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "rc2", "b0"]),
    st.sampled_from(["", ".dev20250103", ".dev0"]),
    st.sampled_from(["", "+cu126", "+cpu", "+rocm6.2", "+c8bfe3f548"]),
)
tags = st.sampled_from(
    [
        "cp311-cp311-linux_x86_64",
        "cp313-cp313t-manylinux_2_28_x86_64",
        "py3-none-any",
        "py2.py3-none-any",
        "cp39-abi3-win_amd64",
        "cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64",
    ]
)


@given(name=name_parts, version=versions, tag=tags)
def test_wheel_names_parse_as_packaging_parses_them(name, version, tag):
    wheel_name = name.replace("-", "_").replace(".", "_")
    filename = f"{wheel_name}-{version}-{tag}.whl"
    parsed = parse_distribution_name(filename)
    project, expected_version, _build, _tags = parse_wheel_filename(filename)
    assert parsed.project == project
    assert parsed.version == expected_version
    assert parsed.version_text == str(expected_version)
    assert parsed.public_version == Version(expected_version.public)
    assert parsed.variant is None


component = st.text(alphabet="ab1_.-+!?# \u00e9", min_size=1, max_size=8)


@given(parts=st.lists(component, min_size=2, max_size=7))
def test_every_name_the_parser_accepts_packaging_accepts_the_same_way(parts):
    """The pattern is stricter than packaging (it refuses what would need escaping in a URL),
    never looser, and never reads a name differently."""
    filename = "-".join(parts) + ".whl"
    try:
        parsed = parse_distribution_name(filename)
    except InvalidDistributionName:
        return
    if parsed.variant is not None:
        filename = filename[: -len("-" + parsed.variant + ".whl")] + ".whl"
    try:
        project, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        pytest.fail(f"accepted {filename!r}, which packaging refuses")
    assert (parsed.project, parsed.version) == (project, version)


def test_build_tags_are_read_as_build_tags():
    parsed = parse_distribution_name("torch-2.5.1-1dev-cp311-cp311-linux_x86_64.whl")
    assert parsed.version == Version("2.5.1") and parsed.variant is None


def test_variant_wheels_carry_their_label():
    """PEP 817/825: a sixth part that is no build tag (a Python tag never starts with a digit)
    is the variant label; with a build tag there are seven parts."""
    parsed = parse_distribution_name("torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl")
    assert (parsed.project, parsed.version, parsed.variant) == ("torch", Version("2.9.0"), "cu128")
    built = parse_distribution_name("numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl")
    assert built.variant == "x86_64_v3"


@given(name=name_parts, version=versions)
def test_variant_manifests_and_sdists_parse_like_wheels(name, version):
    stem = name.replace("-", "_")
    for filename in (f"{stem}-{version}-variants.json", f"{stem}-{version}.tar.gz"):
        parsed = parse_distribution_name(filename)
        assert parsed.project == canonicalize_name(stem)
        assert parsed.version == Version(version)


def test_project_spellings_are_one_project():
    pillow = parse_distribution_name("Pillow-10.0.0-cp311-cp311-linux_x86_64.whl")
    lower = parse_distribution_name("pillow-10.1.0-cp311-cp311-linux_x86_64.whl")
    assert pillow.project == lower.project == "pillow"
    assert parse_distribution_name("typing_extensions-4.15.0-py3-none-any.whl").project == (
        "typing-extensions"
    )


def test_local_labels_do_not_count_as_distinct_public_versions():
    cpu = parse_distribution_name("torch-2.6.0.dev20250103+cpu-cp310-cp310-linux_x86_64.whl")
    cuda = parse_distribution_name("torch-2.6.0.dev20250103+cu126-cp310-cp310-linux_x86_64.whl")
    assert cpu.version != cuda.version
    assert cpu.public_version == cuda.public_version == Version("2.6.0.dev20250103")


def test_a_parser_builds_each_distinct_version_once():
    parser = NameParser()
    first = parser.parse("torch-2.6.0+cpu-cp310-cp310-linux_x86_64.whl")
    second = parser.parse("torch-2.6.0+cpu-cp311-cp311-linux_x86_64.whl")
    assert first.version is second.version


@pytest.mark.parametrize(
    "filename",
    [
        "torch.whl",
        "torch-latest-cp311-cp311-linux_x86_64.whl",
        "torch-2.0-py3.whl",
        "-1.0-variants.json",
        "torch-variants.json",
        "libtorch-shared-with-deps-latest.zip",
        "x-1.0-py3-none-any.whl?.whl",
        "x-1.0-py3-none-any#f.whl",
        "caf\u00e9-1.0-py3-none-any.whl",
        "a__b-1.0-py3-none-any.whl",
        "x y-1.0.tar.gz",
        "torch-2.9.0-cp312-cp312-linux_x86_64-CU128.whl",
        "torch-2.9.0-1-2-cp312-cp312-linux_x86_64.whl",
    ],
)
def test_names_no_format_allows_are_rejected(filename):
    with pytest.raises(InvalidDistributionName):
        parse_distribution_name(filename)
