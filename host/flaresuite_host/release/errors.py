"""Why a release step stopped, and so how ``flaresuite release`` exits (the root CLI maps
:class:`~flaresuite.errors.BadInput` to 2 and :class:`~flaresuite.errors.RuntimeFailure` to 1)."""

from __future__ import annotations

from flaresuite.errors import BadInput, RuntimeFailure


class ReleaseSetupError(BadInput):
    """The release cannot go on until the caller changes something: wrangler.toml, an option,
    the credentials, the tools installed, the order of the steps (``upload`` before
    ``bundle``) or a Worker too large for Cloudflare. The message says what; the CLI exits 2."""


class ReleaseError(RuntimeFailure):
    """The inputs were fine but a step failed: the build, the upload, the check after it, or
    reading a file that is there. The message says what happened; the CLI exits 1."""
