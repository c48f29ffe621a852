"""A run lock in KV that expires.

Glean allows one bulk upload at a time per datasource ("Concurrent uploads are not allowed"),
and two syncs interleaving would corrupt the checkpoint, so runs take this lock first.

KV has no compare-and-swap, so the lock is advisory: a taker writes its owner id and reads it
back, and only the owner it reads proceeds. Two takers racing in the same location settle on
the last write; takers in different locations could both win within KV's propagation delay
(up to 60 s), which a Worker's own crons and a manual trigger do not produce in practice.
The lock carries its own expiry, checked against the clock, besides KV's ``expirationTtl``:
a run that crashed without releasing it blocks for at most the TTL. A live run longer than
the TTL renews it as it goes (at most once per half TTL, well inside KV's one write per second
per key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flaresuite.errors import RuntimeFailure
from flaresuite.glean.modes import Mode
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.ports import Clock, KeyValue

LOCK_KEY = "glean:lock"
MAX_LOCK_BYTES = 4096
"""A lock is about 120 bytes; anything much larger was not written by a run."""


@dataclass(frozen=True, slots=True)
class LockHolder:
    owner: str
    mode: Mode
    acquired_at: float
    expires_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "mode": self.mode.value,
            "acquiredAt": self.acquired_at,
            "expiresAt": self.expires_at,
        }


class LockBusy(RuntimeFailure):
    def __init__(self, holder: LockHolder) -> None:
        super().__init__(f"a {holder.mode.value} run ({holder.owner}) is in progress")
        self.holder = holder


class LockLost(RuntimeFailure):
    """A run's lock expired and another run took it: the first must stop."""


class KvLock:
    def __init__(self, kv: KeyValue, clock: Clock, ttl: int) -> None:
        self._kv = kv
        self._clock = clock
        self._ttl = ttl

    async def holder(self) -> LockHolder | None:
        """The live holder; an expired or unreadable lock counts as free."""
        raw = await self._kv.get(LOCK_KEY)
        if raw is None:
            return None
        try:
            data = parse_json(raw, max_bytes=MAX_LOCK_BYTES)
            holder = LockHolder(
                str(data["owner"]),
                Mode(data["mode"]),
                float(data["acquiredAt"]),
                float(data["expiresAt"]),
            )
        except (BadJson, ValueError, KeyError, TypeError):
            return None
        return holder if holder.expires_at > self._clock.now() else None

    async def acquire(self, owner: str, mode: Mode) -> LockHolder:
        """Take the lock for ``owner``; raises :class:`LockBusy` naming the live holder."""
        current = await self.holder()
        if current is not None:
            raise LockBusy(current)
        now = self._clock.now()
        mine = LockHolder(owner, mode, now, now + self._ttl)
        try:
            await self._kv.put(LOCK_KEY, json.dumps(mine.to_json()), expiration_ttl=self._ttl)
        except Exception:
            # KV refuses a second write to a key within a second (429): a run started in the
            # same instant (both crons at 02:00) took the lock first. Any other failure, or a
            # refusal with no holder to show, is re-raised.
            taken = await self.holder()
            if taken is None:
                raise
            raise LockBusy(taken) from None
        confirmed = await self.holder()
        if confirmed is None or confirmed.owner != owner:
            raise LockBusy(confirmed or mine)
        return mine

    async def renew(self, mine: LockHolder) -> LockHolder:
        """Push the expiry of a held lock a full TTL ahead, for runs longer than the TTL;
        raises :class:`LockLost` if it is no longer ``mine``."""
        current = await self.holder()
        if current is None or current.owner != mine.owner:
            taken = f"run {current.owner} took it" if current else "it expired"
            raise LockLost(f"the run lock was lost ({taken}); stopping this run")
        renewed = LockHolder(mine.owner, mine.mode, mine.acquired_at, self._clock.now() + self._ttl)
        await self._kv.put(LOCK_KEY, json.dumps(renewed.to_json()), expiration_ttl=self._ttl)
        return renewed

    async def release(self, owner: str) -> None:
        """Release the lock if ``owner`` still holds it; a lock that expired and was taken by
        another run is left to that run."""
        current = await self.holder()
        if current is not None and current.owner == owner:
            await self._kv.delete(LOCK_KEY)
