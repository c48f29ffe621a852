"""Where files live: prefixes, accelerator sub-directories, accepted file types, and the URLs
and cache lifetimes of what is published there.

A prefix is listed one level at a time (S3 ``delimiter=/``): the files directly in it, and its
sub-directories. A sub-directory is an *accelerator directory*, indexed on its own pages, when
its name starts with one of the reference generator's patterns (``cu[0-9]+``,
``rocm[0-9]+.[0-9]+``, ``cpu``, ``xpu``), so ``rocm6.2.4`` and ``cu126`` qualify, unless it
starts with one of the legacy names the reference excludes (``cpu-cxx11-abi``,
``cpu_pypi_pkg``, ``cu[0-9]+_full``, ``cu[0-9]+_pypi_cudnn``). Nothing below an accelerator
directory is indexed (``whl/cu121/foo/`` stays out), and every sub-directory that is skipped
is named in the run report. The one exception is a sub-directory named like a project's page
directory that holds a page linking to other hosts (:func:`is_project_directory`; see
:mod:`flaresuite.index.foreign`): that page is published as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from packaging.utils import InvalidName, canonicalize_name

DEFAULT_PREFIXES = (
    "whl",
    "whl/nightly",
    "whl/test",
    "libtorch",
    "libtorch/nightly",
    "whl/test/variant",
    "whl/variant",
    "whl/preview/forge",
    "source_code/test",
)
"""PyTorch's ``manage_v2.py`` prefixes, ``source_code/test`` (source tarballs) included."""

DEFAULT_ALLOW_LIST_PREFIXES = ("whl", "whl/nightly", "whl/test")
"""Where ``manage_v2.py`` publishes only allow-listed projects, so stray uploads
(``notallowed-1.0-py3-none-any.whl``) stay unpublished."""

ROOT = ""
"""The prefix of a directory indexed as one index root (a plain directory of wheels)."""

NIGHTLY_PREFIX = "whl/nightly"

ACCEPTED_SUFFIXES = (".whl", ".zip", ".tar.gz", "-variants.json")
"""The reference accepted any key ending in ``json``; only wheel-variant manifests are meant."""

ACCEPTED_DIRECTORY = re.compile(r"cu[0-9]+|rocm[0-9]+\.[0-9]+|cpu|xpu")
LEGACY_DIRECTORY = re.compile(r"cpu-cxx11-abi|cpu_pypi_pkg|cu[0-9]+_full|cu[0-9]+_pypi_cudnn")

CORE_METADATA_SUFFIX = ".metadata"
"""PEP 658: the core metadata file is served at the distribution's URL plus ``.metadata``."""

UNCACHED_SEGMENTS = frozenset({"nightly", "test", "preview"})
RELEASE_CACHE_CONTROL = "max-age=600, public, must-revalidate"
UNCACHED_CACHE_CONTROL = "no-cache,no-store,must-revalidate"


def parse_prefix(text: str) -> str:
    """A prefix as configured (``" whl/nightly/ "``) in canonical form (``whl/nightly``).

    Raises ``ValueError`` for an empty prefix or one with empty, ``.`` or ``..`` segments:
    keys never hold those, so such a prefix would index nothing, and on a local tree ``..``
    would read and write outside the directory.
    """
    prefix = text.strip().strip("/")
    if not prefix or any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ValueError(f"not a prefix: {text!r} (expected e.g. whl or whl/nightly)")
    return prefix


def is_libtorch(prefix: str) -> bool:
    """libtorch prefixes hold C++ archives: they get file listings, not PEP 503 pages."""
    return prefix == "libtorch" or prefix.startswith("libtorch/")


def is_nightly(prefix: str) -> bool:
    return prefix == NIGHTLY_PREFIX


def is_accelerator_directory(name: str) -> bool:
    """Whether a sub-directory ``name`` of a prefix gets pages of its own."""
    return ACCEPTED_DIRECTORY.match(name) is not None and LEGACY_DIRECTORY.match(name) is None


def is_project_directory(name: str) -> bool:
    """Whether a sub-directory ``name`` is named as a project's page directory is: a valid
    project name in its PEP 503 normalised form (``nvidia-cudnn-cu12``, not
    ``nvidia_cudnn_cu12`` or ``cu121_pypi_cudnn``)."""
    try:
        return canonicalize_name(name, validate=True) == name
    except InvalidName:
        return False


def join(directory: str, name: str) -> str:
    """``directory/name``, where the root directory is ``""``."""
    return f"{directory}/{name}" if directory else name


def nested_names(prefix: str, prefixes: Iterable[str]) -> frozenset[str]:
    """Names of ``prefix``'s sub-directories that belong to other configured prefixes (or lead
    to one): ``nightly`` and ``test`` below ``whl``, ``preview`` on the way to
    ``whl/preview/forge``. They are other prefixes' business, not skipped directories."""
    start = prefix + "/" if prefix else ""
    return frozenset(
        other[len(start) :].split("/", 1)[0]
        for other in prefixes
        if other != prefix and other.startswith(start)
    )


def is_distribution(key: str) -> bool:
    return key.endswith(ACCEPTED_SUFFIXES)


def cache_control(prefix: str) -> str:
    """Release indexes change rarely and are cached 10 minutes; nightly, test and preview
    indexes change every hour and must never be served stale (download.pytorch.org's rule).
    Decided by whole path segments, so ``latest`` is not ``test``."""
    if UNCACHED_SEGMENTS.intersection(prefix.split("/")):
        return UNCACHED_CACHE_CONTROL
    return RELEASE_CACHE_CONTROL


def href(key: str, base_url: str = "") -> str:
    """The URL pages link a stored key at: root-relative (``/whl/cu126/torch-….whl``) or below
    ``base_url`` when files are served from another host.

    The key is percent-encoded with RFC 3986 path rules (``/`` kept), so ``+`` becomes
    ``%2B`` as download.pytorch.org always wrote it, and ``?``, ``#``, spaces or non-ASCII
    can never make a link point at another object than the one hashed."""
    if _UNRESERVED_OR_PLUS.fullmatch(key):  # the common case, without quote()'s cost
        return f"{base_url}/{key.replace('+', '%2B')}"
    return f"{base_url}/{quote(key, safe='/')}"


_UNRESERVED_OR_PLUS = re.compile(r"[A-Za-z0-9_.~/+-]*")


_URL_TEXT = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$()*+,;=%-]*")
"""RFC 3986 URI characters, less those HTML or JSON would escape (``&``, ``'``)."""


def parse_base_url(text: str) -> str:
    """A ``FILE_BASE_URL``: an http(s) URL with a host and no credentials, query or fragment,
    without its trailing slash, whose characters need no escaping in HTML or JSON (so every
    link built on it is plain text). Raises ``ValueError``."""
    url = text.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not _URL_TEXT.fullmatch(url)
    ):
        raise ValueError(f"not a base URL for files: {text!r} (expected https://host[/path])")
    return url.rstrip("/")


def basename(key: str) -> str:
    return key.rpartition("/")[2]
