"""How a swarm is laid out in storage, and read back after an eviction (docs/swarm.md,
"Persistence and rebuild").

Each record is its own key with a JSON string value, so an event rewrites only what it touched:
``meta`` (:class:`Meta`), ``invites:recent`` (the times of recent invite issues, for the rate
limit) and one key per record of each family in :data:`FAMILIES`: ``device:<id>``,
``job:<id>``, ``chunk:<id>`` and ``invite:<sha256>``. The same table serves writing
(:func:`stored_value`) and reading back (:func:`read`), so a kind of record cannot be written
without being read back. An event's writes go to the host as one batch (:func:`writes`).

What a rebuilt swarm then does with what storage held (devices whose socket is gone go
offline, their chunks back to the queue) is an event of the coordinator,
:meth:`~flaresuite.swarm.coordinator.Coordinator.restore`, not part of the layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flaresuite.swarm.effects import Persist
from flaresuite.swarm.invites import Invite, InviteBook
from flaresuite.swarm.messages import MAX_THROTTLE, RUNNING
from flaresuite.swarm.model import Chunk, Device, Job

META = "meta"
RECENT_INVITES = "invites:recent"


@dataclass(frozen=True, slots=True)
class Meta:
    """The ``meta`` key: the swarm's counters and the owner's settings. It names the swarm, so
    an object woken by an alarm or a socket event (no URL to read) knows which swarm it is."""

    swarm_id: str
    next_seq: int
    done: int
    failed: int
    run_state: str = RUNNING
    throttle: int = MAX_THROTTLE
    invitee_commands: frozenset[str] = frozenset()

    def to_json(self) -> str:
        return json.dumps(
            {
                "swarm": self.swarm_id,
                "nextSeq": self.next_seq,
                "done": self.done,
                "failed": self.failed,
                "runState": self.run_state,
                "throttle": self.throttle,
                "inviteeCommands": sorted(self.invitee_commands),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Meta:
        data = json.loads(text)
        # Swarms stored before there were owner controls hold no settings.
        return cls(
            swarm_id=data["swarm"],
            next_seq=data["nextSeq"],
            done=data["done"],
            failed=data["failed"],
            run_state=data.get("runState", RUNNING),
            throttle=data.get("throttle", MAX_THROTTLE),
            invitee_commands=frozenset(data.get("inviteeCommands", ())),
        )


class Tables(Protocol):
    """The records a swarm stores one key each of: the coordinator's, or what :func:`read`
    found in storage."""

    @property
    def devices(self) -> dict[str, Device]: ...

    @property
    def jobs(self) -> dict[str, Job]: ...

    @property
    def chunks(self) -> dict[str, Chunk]: ...

    @property
    def invites(self) -> InviteBook: ...


class Swarm(Tables, Protocol):
    """What :func:`stored_value` writes from: the tables and the swarm's meta."""

    def meta(self) -> Meta: ...


@dataclass(frozen=True, slots=True)
class Family:
    """``<family>:<id>`` keys, one per record of a table."""

    table: Callable[[Tables], dict[str, Any]]
    from_json: Callable[[str], Any]


FAMILIES: dict[str, Family] = {
    "device": Family(lambda t: t.devices, Device.from_json),
    "job": Family(lambda t: t.jobs, Job.from_json),
    "chunk": Family(lambda t: t.chunks, Chunk.from_json),
    "invite": Family(lambda t: t.invites.invites, Invite.from_json),
}


def stored_value(key: str, swarm: Swarm) -> str | None:
    """The JSON ``key`` holds for ``swarm`` now, or ``None`` when its record is gone and the
    key must be deleted. ``KeyError`` for a key of no known kind."""
    if key == META:
        return swarm.meta().to_json()
    if key == RECENT_INVITES:
        return json.dumps(swarm.invites.recent)
    family, _, ident = key.partition(":")
    found = FAMILIES[family].table(swarm).get(ident)
    return None if found is None else str(found.to_json())


def writes(keys: Iterable[str], swarm: Swarm) -> Persist:
    """What brings ``keys`` up to date with ``swarm``, as one batch: a Durable Object applies
    the writes of one event together or not at all."""
    put: dict[str, str] = {}
    delete: list[str] = []
    for key in sorted(keys):
        value = stored_value(key, swarm)
        if value is None:
            delete.append(key)
        else:
            put[key] = value
    return Persist(put, tuple(delete))


@dataclass(slots=True)
class Saved:
    """What storage held of a swarm, parsed (:func:`read`). Which chunks a device holds is not
    stored: the coordinator derives it from the chunks when it rebuilds."""

    meta: Meta | None = None
    """``None`` for a swarm that has never changed: ``meta`` is written with the first change,
    so a refused or read-only request leaves no trace in storage."""
    devices: dict[str, Device] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)
    invites: InviteBook = field(default_factory=InviteBook)


def read(stored: Mapping[str, str]) -> Saved:
    """Every record of ``stored``. A key this version does not know is left alone: a newer
    version may have written it."""
    saved = Saved()
    for key, value in stored.items():
        if key == META:
            saved.meta = Meta.from_json(value)
        elif key == RECENT_INVITES:
            saved.invites.recent = json.loads(value)
        else:
            family, _, ident = key.partition(":")
            kind = FAMILIES.get(family)
            if kind is not None:
                kind.table(saved)[ident] = kind.from_json(value)
    return saved
