"""Where files live: prefixes, accelerator sub-directories and accepted file types.

A key is indexed when it sits directly in a prefix or directly in one of the prefix's
accelerator sub-directories. The reference generator matched sub-directories with unanchored
``re.match``, so ``whl/cu121_full`` and ``whl/cu121/foo`` leaked into ``whl/cu121``; the patterns
here are anchored at both ends.
"""

from __future__ import annotations

import posixpath
import re

DEFAULT_PREFIXES = (
    "whl",
    "whl/nightly",
    "whl/test",
    "libtorch",
    "libtorch/nightly",
    "whl/test/variant",
    "whl/variant",
    "whl/preview/forge",
)

NIGHTLY_PREFIX = "whl/nightly"

ACCEPTED_SUFFIXES = (".whl", ".zip", ".tar.gz", "-variants.json")
"""The reference accepted any key ending in ``json``; only wheel-variant manifests are meant."""

SUBDIR_PATTERN = re.compile(r"(?:cu[0-9]+|rocm[0-9]+\.[0-9]+|cpu|xpu)")

CORE_METADATA_SUFFIX = ".metadata"
"""PEP 658: the core metadata file is served at the distribution's URL plus ``.metadata``."""


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


def subdir_of(key: str, prefix: str) -> str | None:
    """The directory whose index lists ``key``: the prefix itself or one accelerator directory
    directly below it; ``None`` for anything else (deeper trees, other prefixes)."""
    directory = posixpath.dirname(key)
    if directory == prefix:
        return prefix
    parent, name = posixpath.split(directory)
    if parent == prefix and SUBDIR_PATTERN.fullmatch(name):
        return directory
    return None


def is_distribution(key: str) -> bool:
    return key.endswith(ACCEPTED_SUFFIXES)


def href_path(key: str) -> str:
    """Root-relative URL path of a stored key. ``+`` is a space in some CDNs' query-less
    decoding, so it is escaped as ``%2B`` the way download.pytorch.org always has."""
    return "/" + key.replace("+", "%2B")
