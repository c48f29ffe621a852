"""The swarm coordinator: one state machine per swarm, two wire formats, hosted three ways.

:mod:`.coordinator` is the pure core, fed events (connect, message, close, alarm, the owner's
requests and commands) with the time passed in, and returning effects (send, broadcast, close a
socket, set or delete the alarm, persist, log). Sockets speak :mod:`.protocol` (the native
format) or :mod:`.ostrich` (the Ostrich-Legs client's); both parse into :mod:`.messages`.
:mod:`.web` answers the swarm's HTTP routes and serves its pages (:mod:`.templates`);
:mod:`.host` feeds a host's events to the core and applies the effects. The hosts:
``src/swarm_worker.py`` (a Durable Object on the WebSocket hibernation API) and
``flaresuite swarm serve`` (``flaresuite_host.swarm.server``); on the device side, the join
page and ``flaresuite swarm device`` (``flaresuite_host.swarm.device``, the simulator).
"""
