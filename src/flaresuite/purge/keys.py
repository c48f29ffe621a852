"""What an object key may be.

R2 accepts any non-empty UTF-8 string of at most 1024 bytes as a key
(https://developers.cloudflare.com/r2/platform/limits/). A key that breaks those rules could
never have been stored, so asking to delete one is a caller bug and is rejected up front.

Messages describe the key (its type, its size) and never quote it: they reach the Worker's audit
log, and a refused "key" may be the bearer token pasted in the wrong place.
"""

from __future__ import annotations

from collections.abc import Iterable

from flaresuite.errors import BadInput
from flaresuite.purge.limits import R2_MAX_KEY_BYTES


class InvalidKey(BadInput, ValueError):
    """A key R2 could not hold; the message says which rule it breaks. A ``ValueError`` too,
    which is what the client documents for a bad key."""


def validate_key(key: object) -> str:
    """Return ``key`` unchanged if R2 could store it, else raise :class:`InvalidKey`."""
    if not isinstance(key, str):
        raise InvalidKey(f"object keys must be strings, got {type(key).__name__}")
    if not key:
        raise InvalidKey("object keys must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        # JSON can smuggle in a lone surrogate ("\ud800"), which no UTF-8 key can hold.
        raise InvalidKey("object key is not valid UTF-8 (it holds a lone surrogate)") from None
    if size > R2_MAX_KEY_BYTES:
        raise InvalidKey(
            f"object key is {size} bytes; R2 keys are at most {R2_MAX_KEY_BYTES} bytes of UTF-8"
        )
    return key


def unique_in_order(keys: Iterable[str]) -> list[str]:
    """Each key once, in first-seen order: deleting a key twice in one request says nothing new."""
    return list(dict.fromkeys(keys))
