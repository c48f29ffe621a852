"""Distribution file names: project, version, PEP 503 page name.

Wheels follow the binary distribution format spec (PEP 427 / PEP 491), source archives the
sdist spec, and wheel-variant manifests are ``{name}-{version}-variants.json``. Names and
versions are parsed with :mod:`packaging`; page names are PEP 503 normalised, so ``Pillow`` and
``pillow`` are one project.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

VARIANTS_SUFFIX = "-variants.json"


class InvalidDistributionName(ValueError):
    """A file name that no distribution format allows."""


@dataclass(frozen=True, slots=True)
class DistributionName:
    filename: str
    project: NormalizedName
    version: Version

    @property
    def public_version(self) -> Version:
        """The version without its local label (``2.6.0.dev20250103+cu126`` -> ``2.6.0.dev20250103``):
        nightly retention counts builds of one version for several accelerators once."""
        return Version(self.version.public)


def parse_distribution_name(key: str) -> DistributionName:
    """Parse the file name at the end of ``key``; raises :class:`InvalidDistributionName`."""
    filename = posixpath.basename(key)
    try:
        if filename.endswith(".whl"):
            project, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith(VARIANTS_SUFFIX):
            project, version = _parse_variants_filename(filename)
        else:
            project, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as error:
        raise InvalidDistributionName(str(error)) from None
    return DistributionName(filename=filename, project=project, version=version)


def _parse_variants_filename(filename: str) -> tuple[NormalizedName, Version]:
    name, sep, version = filename[: -len(VARIANTS_SUFFIX)].rpartition("-")
    if not sep or not name:
        raise InvalidVersion(f"Invalid variants manifest filename: {filename!r}")
    return canonicalize_name(name), Version(version)
