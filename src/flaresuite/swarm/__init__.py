"""The swarm coordinator: one state machine per swarm, two wire formats, hosted three ways.

:mod:`.coordinator` is the pure core, fed events (connect, message, close, alarm, the owner's
requests and commands) with the time passed in, and returning effects (:mod:`.effects`: send,
broadcast, close a socket, set or delete the alarm, persist, log). It alone changes a swarm's
state; beside it, as plain functions and small classes over what it passes in, :mod:`.refusals`
checks requests before anything changes, :mod:`.liveness` says when a device is gone,
:mod:`.verification` which results are checked (against :mod:`.kernels`), :mod:`.scheduler` who
gets work, :mod:`.views` what dashboards and devices are shown, and :mod:`.persistence` how a
swarm's records (:mod:`.model`, :mod:`.invites`) are laid out in storage and read back.
:mod:`.ratelimit` is each socket's frame budget. Sockets speak :mod:`.protocol` (the native
format) or :mod:`.ostrich` (the Ostrich-Legs client's); both parse into :mod:`.messages`.
:mod:`.web` answers the swarm's HTTP routes and serves its pages (:mod:`.templates`, with
:mod:`.qr` for invite links); :mod:`.host` feeds a host's events to the core and applies the
effects to the host's :mod:`.storage` and sockets, configured by :mod:`.config`. The hosts:
``src/swarm_worker.py`` (a Durable Object on the WebSocket hibernation API) and
``flaresuite swarm serve`` (``flaresuite_host.swarm.server``); on the device side, the join
page and ``flaresuite swarm device`` (``flaresuite_host.swarm.device``, the simulator).
"""
