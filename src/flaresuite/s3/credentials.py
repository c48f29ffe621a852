"""The AWS-style identity a client signs with, and how a deployment provides it.

Three ways, read from the same settings by :func:`read_credentials`:

* anonymous: no key at all, for public buckets;
* an access key pair (``S3_ACCESS_KEY_ID`` + ``S3_SECRET_ACCESS_KEY``, optionally with the
  ``S3_SESSION_TOKEN`` of temporary credentials);
* an IAM role (``AWS_ROLE_ARN``) assumed with that key pair through STS, so the long-lived key
  may do nothing but assume the role, and what the Worker can touch is the role's policy
  (:mod:`flaresuite.s3.sts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from flaresuite.config import EnvReader, Setting

ACCESS_KEY_ID = "S3_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "S3_SECRET_ACCESS_KEY"
SESSION_TOKEN = "S3_SESSION_TOKEN"
ROLE_ARN = "AWS_ROLE_ARN"
ROLE_SESSION_NAME = "AWS_ROLE_SESSION_NAME"
STS_ENDPOINT = "STS_ENDPOINT_URL"

DEFAULT_SESSION_NAME = "flaresuite"

SETTINGS = (
    Setting(ACCESS_KEY_ID, "access key id; both halves of the key pair, or neither", secret=True),
    Setting(SECRET_ACCESS_KEY, "secret access key of that pair", secret=True),
    Setting(SESSION_TOKEN, "session token, only for temporary credentials", secret=True),
    Setting(ROLE_ARN, "IAM role to assume with the key pair (STS AssumeRole)"),
    Setting(
        ROLE_SESSION_NAME, f"session name of the assumed role (default {DEFAULT_SESSION_NAME})"
    ),
    Setting(STS_ENDPOINT, "STS endpoint (default: AWS's regional endpoint)"),
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair, plus the session token of temporary (STS) credentials.

    The secret and the token are left out of ``repr`` so that a logged client or a traceback
    never shows them.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    """Epoch seconds after which temporary credentials stop working; ``None`` for a key."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The key pair of :func:`read_credentials` alone, for tools that cannot assume a
        role; raises :class:`~flaresuite.errors.ConfigError` for a half-set pair."""
        reader = EnvReader(env)
        keys = _read_keys(reader)
        reader.check()
        return keys


class CredentialSource(Protocol):
    """Credentials that may change while a client lives (temporary ones are renewed)."""

    async def credentials(self) -> Credentials: ...


@dataclass(frozen=True, slots=True)
class CredentialSettings:
    """What the settings ask for; :func:`flaresuite.s3.sts.credential_source` makes it real."""

    keys: Credentials | None
    role_arn: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    sts_endpoint: str | None = None


def read_credentials(env: EnvReader) -> CredentialSettings:
    """The identity the settings describe; problems are recorded on ``env``.

    An empty value counts as unset, because that is how an unset Worker var or an
    ``export S3_ACCESS_KEY_ID=`` arrives. Setting only one half of the pair, a session token
    without the pair, or a role without a key to assume it with are mistakes that would
    otherwise surface much later as a confusing 403, so each is a problem at once.
    """
    keys = _read_keys(env)
    role_arn = env.text(ROLE_ARN)
    if role_arn is not None:
        if not role_arn.startswith("arn:") or ":role/" not in role_arn:
            env.problem(ROLE_ARN, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
            role_arn = None
        elif keys is None and env.is_set(ACCESS_KEY_ID) == env.is_set(SECRET_ACCESS_KEY):
            env.problem(ROLE_ARN, f"needs {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY} to assume it")
    session_name = env.text(ROLE_SESSION_NAME, default=DEFAULT_SESSION_NAME) or ""
    if not (
        2 <= len(session_name) <= 64 and all(c.isalnum() or c in "=,.@-_" for c in session_name)
    ):
        env.problem(ROLE_SESSION_NAME, "must be 2 to 64 letters, digits or =,.@-_")
    return CredentialSettings(
        keys=keys,
        role_arn=role_arn,
        session_name=session_name,
        sts_endpoint=env.url(STS_ENDPOINT),
    )


def _read_keys(env: EnvReader) -> Credentials | None:
    access_key_id = env.text(ACCESS_KEY_ID)
    secret_access_key = env.text(SECRET_ACCESS_KEY)
    session_token = env.text(SESSION_TOKEN)
    if access_key_id is None and secret_access_key is None:
        if session_token is not None:
            env.problem(
                SESSION_TOKEN,
                f"is set but {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY} are not: a session token "
                "is only valid with the key pair it was issued for",
            )
        return None
    if access_key_id is None or secret_access_key is None:
        missing = ACCESS_KEY_ID if access_key_id is None else SECRET_ACCESS_KEY
        env.problem(missing, f"set both {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}, or neither")
        return None
    return Credentials(access_key_id, secret_access_key, session_token)
