"""Bearer-token checks (RFC 6750) in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing says nothing about how much matched.
    Both sides are hashed first: ``compare_digest`` returns early on a length mismatch, which
    would tell a caller the token's length."""
    if presented is None:
        return False
    return hmac.compare_digest(_digest(presented), _digest(expected))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
