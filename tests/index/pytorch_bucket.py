"""A small bucket shaped like download.pytorch.org's, shared by the golden tests (in memory) and
the moto tests (over real S3).

Every key is here for a reason, named beside it: a page kind, a selection rule, or one of the
parity items of the index builder's history (the numbers are the items of issue 10).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seed:
    key: str
    body: bytes
    checksum: str = "native"
    """``native`` (S3 computes SHA-256), ``declared`` (``x-amz-meta-checksum-sha256`` only, as
    PyTorch's upload CI sets it) or ``none``."""


def core_metadata(name: str, version: str, requires_python: str | None = None) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.append("Requires-Dist: filelock")
    return ("\n".join(lines) + "\n\nA long description that no header scan reads.\n").encode()


def _wheel(key: str, checksum: str = "native") -> Seed:
    return Seed(key, f"wheel bytes of {key}".encode(), checksum)


def _sidecar(key: str, name: str, version: str, requires_python: str | None) -> Seed:
    return Seed(key + ".metadata", core_metadata(name, version, requires_python))


TORCH_CPU = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
TORCH_CU121 = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
TORCH_ROCM = "whl/rocm6.2/torch-2.5.1+rocm6.2-cp311-cp311-linux_x86_64.whl"
TORCH_ROCM_THREE_PART = "whl/rocm6.2.4/torch-2.6.0+rocm6.2.4-cp311-cp311-linux_x86_64.whl"
"""Item 1: accelerator directories named ``rocm<major>.<minor>.<patch>``."""
TORCH_XPU = "whl/xpu/torch-2.12.0+xpu-cp313-cp313-linux_x86_64.whl"
TYPING_EXTENSIONS = "whl/typing_extensions-4.12.2-py3-none-any.whl"
"""Item 6: uploaded without any checksum; PyTorch adds one later by copying it onto itself."""
QUERY_KEY = TORCH_CU121 + "?.whl"
"""Item 9: linked raw, ``?`` would start a query and the link would fetch another object than
the one hashed: refused and reported."""
SPACE_KEY = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64 (1).whl"
"""Item 9: a browser's name for a second download of the same file; refused and reported."""
FILELOCK = "whl/filelock-3.16.1-py3-none-any.whl"
NETWORKX_33 = "whl/networkx-3.3-py3-none-any.whl"
"""Item 7: no sidecar, and no Requires-Python unless an override supplies it."""
NETWORKX_321 = "whl/networkx-3.2.1-py3-none-any.whl"
STRAY = "whl/notallowed-1.0-py3-none-any.whl"
"""Item 4: a stray upload outside the allow list."""
VARIANT_WHEEL = "whl/variant/torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl"
"""Item 2: a PEP 817/825 variant wheel (variant label ``cu128``)."""
VARIANTS_JSON = "whl/variant/torch-2.9.0-variants.json"
SOURCE_TARBALL = "source_code/test/torch-2.9.0.tar.gz"
"""Item 5: ``source_code/test`` holds source tarballs."""
CUDNN_WHEEL = "whl/cu121/nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl"
CUDNN_PAGE = "whl/cu121/nvidia-cudnn-cu12/index.html"
"""Item 3: a dependency index PyTorch mirrors beside the wheels, linking to PyPI's file host; it
wins over the page our own ``nvidia_cudnn_cu12`` wheel would give."""
CUDNN_PAGE_BODY = (
    b"<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for nvidia-cudnn-cu12</h1>\n"
    b'    <a href="https://files.pythonhosted.org/packages/9f/fd/'
    b"nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl#sha256=" + b"ab" * 32 + b'">'
    b"nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl</a><br/>\n"
    b"  </body>\n</html>\n"
)
GENERATOR_PAGE = "whl/cu121/torch/index.html"
"""Item 3: the reference generator's own page of a foundation package, kept beside the wheels,
with absolute links to a host that serves this very bucket (``manage_v2.py`` writes
``https://download-r2.pytorch.org`` for torch on nightly). It was written before the newest
wheel arrived: not a mirror, so the page built from the files replaces it."""
GENERATOR_PAGE_BODY = (
    b"<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n"
    b'    <a href="https://download-r2.pytorch.org/whl/cu121/'
    b'torch-2.5.0%2Bcu121-cp311-cp311-linux_x86_64.whl">'
    b"torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl</a><br/>\n"
    b"  </body>\n</html>\n<!--TIMESTAMP 1735900000-->"
)
STALE_PAGE = "whl/cu121/xformers/index.html"
"""Item 3: a page the reference generated from files of this bucket that are gone (no external
links): neither published nor listed, and its directory is reported as skipped."""


def nightly(date: str, accelerator: str, python: str = "cp311") -> str:
    return (
        f"whl/nightly/{accelerator}/torch-2.7.0.dev{date}+{accelerator}-"
        f"{python}-{python}-linux_x86_64.whl"
    )


SEEDS: tuple[Seed, ...] = (
    # whl: root dependencies, every accelerator directory kind, legacy and nested directories
    _wheel(FILELOCK),
    _sidecar(FILELOCK, "filelock", "3.16.1", ">=3.8"),
    _wheel(TYPING_EXTENSIONS, "none"),
    _wheel("whl/Pillow-10.0.0-cp311-cp311-linux_x86_64.whl"),
    _wheel("whl/pillow-11.0.0-cp311-cp311-linux_x86_64.whl", "declared"),
    _wheel(NETWORKX_33),
    _wheel(NETWORKX_321),
    _sidecar(NETWORKX_321, "networkx", "3.2.1", ">=3.9"),
    _wheel(STRAY),
    _wheel(TORCH_CPU),
    _sidecar(TORCH_CPU, "torch", "2.5.1+cpu", ">=3.9,<4"),
    _wheel(TORCH_CU121),
    _sidecar(TORCH_CU121, "torch", "2.5.1+cu121", ">=3.9"),
    _wheel(CUDNN_WHEEL),
    Seed(CUDNN_PAGE, CUDNN_PAGE_BODY),
    Seed(STALE_PAGE, b'<a href="/whl/cu121/xformers-0.0.28-cp311-cp311-linux_x86_64.whl">x</a>'),
    Seed(GENERATOR_PAGE, GENERATOR_PAGE_BODY),
    _wheel(TORCH_ROCM),
    _wheel(TORCH_ROCM_THREE_PART),
    _wheel(TORCH_XPU),
    Seed("whl/cu130/README", b"a new accelerator directory, no wheel yet"),
    _wheel("whl/cpu-cxx11-abi/torch-2.5.1+cpu.cxx11.abi-cp311-cp311-linux_x86_64.whl"),
    _wheel("whl/cu121_pypi_cudnn/torch-2.5.1-cp311-cp311-linux_x86_64.whl"),
    _wheel("whl/cu121/nested/torch-2.4.0-cp311-cp311-linux_x86_64.whl"),  # not a page directory
    Seed("whl/cu121/torch-latest-cp311-cp311-linux_x86_64.whl", b"no PEP 440 version"),
    Seed(QUERY_KEY, b"not the wheel its link would name"),
    Seed(SPACE_KEY, b"a second download"),
    # whl/nightly: retention over four dates (kept: the newest two), sidecars, allow list
    _wheel(nightly("20250101", "cpu")),
    _wheel(nightly("20250102", "cpu")),
    _wheel(nightly("20250103", "cpu")),
    _sidecar(nightly("20250103", "cpu"), "torch", "2.7.0.dev20250103+cpu", ">=3.10"),
    _wheel(nightly("20250103", "cpu", "cp312")),
    _wheel(nightly("20250104", "cu126")),
    _wheel("whl/nightly/pytorch_triton-3.2.0+git4b3bb1f8-cp311-cp311-linux_x86_64.whl"),
    _wheel("whl/nightly/cpu/not_on_the_list-1.0.dev20250101-py3-none-any.whl"),
    # whl/test
    _wheel("whl/test/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl"),
    _wheel("whl/test/notallowed-2.0-py3-none-any.whl"),
    # wheel variants
    _wheel(VARIANT_WHEEL),
    Seed(VARIANTS_JSON, b'{"variants": {"cu128": {}}}'),
    _wheel("whl/test/variant/torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu126.whl"),
    Seed("whl/test/variant/torch-2.9.0-variants.json", b'{"variants": {"cu126": {}}}'),
    _wheel("whl/preview/forge/torch-2.10.0.dev20251001+forge-cp312-cp312-linux_x86_64.whl"),
    # libtorch
    _wheel("libtorch/libtorch-macos-arm64-2.5.1.zip"),
    _wheel("libtorch/cpu/libtorch-shared-with-deps-2.5.1+cpu.zip"),
    _wheel("libtorch/cpu/old/libtorch-shared-with-deps-2.0.0+cpu.zip"),  # item 1: nested, named
    _wheel("libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.5.1+cu121.zip"),
    Seed("libtorch/rocm6.2/README", b"no archive yet"),
    _wheel("libtorch/nightly/cpu/libtorch-shared-with-deps-latest.zip"),
    # source tarballs
    _wheel(SOURCE_TARBALL),
)
