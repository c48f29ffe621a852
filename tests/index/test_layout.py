"""Which directories a prefix indexes, which files count, and how they are linked and cached."""

import pytest

from flaresuite.index.layout import (
    cache_control,
    href,
    is_accelerator_directory,
    is_distribution,
    is_project_directory,
    nested_names,
    parse_prefix,
)


@pytest.mark.parametrize(
    "name",
    ["cu121", "cu130", "rocm6.2", "rocm6.2.4", "rocm7.0", "cpu", "xpu", "cu126-extra", "cpuonly"],
)
def test_accelerator_directories_match_the_reference_patterns_at_the_start(name):
    assert is_accelerator_directory(name)


@pytest.mark.parametrize(
    "name",
    [
        "cpu-cxx11-abi",  # the reference's legacy exclusions
        "cpu_pypi_pkg",
        "cu121_full",
        "cu118_pypi_cudnn",
        "rocm6",
        "xcpu",
        "nightly",
        "torch",
    ],
)
def test_legacy_and_other_directories_are_not_accelerator_directories(name):
    assert not is_accelerator_directory(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nvidia-cudnn-cu12", True),
        ("torch", True),
        ("cpu-cxx11-abi", True),  # named like a page directory; what it holds decides
        ("nvidia_cudnn_cu12", False),  # a name, but not in its normalised form
        ("Pillow", False),
        ("cu121_pypi_cudnn", False),
        ("rocm6.2", False),
        ("-x", False),
        ("", False),
    ],
)
def test_a_project_page_directory_is_named_by_a_normalised_project_name(name, expected):
    assert is_project_directory(name) is expected


def test_other_prefixes_below_a_prefix_are_not_its_business():
    prefixes = ("whl", "whl/nightly", "whl/test", "whl/test/variant", "whl/preview/forge")
    assert nested_names("whl", prefixes) == {"nightly", "test", "preview"}
    assert nested_names("whl/test", prefixes) == {"variant"}
    assert nested_names("", ("", "whl")) == {"whl"}


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("a-1-py3-none-any.whl", True),
        ("libtorch-2.5.1.zip", True),
        ("a-1.tar.gz", True),
        ("torch-2.9.0-variants.json", True),
        ("a-1-py3-none-any.whl.metadata", False),
        ("index.html", False),
        ("status.json", False),
        ("a-1.tar.bz2", False),
    ],
)
def test_accepted_file_types(key, accepted):
    assert is_distribution(key) is accepted


def test_hrefs_are_root_relative_and_percent_encoded_with_rfc_3986_path_rules():
    assert href("whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl") == (
        "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl"
    )
    assert href("whl/a b?c#d\u00e9.whl") == "/whl/a%20b%3Fc%23d%C3%A9.whl"


def test_hrefs_can_point_at_another_host():
    assert href("whl/x-1.0.tar.gz", "https://download-r2.example.org") == (
        "https://download-r2.example.org/whl/x-1.0.tar.gz"
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("whl", "max-age=600, public, must-revalidate"),
        ("libtorch", "max-age=600, public, must-revalidate"),
        ("whl/latest", "max-age=600, public, must-revalidate"),  # "latest" is not "test"
        ("whl/contest", "max-age=600, public, must-revalidate"),
        ("whl/nightly", "no-cache,no-store,must-revalidate"),
        ("whl/test/variant", "no-cache,no-store,must-revalidate"),
        ("whl/preview/forge", "no-cache,no-store,must-revalidate"),
        ("source_code/test", "no-cache,no-store,must-revalidate"),
    ],
)
def test_cache_control_is_decided_by_path_segment(prefix, expected):
    assert cache_control(prefix) == expected


@pytest.mark.parametrize("text", ["", "/", "whl/../x", "whl//x", "./whl"])
def test_malformed_prefixes_are_refused(text):
    with pytest.raises(ValueError, match="not a prefix"):
        parse_prefix(text)
