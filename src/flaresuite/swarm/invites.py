"""Invite tokens: how a device (or a dashboard) is let into a swarm.

The swarm's owner issues tokens (at most :data:`ISSUES_PER_WINDOW` per
:data:`ISSUE_WINDOW_SECONDS` per swarm), each valid for :data:`LIFETIME_SECONDS`, single-use or
multi-use. Only the SHA-256 digest of a token is kept, so storage never holds a usable
credential; looking a digest up in a dict leaks nothing an attacker can steer, because they
cannot choose the digest of their guess. This fixes the seed's tokens, which were stored in a
Durable Object that the joining path never reached (research section 3.1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

ISSUES_PER_WINDOW = 5
ISSUE_WINDOW_SECONDS = 60.0
LIFETIME_SECONDS = 24 * 3600.0
MAX_TOKEN_CHARS = 128


def digest(secret: str) -> str:
    """The stored form of a token or resume key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Invite:
    digest: str
    created_at: float
    expires_at: float
    multi_use: bool
    uses: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Invite:
        return cls(**json.loads(text))


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"at most {ISSUES_PER_WINDOW} invites per minute; retry in {retry_after:.0f} s"
        )
        self.retry_after = retry_after


class InviteBook:
    """The live invites of one swarm and the times of recent issues (for the rate limit)."""

    def __init__(self, invites: dict[str, Invite] | None = None, recent: list[float] | None = None):
        self.invites = invites or {}
        self.recent = recent or []

    def issue(self, secret: str, now: float, *, multi_use: bool) -> Invite:
        """Records ``secret`` as a new invite, or raises :class:`RateLimited` changing nothing."""
        window = [t for t in self.recent if now - t < ISSUE_WINDOW_SECONDS]
        if len(window) >= ISSUES_PER_WINDOW:
            raise RateLimited(retry_after=min(window) + ISSUE_WINDOW_SECONDS - now)
        self.recent = [*window, now]
        invite = Invite(digest(secret), now, now + LIFETIME_SECONDS, multi_use)
        self.invites[invite.digest] = invite
        return invite

    def find(self, secret: str, now: float) -> Invite | None:
        """The live invite ``secret`` names, without using it up."""
        if not 0 < len(secret) <= MAX_TOKEN_CHARS:
            return None
        invite = self.invites.get(digest(secret))
        if invite is None or now >= invite.expires_at:
            return None
        return invite

    def use(self, invite: Invite) -> bool:
        """Counts one use; returns True when the invite is now spent and must be forgotten."""
        invite.uses += 1
        if invite.multi_use:
            return False
        del self.invites[invite.digest]
        return True

    def expire(self, now: float) -> list[str]:
        """Forgets expired invites; returns their digests."""
        gone = [d for d, invite in self.invites.items() if now >= invite.expires_at]
        for d in gone:
            del self.invites[d]
        return gone
