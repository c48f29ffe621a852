"""Invites: how a device (or a dashboard) is let into a swarm.

The swarm's owner issues them (at most :data:`ISSUES_PER_WINDOW` per
:data:`ISSUE_WINDOW_SECONDS` per swarm), each valid for :data:`LIFETIME_SECONDS`, single-use or
multi-use, in one of two forms:

* a **token**, 43 URL-safe characters, for programs (``swarm device``, scripts);
* a **code**, :data:`MIN_CODE_CHARS` to :data:`MAX_CODE_CHARS` characters from
  :data:`CODE_ALPHABET` (no 0/O, 1/I/L), for people: typed from a screen or read from a QR
  code. Codes are matched case-insensitively and ignore spaces and dashes, so ``k7qm-4xpa``
  is ``K7QM4XPA``.

Only the SHA-256 digest of either is kept, so storage never holds a usable credential. A code
has 30-40 bits, few enough to guess online, so joins that present an unknown invite are
limited too (:data:`REFUSALS_PER_WINDOW` per window per swarm); beyond it every invite join is
answered 429 until the window moves, while devices with a resume key reconnect as usual.
Looking a digest up in a dict leaks nothing an attacker can steer: they cannot choose the digest
of their guess. This fixes the seed's invites, which were stored in a Durable Object that the
joining path never reached (and the Ostrich-Legs reference server's, which named a new swarm
after any string presented as a code).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field

from flaresuite.errors import BadInput

ISSUES_PER_WINDOW = 5
ISSUE_WINDOW_SECONDS = 60.0
LIFETIME_SECONDS = 24 * 3600.0
MAX_TOKEN_CHARS = 128

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols that cannot be mistaken for one another when read aloud or off a screen."""
MIN_CODE_CHARS = 6
"""The Ostrich-Legs client's code box takes at most 6 characters."""
MAX_CODE_CHARS = 8
DEFAULT_CODE_CHARS = 8
REFUSALS_PER_WINDOW = 60
"""Unknown invites presented per :data:`ISSUE_WINDOW_SECONDS` before invite joins are paused:
a 6-character code then takes years to guess while a handful of codes are live."""


def digest(secret: str) -> str:
    """The stored form of a token, a code or a resume key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize(presented: str) -> str:
    """The canonical form of what a person typed: codes ignore case, spaces and dashes.
    Tokens are longer than any code and pass through unchanged."""
    compact = presented.strip().replace("-", "").replace(" ", "")
    return compact.upper() if len(compact) <= MAX_CODE_CHARS else presented.strip()


def random_code(length: int) -> str:
    """A new code of ``length`` characters from :data:`CODE_ALPHABET`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """An invite as the owner receives it, the one time its secret is seen."""

    token: str
    """The token or code itself; only its digest is stored."""
    expires_at: float
    multi_use: bool
    code: bool


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


class RateLimited(BadInput):
    """Too many invites issued (or guessed) lately: 429, and when to try again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(f"{message}; retry in {max(1, round(retry_after))} s", status=429)
        self.retry_after = retry_after


def _within_limit(times: list[float], now: float, limit: int, message: str) -> list[float]:
    """``times`` within the last :data:`ISSUE_WINDOW_SECONDS` (a sliding window), or
    :class:`RateLimited` with ``message`` when ``limit`` of them are, retrying when the oldest
    leaves the window."""
    window = [t for t in times if now - t < ISSUE_WINDOW_SECONDS]
    if len(window) >= limit:
        raise RateLimited(message, retry_after=min(window) + ISSUE_WINDOW_SECONDS - now)
    return window


@dataclass(slots=True)
class InviteBook:
    """The live invites of one swarm, the times of recent issues (for the rate limit, stored)
    and of recently refused invites (the guess limit, memory only: a refusal writes nothing)."""

    invites: dict[str, Invite] = field(default_factory=dict)
    recent: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)

    def issue(self, secret: str, now: float, *, multi_use: bool) -> Invite:
        """Records ``secret`` as a new invite, or raises :class:`RateLimited` changing nothing."""
        window = _within_limit(
            self.recent, now, ISSUES_PER_WINDOW, f"at most {ISSUES_PER_WINDOW} invites per minute"
        )
        self.recent = [*window, now]
        invite = Invite(digest(normalize(secret)), now, now + LIFETIME_SECONDS, multi_use)
        self.invites[invite.digest] = invite
        return invite

    def find(self, presented: str, now: float) -> Invite | None:
        """The live invite ``presented`` names, without using it up. Raises
        :class:`RateLimited` while too many unknown invites were presented recently."""
        self.refused = _within_limit(
            self.refused,
            now,
            REFUSALS_PER_WINDOW,
            "too many unknown invites were presented to this swarm",
        )
        secret = normalize(presented)
        invite = self.invites.get(digest(secret)) if 0 < len(secret) <= MAX_TOKEN_CHARS else None
        if invite is None or now >= invite.expires_at:
            self.refused.append(now)
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
