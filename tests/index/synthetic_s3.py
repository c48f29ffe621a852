"""A synthetic PyTorch-shaped S3 bucket served over loopback HTTP (ListObjectsV2 with
``delimiter``, HeadObject with checksums, GetObject of PEP 658 sidecars), for Worker runs at a
scale moto cannot be seeded to in reasonable time. Anonymous: it checks no signature.

Keys are generated per directory from a size, never all held as objects; a listing page is
rendered on demand. Every request is counted by kind.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

BUCKET = "synthetic-pytorch"
PROJECTS = ("torch", "torchvision", "torchaudio", "pytorch_triton", "torchao", "fbgemm_gpu")
PYTHONS = ("cp310-cp310", "cp311-cp311", "cp312-cp312", "cp313-cp313", "cp313-cp313t")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_28_aarch64", "win_amd64")
RELEASE_DIRECTORIES = ("cpu", "cu118", "cu121", "cu124", "cu126", "cu128", "rocm6.2.4", "xpu")
NIGHTLY_DIRECTORIES = ("cpu", "cu126", "cu128", "cu129", "rocm6.4", "xpu")
DEPENDENCIES = ("filelock", "typing_extensions", "networkx", "Jinja2", "sympy", "numpy")
WHEN = datetime(2025, 6, 1, tzinfo=UTC)
SIDECAR = b"Metadata-Version: 2.1\nName: torch\nVersion: 2.8.0\nRequires-Python: >=3.9\n\n"
PER_VERSION = len(PYTHONS) * len(PLATFORMS) * 2
"""Keys one project version adds to a directory: each tag's wheel and its sidecar."""


@dataclass(frozen=True)
class Layout:
    """How many versions each kind of directory holds, for about ``total`` keys."""

    total: int
    directories: dict[str, tuple[str, int]] = field(default_factory=dict)
    """directory -> (kind, versions). Kinds: ``dependencies`` (allow-listed projects at a
    prefix root), ``dependency`` (just filelock), ``release``, ``nightly``, ``libtorch``."""

    @classmethod
    def pytorch_shaped(cls, total: int) -> Layout:
        """About 40% release wheels, 45% nightlies, 10% test, 5% libtorch (whl/nightly alone
        held about 128,000 of download.pytorch.org's objects, test-infra#5673)."""
        layout = cls(total)
        release = max(1, round(total * 0.40 / PER_VERSION / len(RELEASE_DIRECTORIES)))
        test = max(1, round(total * 0.10 / PER_VERSION / len(RELEASE_DIRECTORIES)))
        nightly_day = PER_VERSION * len(PROJECTS)  # every project builds every night
        nightly = max(1, round(total * 0.45 / nightly_day / len(NIGHTLY_DIRECTORIES)))
        archives = max(1, round(total * 0.05 / len(RELEASE_DIRECTORIES)))
        for prefix in ("whl", "whl/nightly", "whl/test"):
            layout.directories[prefix] = ("dependencies", 8)
        for name in RELEASE_DIRECTORIES:
            layout.directories[f"whl/{name}"] = ("release", release)
            layout.directories[f"whl/test/{name}"] = ("release", test)
            layout.directories[f"libtorch/{name}"] = ("libtorch", archives)
        for name in NIGHTLY_DIRECTORIES:
            layout.directories[f"whl/nightly/{name}"] = ("nightly", nightly)
        return layout

    def keys(self, directory: str) -> list[tuple[str, int, datetime]]:
        """``(key, size, last_modified)`` of a directory's own objects, sorted."""
        kind, versions = self.directories.get(directory, ("", 0))
        name = directory.rsplit("/", 1)[-1]
        found: list[tuple[str, int, datetime]] = []
        for n in range(versions):
            when = WHEN - timedelta(days=n)
            if kind in ("dependencies", "dependency"):
                for project in DEPENDENCIES if kind == "dependencies" else DEPENDENCIES[:1]:
                    found += _wheel(directory, project, f"3.{n}.0", "py3-none-any", when)
            elif kind == "libtorch":
                found.append(
                    (f"{directory}/libtorch-shared-with-deps-2.{n}.0+{name}.zip", 2**30, when)
                )
            else:
                project = PROJECTS[n % len(PROJECTS)]
                if kind == "nightly":
                    version = f"2.8.0.dev{when:%Y%m%d}+{name}"
                    projects = PROJECTS
                else:
                    version = f"2.{n // 20}.{n % 20}+{name}"
                    projects = (project,)
                for each in projects:
                    for python in PYTHONS:
                        for platform in PLATFORMS:
                            found += _wheel(directory, each, version, f"{python}-{platform}", when)
        return sorted(found)

    def subdirectories(self, directory: str) -> list[str]:
        start = directory + "/" if directory else ""
        return sorted(
            {
                start + path[len(start) :].split("/", 1)[0]
                for path in self.directories
                if path.startswith(start) and path != directory
            }
        )


def _wheel(directory: str, project: str, version: str, tags: str, when: datetime):
    key = f"{directory}/{project}-{version}-{tags}.whl"
    return [(key, 150_000_000, when), (key + ".metadata", len(SIDECAR), when)]


class _Handler(BaseHTTPRequestHandler):
    server: SyntheticS3

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        bucket, _, key = url.path.lstrip("/").partition("/")
        if bucket != BUCKET:
            self._send(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        elif not key:
            self.server.count("list")
            self._send(200, self.server.listing(parse_qs(url.query, keep_blank_values=True)))
        else:
            self.server.count("get")
            self._send(200, SIDECAR)

    def do_HEAD(self) -> None:
        self.server.count("head")
        key = unquote(urlsplit(self.path).path.lstrip("/").partition("/")[2])
        checksum = base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()
        self.send_response(200)
        self.send_header("Content-Length", "150000000")
        self.send_header("ETag", f'"{hashlib.md5(key.encode()).hexdigest()}"')
        self.send_header("x-amz-checksum-sha256", checksum)
        self.send_header("Last-Modified", "Sun, 01 Jun 2025 00:00:00 GMT")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


class SyntheticS3(ThreadingHTTPServer):
    def __init__(self, layout: Layout, nested: frozenset[str] = frozenset()) -> None:
        super().__init__(("127.0.0.1", 0), partial(_Handler))
        self.layout = layout
        self.nested = nested
        """Prefixes whose listing answers 5,000 nested elements (issue 12.2)."""
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pages: dict[str, list[bytes]] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def listing(self, query: Mapping[str, list[str]]) -> bytes:
        prefix = query.get("prefix", [""])[0]
        if prefix in self.nested:
            return b"<ListBucketResult>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</ListBucketResult>"
        with self._lock:
            if prefix not in self._pages:
                self._pages[prefix] = _pages(self.layout, prefix.rstrip("/"))
            pages = self._pages[prefix]
        page = int(query.get("continuation-token", ["0"])[0])
        return pages[page]


def _pages(layout: Layout, directory: str) -> list[bytes]:
    """Every ListObjectsV2 page (1,000 entries, common prefixes after the objects) of one
    directory, URL-encoded as the client asks."""
    entries = [
        f"<Contents><Key>{quote(key)}</Key><LastModified>{when:%Y-%m-%dT%H:%M:%S.000Z}"
        f"</LastModified><ETag>&quot;{hashlib.md5(key.encode()).hexdigest()}&quot;</ETag>"
        f"<Size>{size}</Size></Contents>"
        for key, size, when in layout.keys(directory)
    ] + [
        f"<CommonPrefixes><Prefix>{quote(path)}/</Prefix></CommonPrefixes>"
        for path in layout.subdirectories(directory)
    ]
    chunks = [entries[at : at + 1000] for at in range(0, len(entries), 1000)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks):
        more = number + 1 < len(chunks)
        truncated = (
            f"<IsTruncated>true</IsTruncated><NextContinuationToken>{number + 1}"
            "</NextContinuationToken>"
            if more
            else "<IsTruncated>false</IsTruncated>"
        )
        pages.append(
            (
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<EncodingType>url</EncodingType>{truncated}{''.join(chunk)}</ListBucketResult>"
            ).encode()
        )
    return pages


@contextmanager
def serving(layout: Layout, nested: frozenset[str] = frozenset()) -> Iterator[SyntheticS3]:
    server = SyntheticS3(layout, nested)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
