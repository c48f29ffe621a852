"""The swarm coordinator: one state machine per swarm, hosted three ways.

:mod:`.coordinator` is the pure core, fed events (connect, message, close, alarm) with the time
passed in, and returning effects (send, broadcast, close a socket, set or delete the alarm,
persist, log). :mod:`.web` answers the swarm's HTTP routes. The hosts only apply effects:
``src/swarm_worker.py`` (a Durable Object on the WebSocket hibernation API), :mod:`.server`
(``flaresuite swarm serve`` on CPython) and, on the device side, :mod:`.device` (the simulator).
"""
