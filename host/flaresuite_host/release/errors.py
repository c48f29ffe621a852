"""Why a release step stopped."""

from __future__ import annotations

from flaresuite.errors import BadInput, RuntimeFailure


class ReleaseSetupError(BadInput):
    """The release cannot start: wrangler.toml, the credentials or an option is wrong. The
    message says what to fix; the CLI exits 2."""


class ReleaseError(RuntimeFailure):
    """A build, upload or check failed; the message says what happened and what to do.
    The CLI exits 2 with it."""
