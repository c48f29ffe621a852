"""When a device counts as gone, and when a join may take over its session (docs/swarm.md,
"Liveness, reconnects and broadcasts" and "Using the Ostrich-Legs client").

Devices of the native protocol promise a frame at least every :data:`HEARTBEAT_SECONDS`; one
silent for :data:`OFFLINE_AFTER_SECONDS` is taken for gone (the coordinator closes its socket
and requeues its chunks), and one offline for :data:`REMOVE_AFTER_SECONDS` is forgotten with
its resume key. The Ostrich-Legs client promises no heartbeat and has no resume key, which the
rules below account for.
"""

from __future__ import annotations

from flaresuite.swarm import ostrich
from flaresuite.swarm.model import OFFLINE, ONLINE, Device

HEARTBEAT_SECONDS = 10.0
OFFLINE_AFTER_SECONDS = 60.0
REMOVE_AFTER_SECONDS = 300.0
IDLE_OSTRICH_AFTER_SECONDS = 240.0
"""How long an Ostrich-Legs device that holds no chunk may send nothing at all. Its client
has no heartbeat and goes quiet when it has nothing to do, and a Durable Object cannot ping,
so a connection that died without a close would otherwise stay online forever, and keep the
alarm (and the object) awake. Closing the socket costs a live client one reconnect (it comes
back on its own within seconds, with the same id and code); it is done before
:data:`REMOVE_AFTER_SECONDS`, so that client finds its device still known."""


def silence_allowed(device: Device) -> float:
    """How long ``device`` may send nothing before it counts as gone. Native devices promise
    a heartbeat every 10 s, and so does nobody else: an Ostrich-Legs device holding chunks
    is given as long (it hung, or vanished unseen), an idle one much longer."""
    if device.wire == ostrich.NAME and not device.active:
        return IDLE_OSTRICH_AFTER_SECONDS
    return OFFLINE_AFTER_SECONDS


def is_lost(device: Device, now: float) -> bool:
    """An online device silent for too long, which must be taken offline."""
    return device.status == ONLINE and now - device.last_seen > silence_allowed(device)


def is_expired(device: Device, now: float) -> bool:
    """An offline device gone for so long that it is forgotten."""
    return device.status == OFFLINE and now - device.last_seen > REMOVE_AFTER_SECONDS


def may_take_over(device: Device, wire: str, now: float) -> bool:
    """Whether a join of ``wire`` may take over ``device``'s online session. An Ostrich-Legs
    device has no resume key, so the same browser coming back (its old socket half-open, say)
    must get in by id. Only a session silent for a heartbeat period yields, so two tabs
    sharing an id do not take turns replacing each other forever: the busy one keeps it."""
    return (
        wire == ostrich.NAME
        and device.wire == ostrich.NAME
        and now - device.last_seen >= HEARTBEAT_SECONDS
    )
