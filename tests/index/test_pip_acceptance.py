"""Real pip resolves from a generated index served over loopback HTTP.

pip runs isolated (no user config, no other index) against ``python -m http.server`` on
127.0.0.1, so what it reads is exactly what the builder wrote.
"""

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flaresuite_host.cli import main
from flaresuite_host.index.demo import build_wheel


class StaticServer:
    def __init__(self, root: Path, log: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(root),
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("http.server did not start")

    def requested(self) -> list[str]:
        self._log_file.flush()
        return re.findall(r'"GET (\S+) HTTP', self.log.read_text())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log_file.close()


@pytest.fixture
def served(tmp_path):
    site = tmp_path / "site"
    servers = []

    def serve() -> StaticServer:
        server = StaticServer(site, tmp_path / "http.log")
        servers.append(server)
        return server

    yield site, serve
    for server in servers:
        server.stop()


def pip_download(index_url: str, dest: Path, *requirements: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.run(
        [
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
            *requirements,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_pip_resolves_torch_and_its_root_dependencies_from_an_accelerator_index(served, tmp_path):
    site, serve = served
    assert main(["index", "build", "--out", str(site)]) == 0
    server = serve()
    dest = tmp_path / "downloads"
    done = pip_download(f"http://127.0.0.1:{server.port}/whl/cpu/", dest, "torch==2.6.0+cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in dest.iterdir()) == [
        "filelock-3.16.1-py3-none-any.whl",
        "torch-2.6.0+cpu-py3-none-any.whl",
        "typing_extensions-4.12.2-py3-none-any.whl",
    ]
    requested = server.requested()
    # PEP 658: dependencies were read from the sidecar before the wheel was fetched
    assert "/whl/cpu/torch-2.6.0%2Bcpu-py3-none-any.whl.metadata" in requested
    page = (site / "whl/cpu/torch/index.html").read_text()
    digest = hashlib.sha256((dest / "torch-2.6.0+cpu-py3-none-any.whl").read_bytes()).hexdigest()
    assert f"#sha256={digest}" in page


def test_pip_refuses_a_wheel_that_does_not_match_the_published_hash(served, tmp_path):
    site, serve = served
    assert main(["index", "build", "--out", str(site)]) == 0
    wheel = site / "whl/filelock-3.16.1-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    server = serve()
    done = pip_download(f"http://127.0.0.1:{server.port}/whl/", tmp_path / "dl", "filelock")
    assert done.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stdout + done.stderr


def test_pip_skips_versions_whose_requires_python_excludes_it_without_downloading_them(
    served, tmp_path
):
    site, serve = served
    for version, requires in (("1.0", ">=3.8"), ("2.0", ">=4")):
        path = site / "whl" / f"picky-{version}-py3-none-any.whl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_wheel("picky", version, requires_python=requires))
    assert main(["index", "build", "--source", str(site), "--prefix", "whl"]) == 0
    assert 'data-requires-python="&gt;=4"' in (site / "whl/picky/index.html").read_text()
    server = serve()
    done = pip_download(f"http://127.0.0.1:{server.port}/whl/", tmp_path / "dl", "picky")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["picky-1.0-py3-none-any.whl"]
    assert not any("picky-2.0" in path for path in server.requested())
