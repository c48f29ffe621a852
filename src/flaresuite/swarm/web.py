"""The HTTP side of one swarm, shared by the Durable Object, ``flaresuite swarm serve`` and
``flaresuite dev``.

Routes (docs/swarm.md), under ``/swarm/<swarm id>``:

``GET  /swarm/<id>``                      the dashboard (HTML; data arrives over its WebSocket)
``GET  /swarm/<id>/join?invite=``         the join page: a browser becomes a device
``GET  /swarm/<id>/worker.js``            the join page's Web Worker (the chunk kernels)
``GET  /swarm/<id>/ws?token=&deviceId=``  device upgrade (or ``resumeKey=`` to reconnect,
                                         or ``role=observer&token=`` for a dashboard)
``POST /swarm/<id>/tokens?multiUse=&code=&length=``  owner: issue an invite (5 per minute)
``POST /swarm/<id>/jobs?kind=&chunks=&opsPerChunk=``  owner: queue a job
``POST /swarm/<id>/control?runState=&throttle=&inviteeCommands=``  owner: steer the swarm
``POST /swarm/<id>/devices/<device id>?enabled=``  owner: enable or disable a device
``GET  /swarm/<id>/state``                owner: the full snapshot as JSON

and ``GET /ostrich/<swarm id>/ws?persistentId=&token=``, the Ostrich-Legs client's upgrade
(its base URL is ``<origin>/ostrich/<swarm id>``).

Owner routes take ``Authorization: Bearer $SWARM_ADMIN_TOKEN``. Their parameters travel in the
query string and the body must be empty: one contract for every host. Upgrades are refused
before they happen: a bad invite, a disallowed ``Origin`` or a busy device id never reach a
socket.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.errors import ConfigError
from flaresuite.http import HttpRequest, HttpResponse, error_response, json_response, misconfigured
from flaresuite.swarm import invites, ostrich, protocol
from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.coordinator import Admission, Coordinator
from flaresuite.swarm.effects import Effect
from flaresuite.swarm.messages import (
    INVITEE_COMMAND_NAMES,
    MAX_THROTTLE,
    MIN_THROTTLE,
    RUN_STATES,
    Command,
    SetDeviceEnabled,
    SetInviteeCommands,
    SetRunState,
    SetThrottle,
)
from flaresuite.swarm.qr import qr_svg
from flaresuite.swarm.refusals import Refused
from flaresuite.swarm.templates import render_dashboard, render_join
from flaresuite.swarm.templates.worker_js import WORKER_JS

SWARM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PATH = re.compile(r"/(?P<prefix>swarm|ostrich)/(?P<swarm>[^/]+)(?P<rest>/[^?]*)?")
_COUNT = re.compile(r"[0-9]{1,12}")
_DEVICE_ROUTE = re.compile(r"/devices/(?P<device>[^/]+)")
NO_STORE = {"cache-control": "no-store"}
"""Owner answers carry invites and swarm state: no cache may keep them."""
PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    **NO_STORE,
    # The pages load nothing from elsewhere; their invite sits in the URL, so no Referer.
    "content-security-policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; worker-src 'self'; "
        "connect-src 'self'; img-src 'self' blob:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
OWNER_ROUTES = ("/tokens", "/jobs", "/state", "/control")
PUBLIC_ROUTES = ("", "/join", "/worker.js", "/ws")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a URL points: a swarm, the wire format of its prefix, and the rest of the path."""

    swarm_id: str
    wire: str
    rest: str


@dataclass(frozen=True, slots=True)
class Reply:
    response: HttpResponse
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Accept the WebSocket, attach ``admission.attachment``, then call ``connect``."""

    admission: Admission
    effects: list[Effect]


def locate(url: str) -> Location | None:
    """The swarm a ``/swarm/<id>...`` or ``/ostrich/<id>...`` URL names, if its id is valid."""
    match = _PATH.fullmatch(urlsplit(url).path)
    if match is None or not SWARM_ID.fullmatch(match["swarm"]):
        return None
    wire = protocol.NAME if match["prefix"] == "swarm" else ostrich.NAME
    return Location(match["swarm"], wire, match["rest"] or "")


def not_a_swarm() -> HttpResponse:
    """What every host answers for a path that names no swarm."""
    return error_response(404, "not found; swarms live under /swarm/<id>")


def route(url: str, config: SwarmConfig | ConfigError) -> str | HttpResponse:
    """The Worker's front door: the id of the swarm (the Durable Object) to forward to, or
    the answer when there is none or the Worker is misconfigured."""
    if isinstance(config, ConfigError):
        return misconfigured(config)
    located = locate(url)
    return not_a_swarm() if located is None else located.swarm_id


def handle(
    coordinator: Coordinator, request: HttpRequest, config: SwarmConfig, now: float
) -> Reply | Upgrade:
    located = locate(request.url)
    if located is None or located.swarm_id != coordinator.swarm_id:
        return Reply(not_a_swarm())
    rest = located.rest.rstrip("/")
    origin = request.headers.get("origin")
    if origin is not None and not _origin_allowed(origin, request.url, config):
        return Reply(error_response(403, "origin not allowed"))
    cors = _cors_headers(origin)
    if request.method == "OPTIONS":
        return Reply(_preflight(origin))
    query = {
        k: v[-1] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()
    }
    try:
        if located.wire == ostrich.NAME:
            if rest == "/ws" and request.method == "GET":
                return _ostrich_upgrade(coordinator, request, query, now)
            return _unknown(request.method, rest == "/ws", cors)
        if request.method in ("GET", "HEAD") and rest in ("", "/join", "/worker.js"):
            return Reply(_page(coordinator.swarm_id, rest))
        if rest == "/ws" and request.method == "GET":
            return _upgrade(coordinator, request, query, now)
        if rest in OWNER_ROUTES or _DEVICE_ROUTE.fullmatch(rest):
            return _owner(coordinator, request, rest, query, config, now, cors)
    except Refused as refused:
        return Reply(error_response(refused.status, refused.message, cors), refused.effects)
    return _unknown(request.method, rest in PUBLIC_ROUTES, cors)


def _unknown(method: str, known_path: bool, cors: dict[str, str]) -> Reply:
    if known_path:
        return Reply(error_response(405, f"{method} is not allowed here", cors))
    return Reply(error_response(404, "not found", cors))


def _page(swarm_id: str, rest: str) -> HttpResponse:
    if rest == "/worker.js":
        headers = {"content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache"}
        return HttpResponse(200, headers, WORKER_JS.encode())
    render = render_dashboard if rest == "" else render_join
    return HttpResponse(200, PAGE_HEADERS, render(swarm_id).encode())


def _upgrade(
    coordinator: Coordinator, request: HttpRequest, query: dict[str, str], now: float
) -> Upgrade:
    _need_upgrade(request)
    admission, effects = coordinator.admit(
        now,
        device_id=query.get("deviceId"),
        token=query.get("token"),
        resume_key=query.get("resumeKey"),
        observer=query.get("role") == "observer",
    )
    return Upgrade(admission, effects)


def _ostrich_upgrade(
    coordinator: Coordinator, request: HttpRequest, query: dict[str, str], now: float
) -> Upgrade:
    """The Ostrich-Legs client: ``persistentId`` is its device id and ``token`` the code it
    was given. An empty code does not make the client a host (as on the reference server):
    every device needs an invite of this swarm."""
    _need_upgrade(request)
    admission, effects = coordinator.admit(
        now,
        device_id=query.get("persistentId"),
        token=query.get("token"),
        wire=ostrich.NAME,
    )
    return Upgrade(admission, effects)


def _need_upgrade(request: HttpRequest) -> None:
    if request.headers.get("upgrade", "").lower() != "websocket":
        raise Refused(426, "this endpoint needs a WebSocket upgrade")


def _owner(
    coordinator: Coordinator,
    request: HttpRequest,
    rest: str,
    query: dict[str, str],
    config: SwarmConfig,
    now: float,
    cors: dict[str, str],
) -> Reply:
    expected = "GET" if rest == "/state" else "POST"
    if request.method != expected:
        raise Refused(405, f"{request.method} is not allowed here; use {expected}")
    if not token_matches(bearer_token(request.headers), config.admin_token):
        return Reply(
            error_response(
                401, "missing or wrong bearer token", {**cors, "www-authenticate": "Bearer"}
            )
        )
    if request.body or request.oversized:
        raise Refused(400, "send parameters in the query string; the body must be empty")
    headers = {**cors, **NO_STORE}
    if rest == "/state":
        return Reply(json_response(200, coordinator.snapshot(now), headers))
    if rest == "/tokens":
        return _issue(coordinator, request.url, query, now, headers)
    if rest == "/jobs":
        job, effects = coordinator.submit_job(
            now,
            kind=query.get("kind", "MATH_STRESS"),
            chunks=_integer(query, "chunks", 1),
            ops_per_chunk=_integer(query, "opsPerChunk", 1_000_000),
        )
        body = {"jobId": job.id, "chunks": job.total, "kind": job.kind}
        return Reply(json_response(201, body, headers), effects)
    effects = coordinator.command(*_commands(rest, query), now=now)
    return Reply(json_response(200, coordinator.settings(), headers), effects)


def _issue(
    coordinator: Coordinator, url: str, query: dict[str, str], now: float, headers: dict[str, str]
) -> Reply:
    code = _flag(query, "code")
    if "length" in query and not code:
        raise Refused(400, "length applies to codes only (code=true)")
    length = _integer(query, "length", invites.DEFAULT_CODE_CHARS)
    if not invites.MIN_CODE_CHARS <= length <= invites.MAX_CODE_CHARS:
        raise Refused(
            400, f"length must be {invites.MIN_CODE_CHARS} to {invites.MAX_CODE_CHARS} characters"
        )
    issued, effects = coordinator.issue_invite(
        now, multi_use=_flag(query, "multiUse"), code_chars=length if code else None
    )
    join_url = (
        f"{_own_origin(url)}/swarm/{coordinator.swarm_id}/join"
        f"?invite={quote(issued.token, safe='')}"
    )
    body = {
        "token": issued.token,
        "code": issued.code,
        "expiresAt": issued.expires_at,
        "multiUse": issued.multi_use,
        "joinUrl": join_url,
        "qrSvg": qr_svg(join_url),
    }
    return Reply(json_response(201, body, headers), effects)


def _commands(rest: str, query: dict[str, str]) -> list[Command]:
    """The owner's commands in a ``/control`` or ``/devices/<id>`` request, all checked before
    any is applied, so a bad parameter changes nothing."""
    device = _DEVICE_ROUTE.fullmatch(rest)
    if device is not None:
        if "enabled" not in query:
            raise Refused(400, "enabled=true or enabled=false is required")
        return [SetDeviceEnabled(unquote(device["device"]), _flag(query, "enabled"))]
    parsers: dict[str, Callable[[str], Command]] = {
        "runState": _run_state,
        "throttle": _throttle,
        "inviteeCommands": _invitee_commands,
    }
    unknown = sorted(set(query) - set(parsers))
    if unknown:
        raise Refused(400, f"unknown parameter {unknown[0][:40]!r}; use {', '.join(parsers)}")
    if not query:
        raise Refused(400, f"name at least one of {', '.join(parsers)}")
    return [parsers[name](value) for name, value in query.items()]


def _run_state(value: str) -> Command:
    if value not in RUN_STATES:
        raise Refused(400, f"runState must be one of {', '.join(RUN_STATES)}")
    return SetRunState(value)


def _throttle(value: str) -> Command:
    if not _COUNT.fullmatch(value) or not MIN_THROTTLE <= int(value) <= MAX_THROTTLE:
        raise Refused(400, f"throttle must be a percentage from {MIN_THROTTLE} to {MAX_THROTTLE}")
    return SetThrottle(int(value))


def _invitee_commands(value: str) -> Command:
    names = {name.strip() for name in value.split(",") if name.strip() not in ("", "none")}
    if not names <= set(INVITEE_COMMAND_NAMES):
        raise Refused(
            400,
            f"inviteeCommands is 'none' or a comma-separated list of "
            f"{', '.join(INVITEE_COMMAND_NAMES)}",
        )
    return SetInviteeCommands(frozenset(names))


def _flag(query: dict[str, str], name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Refused(400, f"{name} must be true or false")
    return value in ("true", "1")


def _integer(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    # Not str.isdigit(): it accepts "²", which int() then refuses.
    if not _COUNT.fullmatch(value):
        raise Refused(400, f"{name} must be a positive integer")
    return int(value)


def _origin_allowed(origin: str, url: str, config: SwarmConfig) -> bool:
    return origin.rstrip("/") in config.allowed_origins or origin == _own_origin(url)


def _own_origin(url: str) -> str:
    """The origin of the pages this Worker serves at ``url``, a WebSocket URL's included."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def _cors_headers(origin: str | None) -> dict[str, str]:
    # Only reached for origins that passed _origin_allowed; others were refused with 403.
    return {} if origin is None else {"access-control-allow-origin": origin, "vary": "Origin"}


def _preflight(origin: str | None) -> HttpResponse:
    headers = {
        **_cors_headers(origin),
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "Authorization",
        "access-control-max-age": "600",
    }
    return HttpResponse(204, headers)
