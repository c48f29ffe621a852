"""Deleting many keys in few R2 calls, with an answer for every key.

R2's ``delete(keys)`` takes up to 1000 keys and returns nothing: no per-key result, and a key
that does not exist is not an error (https://developers.cloudflare.com/r2/api/workers/
workers-api-reference/). So this module

* splits the keys into batches of at most :data:`~flaresuite.ports.MAX_DELETE_KEYS`
  and makes one ``delete`` call per batch;
* retries a batch whose call failed once more, key by key, so one bad key cannot fail its
  999 neighbours;
* learns beforehand, by listing, which keys existed, so a result can say a key was absent
  (deleting it still counts as success: afterwards it is not there, which is what was asked).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flaresuite.ports import MAX_DELETE_KEYS, Bucket
from flaresuite.purge.limits import R2_MAX_LIST_LIMIT


@dataclass(frozen=True, slots=True)
class KeyOutcome:
    key: str
    success: bool
    absent: bool | None
    """``True`` if the key did not exist before the delete, ``False`` if it did, ``None`` if
    finding out would have cost more list calls than the request may spend."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteReport:
    outcomes: tuple[KeyOutcome, ...]
    delete_calls: int
    list_calls: int

    @property
    def deleted(self) -> int:
        return sum(outcome.success for outcome in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.deleted

    @property
    def absent(self) -> int:
        return sum(outcome.absent is True for outcome in self.outcomes)


@dataclass(frozen=True, slots=True)
class Existence:
    """Which of some keys exist, as far as a bounded number of list calls could tell."""

    existing: frozenset[str]
    unknown: frozenset[str]
    list_calls: int

    def absent(self, key: str) -> bool | None:
        if key in self.unknown:
            return None
        return key not in self.existing


def batches(keys: Sequence[str], size: int = MAX_DELETE_KEYS) -> list[Sequence[str]]:
    """``keys`` in order, cut into consecutive runs of at most ``size``."""
    if not 1 <= size <= MAX_DELETE_KEYS:
        raise ValueError(f"batch size must be 1 to {MAX_DELETE_KEYS}, got {size}")
    return [keys[start : start + size] for start in range(0, len(keys), size)]


async def list_keys(bucket: Bucket, prefix: str) -> tuple[list[str], int]:
    """Every key under ``prefix`` and the number of list calls it took. R2 may return fewer
    than ``limit`` objects on a page that is not the last, so only ``truncated`` ends the loop."""
    keys: list[str] = []
    cursor: str | None = None
    calls = 0
    while True:
        page = await bucket.list(prefix=prefix, cursor=cursor, limit=R2_MAX_LIST_LIMIT)
        calls += 1
        keys.extend(listed.key for listed in page.objects)
        if not page.truncated:
            return keys, calls
        cursor = page.cursor


async def find_existing(bucket: Bucket, keys: Iterable[str], *, max_list_calls: int) -> Existence:
    """Which of ``keys`` exist, spending at most ``max_list_calls`` list calls.

    A group of keys is listed under its longest common prefix, page by page, until the listing
    passes the group's last key (R2 lists in UTF-8 byte order, which is code point order, as
    Python sorts). Keys a backend deletes together usually share a prefix (``projects/12/``), so
    this costs about one call per 1000 keys. When the prefix holds many more objects than the
    group, the group's page budget runs out first; the keys not yet passed are split in two
    and each half (with its longer common prefix) tried again, down to single keys, which take
    one call each (``list(prefix=key, limit=1)`` returns the key itself first if it exists).
    Keys still unresolved when ``max_list_calls`` is spent are reported as unknown.
    """
    pending = [sorted(set(keys))]
    existing: set[str] = set()
    calls = 0
    while pending and calls < max_list_calls:
        group = pending.pop()
        # Character by character is what is wanted: an R2 list prefix, not a path.
        prefix = os.path.commonprefix([group[0], group[-1]])  # noqa: RUF071
        wanted = set(group)
        page_budget = -(-len(group) // R2_MAX_LIST_LIMIT) + 1
        cursor: str | None = None
        last_listed: str | None = None
        resolved = False
        for _ in range(min(page_budget, max_list_calls - calls)):
            page = await bucket.list(
                prefix=prefix, cursor=cursor, limit=1 if len(group) == 1 else R2_MAX_LIST_LIMIT
            )
            calls += 1
            existing.update(listed.key for listed in page.objects if listed.key in wanted)
            if page.objects:
                last_listed = page.objects[-1].key
            if not page.truncated or (last_listed is not None and last_listed >= group[-1]):
                resolved = True
                break
            cursor = page.cursor
        if resolved:
            continue
        rest = [key for key in group if last_listed is None or key > last_listed]
        middle = len(rest) // 2
        pending.extend(part for part in (rest[:middle], rest[middle:]) if part)
    unknown = frozenset(key for group in pending for key in group)
    return Existence(existing=frozenset(existing), unknown=unknown, list_calls=calls)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


async def delete_in_batches(
    bucket: Bucket, keys: Sequence[str], existence: Existence
) -> DeleteReport:
    """Delete ``keys`` (unique, valid) with one R2 call per batch of up to 1000; a batch whose
    call raised is retried key by key, and only the keys that fail alone are failures."""
    outcomes: list[KeyOutcome] = []
    calls = 0
    for batch in batches(keys):
        calls += 1
        try:
            await bucket.delete(batch)
        except Exception:
            for key in batch:
                calls += 1
                try:
                    await bucket.delete([key])
                except Exception as error:
                    outcomes.append(KeyOutcome(key, False, existence.absent(key), _describe(error)))
                else:
                    outcomes.append(KeyOutcome(key, True, existence.absent(key)))
        else:
            outcomes.extend(KeyOutcome(key, True, existence.absent(key)) for key in batch)
    return DeleteReport(
        outcomes=tuple(outcomes), delete_calls=calls, list_calls=existence.list_calls
    )
