"""Distribution file names: project, version, PEP 503 page name.

Formats:

* wheels, binary distribution format (PEP 427 / PEP 491)
  ``{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl``, extended by wheel variants
  (PEP 817, file format in PEP 825) with ``-{variant label}`` before ``.whl``. A Python tag
  never starts with a digit and a build tag always does, so six parts are read unambiguously;
* source distributions ``{name}-{version}.tar.gz`` and ``.zip``;
* wheel-variant manifests ``{name}-{version}-variants.json`` (PEP 825).

One compiled pattern splits a name, and :mod:`packaging` stays the authority for what it holds:
``Version`` decides validity and ordering, ``canonicalize_name`` the PEP 503 page name. Versions
and names repeat across thousands of files, so a :class:`NameParser` builds each ``Version``
once per distinct string; that, not the regular expression, is what made parsing cheap.

Accepted characters are stricter than the specifications' prose: a name that would need
escaping in a URL (``?``, ``#``, spaces, non-ASCII) is refused, because a link to it would not
reliably reach the object that was hashed.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from flaresuite.errors import BadInput

VARIANTS_SUFFIX = "-variants.json"

_NAME = r"[A-Za-z0-9._]+"
_VERSION = r"[A-Za-z0-9._!+]+"
_TAG = r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*"
WHEEL = re.compile(
    rf"(?P<name>{_NAME})-(?P<version>{_VERSION})"
    rf"(?:-(?P<build>[0-9][A-Za-z0-9_.]*))?"
    rf"-(?P<python>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)-(?P<abi>{_TAG})"
    rf"-(?P<platform>{_TAG})(?:-(?P<variant>[0-9a-z_.]+))?\.whl"
)
"""A wheel file name. The Python tag is an identifier (``packaging.tags.parse_tag``); the
variant label is PEP 825's ``[0-9a-z_.]+``."""
SDIST = re.compile(rf"(?P<name>[A-Za-z0-9._-]+)-(?P<version>{_VERSION})(?:\.tar\.gz|\.zip)")
VARIANTS = re.compile(rf"(?P<name>{_NAME})-(?P<version>{_VERSION}){re.escape(VARIANTS_SUFFIX)}")


class InvalidDistributionName(BadInput, ValueError):
    """A file name that no distribution format allows."""


class DistributionName(NamedTuple):
    """A parsed file name. A named tuple, not a dataclass: a million-key build makes one per
    file, and a tuple is the cheapest immutable value Python builds."""

    filename: str
    project: NormalizedName
    version: Version
    version_text: str
    """``str(version)``: the normalised spelling PEP 691 pages list under ``versions``."""
    public_version: Version
    """The version without its local label (``2.6.0.dev20250103+cu126`` ->
    ``2.6.0.dev20250103``): nightly retention counts builds of one version for several
    accelerators once."""
    variant: str | None = None
    """The PEP 825 variant label of a variant wheel (``cu128``)."""


class NameParser:
    """Parses file names, building each distinct ``Version`` and page name once.

    One parser per run: its memo holds only the versions and projects that run saw.
    """

    def __init__(self) -> None:
        self._versions: dict[str, tuple[Version, str, Version]] = {}
        self._projects: dict[str, NormalizedName] = {}

    def parse(self, filename: str) -> DistributionName:
        """Raises :class:`InvalidDistributionName` for a name no format allows."""
        if filename.endswith(".whl"):
            match = WHEEL.fullmatch(filename)
            if match is None or "__" in match["name"]:
                raise InvalidDistributionName(f"not a valid wheel file name: {filename!r}")
        elif filename.endswith(VARIANTS_SUFFIX):
            match = VARIANTS.fullmatch(filename)
            if match is None:
                raise InvalidDistributionName(f"not a valid variants manifest: {filename!r}")
        else:
            # Source distributions are split at the last dash, as packaging does.
            match = SDIST.fullmatch(filename)
            if match is None:
                raise InvalidDistributionName(f"not a valid source archive name: {filename!r}")
        version, text, public = self._version(match["version"], filename)
        variant = match["variant"] if match.re is WHEEL else None
        return DistributionName(
            filename, self._project(match["name"]), version, text, public, variant
        )

    def peek(self, filename: str) -> tuple[NormalizedName, Version] | None:
        """Project and public version of a name seen before (same project spelling, same version
        text), read without the pattern, or ``None``. Only for deciding that a file is
        *hidden*: whatever is shown is parsed in full."""
        name, sep, rest = filename.partition("-")
        project = self._projects.get(name)
        known = self._versions.get(rest.split("-", 1)[0]) if sep else None
        if project is None or known is None:
            return None
        return project, known[2]

    def version(self, text: str) -> Version:
        """A version string known to be valid (as stored by an earlier run), built once."""
        return self._version(text, text)[0]

    def _version(self, text: str, filename: str) -> tuple[Version, str, Version]:
        known = self._versions.get(text)
        if known is None:
            try:
                version = Version(text)
            except InvalidVersion:
                raise InvalidDistributionName(
                    f"invalid PEP 440 version {text!r} in {filename!r}"
                ) from None
            public = Version(version.public) if version.local is not None else version
            known = self._versions[text] = (version, str(version), public)
        return known

    def _project(self, name: str) -> NormalizedName:
        project = self._projects.get(name)
        if project is None:
            project = self._projects[name] = canonicalize_name(name)
        return project


def parse_distribution_name(filename: str) -> DistributionName:
    """Parse one file name (no memo); raises :class:`InvalidDistributionName`."""
    return NameParser().parse(filename)
