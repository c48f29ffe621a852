"""The AWS-style access key a client signs with, and how a deployment provides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flaresuite.errors import ConfigError

ACCESS_KEY_ID = "S3_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "S3_SECRET_ACCESS_KEY"
SESSION_TOKEN = "S3_SESSION_TOKEN"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair, plus the session token of temporary (STS) credentials.

    The secret and the token are left out of ``repr`` so that a logged client or a traceback
    never shows them.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """Credentials from ``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY`` (and the optional
        ``S3_SESSION_TOKEN``), or ``None`` for anonymous access when neither is set.

        An empty value counts as unset, because that is how an unset Worker var or an
        ``export S3_ACCESS_KEY_ID=`` arrives. Setting only one of the pair is a mistake that
        would otherwise surface much later as a confusing 403, so it raises
        :class:`~flaresuite.errors.ConfigError` at once; so does a session token without
        the pair.
        """
        access_key_id = env.get(ACCESS_KEY_ID) or None
        secret_access_key = env.get(SECRET_ACCESS_KEY) or None
        session_token = env.get(SESSION_TOKEN) or None
        if access_key_id is None and secret_access_key is None:
            if session_token is not None:
                raise ConfigError(
                    f"{SESSION_TOKEN} is set but {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY} are "
                    "not: a session token is only valid with the key pair it was issued for"
                )
            return None
        if access_key_id is None or secret_access_key is None:
            raise ConfigError(
                f"Either provide both {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}, or neither"
            )
        return cls(access_key_id, secret_access_key, session_token)
