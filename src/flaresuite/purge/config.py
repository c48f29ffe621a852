"""The delete proxy's vars and secrets, read the way every Worker reads them
(:mod:`flaresuite.config`): every problem at once, a blank value is unset, and no message ever
holds a value.

Without a usable configuration the Worker deletes nothing: every route that needs it answers
:func:`flaresuite.http.misconfigured` (503, naming the variables).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flaresuite.config import EnvReader, EnvSource, Setting

TOKEN = "DELETE_PROXY_TOKEN"
MAX_LIST_CALLS = "DELETE_PROXY_MAX_LIST_CALLS"

DEFAULT_MAX_LIST_CALLS = 100
"""List calls one ``POST /delete`` may spend learning which keys existed. Clustered keys cost
one call per 1000; only keys scattered across a crowded bucket reach this, and their results
then say ``"absent": null`` rather than exhaust the Worker's subrequest budget."""
MAX_LIST_CALLS_LIMIT = 10_000
"""A Paid Worker's subrequest limit: a budget above it could never be spent."""

SETTINGS = (
    Setting(
        TOKEN,
        "bearer token callers of POST /delete and /delete-project send; a long random string, "
        "not a Cloudflare API token",
        secret=True,
        required=True,
    ),
    Setting(
        MAX_LIST_CALLS,
        f"list calls one POST /delete may spend finding which keys existed "
        f"(default {DEFAULT_MAX_LIST_CALLS}, 1 to {MAX_LIST_CALLS_LIMIT}; about 20 on plans "
        "with 50 subrequests per request)",
    ),
)
"""Every var and secret the delete proxy reads."""


@dataclass(frozen=True, slots=True)
class PurgeConfig:
    token: str = field(repr=False)
    """Compared in constant time with the presented bearer token; never logged."""
    max_list_calls: int = DEFAULT_MAX_LIST_CALLS


def read_config(env: EnvSource) -> PurgeConfig:
    """The configuration in ``env``, or :class:`~flaresuite.errors.ConfigError` listing every
    problem. A token of only whitespace is no token: the proxy then fails closed."""
    reader = EnvReader(env)
    token = reader.text(TOKEN, required=True)
    max_list_calls = reader.integer(
        MAX_LIST_CALLS, DEFAULT_MAX_LIST_CALLS, minimum=1, maximum=MAX_LIST_CALLS_LIMIT
    )
    reader.check()
    assert token is not None  # required: check() raised otherwise
    return PurgeConfig(token=token, max_list_calls=max_list_calls)
