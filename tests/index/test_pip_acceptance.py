"""Real pip and real uv resolve from a generated index served over loopback HTTP, both as PEP
691 JSON (``flaresuite index serve``, which honours ``Accept``) and as PEP 503 HTML (a plain
static server, which only has ``index.html`` to give).

pip and uv run isolated (no user config, no cache, no other index), so what they read is
exactly what the builder wrote."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flaresuite_host.cli import main
from flaresuite_host.index.demo import build_wheel
from flaresuite_host.index.serve import SimpleIndexHandler

UV = Path(sys.executable).with_name("uv")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class Served:
    """What one server answered: ``(path, content type)`` per request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[str, str]] = []

    def types(self, path: str) -> set[str]:
        return {content_type for requested, content_type in self.answers if requested == path}

    def paths(self) -> list[str]:
        return [path for path, _ in self.answers]


def recording(base: type[SimpleHTTPRequestHandler], served_ref: list[Served]) -> type:
    class Recording(base):  # type: ignore[valid-type, misc]
        def send_header(self, keyword: str, value: str) -> None:
            if keyword.lower() == "content-type":
                served_ref[0].answers.append((self.path, value))
            super().send_header(keyword, value)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Recording


@contextmanager
def serve(root: Path, *, negotiate: bool) -> Iterator[Served]:
    """``flaresuite index serve``'s handler (negotiating) or Python's plain static one."""
    ref: list[Served] = []
    handler = recording(SimpleIndexHandler if negotiate else SimpleHTTPRequestHandler, ref)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    ref.append(Served(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    return env


def pip(tmp_path: Path, index_url: str, dest: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--isolated",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        index_url,
        "--dest",
        str(dest),
        *arguments,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=isolated_env(tmp_path), timeout=300
    )


def uv_compile(tmp_path: Path, index_url: str, *arguments: str) -> subprocess.CompletedProcess:
    requirements = tmp_path / "requirements.in"
    command = [
        str(UV),
        "pip",
        "compile",
        "--no-config",
        "--no-cache",
        "--index-url",
        index_url,
        *arguments,
        str(requirements),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=isolated_env(tmp_path), timeout=300
    )


def uv_install(tmp_path: Path, index_url: str, target: Path, *requirements: str):
    command = [
        str(UV),
        "pip",
        "install",
        "--no-config",
        "--no-cache",
        "--python",
        sys.executable,
        "--index-url",
        index_url,
        "--target",
        str(target),
        *requirements,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=isolated_env(tmp_path), timeout=300
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("demo") / "site"
    assert main(["index", "build", "--out", str(site)]) == 0
    return site


TORCH = [
    "filelock-3.16.1-py3-none-any.whl",
    "torch-2.6.0+cpu-py3-none-any.whl",
    "typing_extensions-4.12.2-py3-none-any.whl",
]


@pytest.mark.parametrize("negotiate", [True, False], ids=["json", "html"])
def test_pip_resolves_torch_and_its_root_dependencies_from_an_accelerator_index(
    demo, tmp_path, negotiate
):
    with serve(demo, negotiate=negotiate) as served:
        dest = tmp_path / "downloads"
        done = pip(tmp_path, f"{served.url}/whl/cpu/", dest, "torch==2.6.0+cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in dest.iterdir()) == TORCH
    expected = {SIMPLE_JSON} if negotiate else {"text/html"}
    assert {t.split(";")[0] for t in served.types("/whl/cpu/torch/")} == expected
    # PEP 658: dependencies were read from the sidecar before the wheel was fetched
    assert "/whl/cpu/torch-2.6.0%2Bcpu-py3-none-any.whl.metadata" in served.paths()
    page = (demo / "whl/cpu/torch/index.html").read_text()
    digest = hashlib.sha256((dest / "torch-2.6.0+cpu-py3-none-any.whl").read_bytes()).hexdigest()
    assert f"#sha256={digest}" in page


@pytest.mark.parametrize("negotiate", [True, False], ids=["json", "html"])
def test_uv_installs_torch_and_its_root_dependencies_from_an_accelerator_index(
    demo, tmp_path, negotiate
):
    with serve(demo, negotiate=negotiate) as served:
        target = tmp_path / "target"
        done = uv_install(tmp_path, f"{served.url}/whl/cpu/", target, "torch==2.6.0+cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in target.iterdir()} >= {"torch", "filelock", "typing_extensions"}
    expected = {SIMPLE_JSON} if negotiate else {"text/html"}
    assert {t.split(";")[0] for t in served.types("/whl/cpu/torch/")} == expected


def test_pip_refuses_a_wheel_that_does_not_match_the_published_hash(tmp_path):
    site = tmp_path / "site"
    assert main(["index", "build", "--out", str(site)]) == 0
    wheel = site / "whl/filelock-3.16.1-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    with serve(site, negotiate=True) as served:
        done = pip(tmp_path, f"{served.url}/whl/", tmp_path / "dl", "filelock")
    assert done.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stdout + done.stderr


@pytest.fixture
def networkx(tmp_path) -> Path:
    """A plain directory: networkx 3.2.1 says Requires-Python >=3.9; 3.3 says nothing, as
    PyTorch's mirrored copy did (pytorch/pytorch#152191)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version, requires in (("3.2.1", ">=3.9"), ("3.3", None)):
        wheel = wheels / f"networkx-{version}-py3-none-any.whl"
        wheel.write_bytes(build_wheel("networkx", version, requires_python=requires))
    assert main(["index", "build", "--source", str(wheels)]) == 0
    (tmp_path / "requirements.in").write_text("networkx\n")
    return wheels


@pytest.mark.parametrize("negotiate", [True, False], ids=["json", "html"])
def test_uv_on_python_3_9_does_not_pick_networkx_3_3(networkx, tmp_path, negotiate):
    """Item 7: the default REQUIRES_PYTHON_OVERRIDES gives networkx 3.3 ">=3.10"."""
    with serve(networkx, negotiate=negotiate) as served:
        old = uv_compile(tmp_path, f"{served.url}/", "--python-version", "3.9")
    assert old.returncode == 0, old.stderr
    assert "networkx==3.2.1" in old.stdout
    # the page said enough: uv never looked at 3.3's metadata
    assert not any("networkx-3.3" in path for path in served.paths())
    with serve(networkx, negotiate=negotiate) as served:
        new = uv_compile(tmp_path, f"{served.url}/", "--python-version", "3.12")
    assert "networkx==3.3" in new.stdout, new.stderr


def test_pip_on_python_3_9_does_not_pick_networkx_3_3_and_never_downloads_it(networkx, tmp_path):
    with serve(networkx, negotiate=True) as served:
        dest = tmp_path / "dl"
        done = pip(
            tmp_path,
            f"{served.url}/",
            dest,
            "--python-version",
            "3.9",
            "--only-binary=:all:",
            "networkx",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in dest.iterdir()] == ["networkx-3.2.1-py3-none-any.whl"]
    assert not any("networkx-3.3" in path for path in served.paths())
