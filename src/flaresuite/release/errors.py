"""Why a release step stopped (configuration errors are :class:`flaresuite.errors.ConfigError`)."""

from __future__ import annotations


class ReleaseError(Exception):
    """A build, upload or check failed; the message says what happened and what to do.
    The CLI exits 2 with it."""
