"""The embedded demo: a small PyTorch-shaped tree of real wheels, built on demand.

``flaresuite index build`` with no source writes it and indexes it, so a fresh checkout shows
every page kind (accelerator directories, root dependencies, nightly retention, PEP 658
sidecars, libtorch listings) without any download. Wheels are tagged ``py3-none-any`` so pip
on any platform can resolve them, and are byte-for-byte reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

EPOCH = (2025, 1, 1, 0, 0, 0)
MTIME = 1735689600.0  # 2025-01-01T00:00:00Z, so data-upload-time is stable too


@dataclass(frozen=True)
class DemoWheel:
    directory: str
    name: str
    version: str
    requires_python: str | None = ">=3.9"
    requires: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-py3-none-any.whl"

    @property
    def key(self) -> str:
        return f"{self.directory}/{self.filename}"


DEMO_WHEELS = (
    DemoWheel("whl", "filelock", "3.16.1", ">=3.8"),
    DemoWheel("whl", "typing_extensions", "4.12.2", ">=3.8"),
    DemoWheel("whl", "Pillow", "11.0.0"),
    DemoWheel("whl/cpu", "torch", "2.5.1+cpu", requires=("filelock", "typing-extensions")),
    DemoWheel("whl/cpu", "torch", "2.6.0+cpu", requires=("filelock", "typing-extensions")),
    DemoWheel("whl/cu126", "torch", "2.6.0+cu126", requires=("filelock", "typing-extensions")),
    DemoWheel("whl/cpu", "torchvision", "0.21.0+cpu", ">=3.9", ("torch==2.6.0",)),
    DemoWheel("whl/nightly/cpu", "torch", "2.7.0.dev20250101+cpu", ">=3.10"),
    DemoWheel("whl/nightly/cpu", "torch", "2.7.0.dev20250102+cpu", ">=3.10"),
    DemoWheel("whl/nightly/cu126", "torch", "2.7.0.dev20250102+cu126", ">=3.10"),
    DemoWheel("whl/nightly/cpu", "not_on_the_allow_list", "1.0.0.dev20250101"),
)

DEMO_ARCHIVES = (
    "libtorch/cpu/libtorch-shared-with-deps-2.6.0+cpu.zip",
    "libtorch/cu126/libtorch-cxx11-abi-shared-with-deps-2.6.0+cu126.zip",
    "libtorch/nightly/cpu/libtorch-shared-with-deps-latest.zip",
)


def build_wheel(
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    requires: tuple[str, ...] = (),
) -> bytes:
    """A minimal valid wheel (binary distribution format: METADATA, WHEEL, RECORD)."""
    package = canonicalize_name(name).replace("-", "_")
    dist_info = f"{name}-{version}.dist-info"
    metadata_lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        metadata_lines.append(f"Requires-Python: {requires_python}")
    metadata_lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    files = {
        f"{package}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": ("\n".join(metadata_lines) + "\n").encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: flaresuite-demo\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{path},sha256={_record_hash(data)},{len(data)}\n" for path, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    return _zip(files)


def write_demo_tree(root: Path) -> list[Path]:
    """Writes the demo files under ``root`` (existing files are left alone); returns them."""
    written = []
    for wheel in DEMO_WHEELS:
        data = build_wheel(
            wheel.name,
            wheel.version,
            requires_python=wheel.requires_python,
            requires=wheel.requires,
        )
        written.append(_write(root / wheel.key, data))
    for key in DEMO_ARCHIVES:
        written.append(_write(root / key, _zip({"libtorch/README": b"demo archive\n"})))
    return written


def _write(path: Path, data: bytes) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    return path


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
