"""Exception types shared across the core."""


class ConfigError(ValueError):
    """A Worker or CLI configuration that cannot work; the message says how to fix it."""
