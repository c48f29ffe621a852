"""Which keys a prefix indexes, and where."""

import pytest

from flaresuite.index.layout import href_path, is_distribution, subdir_of


@pytest.mark.parametrize(
    ("key", "directory"),
    [
        ("whl/torch-2.5.1-cp311-cp311-linux_x86_64.whl", "whl"),
        ("whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl", "whl/cu121"),
        ("whl/rocm6.2/torch-2.5.1+rocm6.2-cp311-cp311-linux_x86_64.whl", "whl/rocm6.2"),
        ("whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl", "whl/cpu"),
        ("whl/xpu/torch-2.12.0+xpu-cp313-cp313-linux_x86_64.whl", "whl/xpu"),
    ],
)
def test_a_key_in_the_prefix_or_an_accelerator_directory_is_indexed_there(key, directory):
    assert subdir_of(key, "whl") == directory


@pytest.mark.parametrize(
    "key",
    [
        "whl/cu121_full/torch.whl",  # unanchored re.match accepted these in the reference
        "whl/cu121_pypi_cudnn/torch.whl",
        "whl/cpu-cxx11-abi/torch.whl",
        "whl/cu121/nested/torch.whl",
        "whl/nightly/cu126/torch.whl",  # belongs to the whl/nightly prefix
        "whl/rocm6/torch.whl",
        "whl/xcpu/torch.whl",
        "whlx/torch.whl",
    ],
)
def test_other_directories_are_not_indexed(key):
    assert subdir_of(key, "whl") is None


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


def test_hrefs_are_root_relative_with_plus_escaped():
    assert href_path("whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl") == (
        "/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl"
    )
