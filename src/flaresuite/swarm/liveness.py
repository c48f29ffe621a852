"""When a device counts as gone, and when a join may take over its session (docs/swarm.md,
"Liveness, reconnects and broadcasts" and "Using the Ostrich-Legs client").

Devices of the native protocol promise a frame at least every :data:`HEARTBEAT_SECONDS`; one
silent for :data:`OFFLINE_AFTER_SECONDS` is taken for gone (the coordinator closes its socket
and requeues its chunks), and one offline for :data:`REMOVE_AFTER_SECONDS` is forgotten with
its resume key. The Ostrich-Legs client promises no heartbeat and has no resume key, which the
two rules below account for.
"""

from __future__ import annotations

from flaresuite.swarm import ostrich
from flaresuite.swarm.model import OFFLINE, ONLINE, Device

HEARTBEAT_SECONDS = 10.0
OFFLINE_AFTER_SECONDS = 60.0
REMOVE_AFTER_SECONDS = 300.0


def owes_activity(device: Device) -> bool:
    """Whether silence means this device is gone. Native devices promise a heartbeat every
    10 s. The Ostrich-Legs client sends none and goes quiet when it has nothing to do, so
    its open socket is its liveness (the transport reports a dead peer as a close); only
    while it holds chunks does silence mean it hung or vanished unseen."""
    return device.wire != ostrich.NAME or bool(device.active)


def is_lost(device: Device, now: float) -> bool:
    """An online device silent for too long, which must be taken offline."""
    return (
        device.status == ONLINE
        and now - device.last_seen > OFFLINE_AFTER_SECONDS
        and owes_activity(device)
    )


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
