"""Exception types shared across the suite's capabilities."""

from __future__ import annotations


class ConfigError(Exception):
    """The deployment's configuration (environment variables, Worker vars and secrets) is
    inconsistent or incomplete. The message says which settings to fix."""
