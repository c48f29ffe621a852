"""The swarm coordinator's vars and secrets, read the way every Worker reads them
(:mod:`flaresuite.config`): every problem at once, a blank value is unset, and no message ever
holds a value.

Without a usable configuration the Worker admits nobody and changes nothing: every route
answers :func:`flaresuite.http.misconfigured` (503, naming the variables). ``flaresuite swarm
serve`` reads the same settings from its environment and exits 2 instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flaresuite.config import EnvReader, EnvSource, Setting

SWARMS_BINDING = "SWARM"
"""The Durable Object namespace of ``SwarmCoordinator`` (wrangler.toml ``[env.swarm]``)."""
ADMIN_TOKEN = "SWARM_ADMIN_TOKEN"
ALLOWED_ORIGINS = "SWARM_ALLOWED_ORIGINS"

SETTINGS = (
    Setting(
        ADMIN_TOKEN,
        "the swarm owner's bearer token: issues invites, queues jobs, starts, pauses and stops "
        "swarms; a long random string, never given to devices",
        secret=True,
        required=True,
    ),
    Setting(
        ALLOWED_ORIGINS,
        "browser origins (scheme://host[:port]) allowed to open sockets and call the owner "
        "routes besides the Worker's own, comma-separated; e.g. where an Ostrich-Legs client "
        "is hosted",
    ),
)
"""Every var and secret the swarm Worker reads."""


@dataclass(frozen=True, slots=True)
class SwarmConfig:
    admin_token: str = field(repr=False)
    """Compared in constant time with the presented bearer token; never logged."""
    allowed_origins: frozenset[str] = frozenset()
    """Origins allowed besides the Worker's own, without a trailing slash."""


def read_config(env: EnvSource) -> SwarmConfig:
    """The configuration in ``env``, or :class:`~flaresuite.errors.ConfigError` listing every
    problem. An admin token of only whitespace is no token: the Worker then fails closed."""
    reader = EnvReader(env)
    token = reader.text(ADMIN_TOKEN, required=True)
    origins = reader.items(ALLOWED_ORIGINS)
    if not all(_is_origin(origin) for origin in origins):
        reader.problem(
            ALLOWED_ORIGINS, "must be comma-separated origins like https://app.example (no path)"
        )
    reader.check()
    assert token is not None  # required: check() raised otherwise
    return SwarmConfig(token, frozenset(origin.rstrip("/") for origin in origins))


def _is_origin(text: str) -> bool:
    """``scheme://host[:port]`` as a browser sends it in ``Origin`` (RFC 6454 section 6.1)."""
    try:
        parts = urlsplit(text.rstrip("/"))
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )
