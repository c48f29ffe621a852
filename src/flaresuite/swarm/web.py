"""The HTTP side of one swarm, shared by the Durable Object and ``flaresuite swarm serve``.

Routes (docs/swarm.md), all under ``/swarm/<swarm id>``:

``GET  /swarm/<id>``                      the dashboard (HTML; data arrives over its WebSocket)
``GET  /swarm/<id>/ws?token=&deviceId=``  device upgrade (or ``resumeKey=`` to reconnect,
                                         or ``role=observer&token=`` for a dashboard)
``POST /swarm/<id>/tokens?multiUse=``     owner: issue an invite (5 per minute)
``POST /swarm/<id>/jobs?kind=&chunks=&opsPerChunk=``  owner: queue a job
``GET  /swarm/<id>/state``                owner: the full snapshot as JSON

Owner routes take ``Authorization: Bearer $SWARM_ADMIN_TOKEN``. Their parameters travel in the
query string and the body must be empty, because the local server's HTTP layer (the
``websockets`` library's handshake parser) refuses request bodies. Upgrades are refused before
they happen: a bad token, a disallowed ``Origin`` or a busy device id never reach a socket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.http import HttpRequest, HttpResponse, error_response, json_response
from flaresuite.swarm.coordinator import Admission, Coordinator, Refused
from flaresuite.swarm.effects import Effect
from flaresuite.swarm.templates import render_dashboard

SWARM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PATH = re.compile(r"/swarm/(?P<swarm>[^/]+)(?P<rest>/[^?]*)?")
_COUNT = re.compile(r"[0-9]{1,12}")
NO_STORE = {"cache-control": "no-store"}
"""Owner answers carry invite tokens and swarm state: no cache may keep them."""


@dataclass(frozen=True, slots=True)
class SwarmConfig:
    admin_token: str | None
    """``SWARM_ADMIN_TOKEN``: the owner's bearer token; owner routes answer 503 without it."""
    allowed_origins: frozenset[str] = frozenset()
    """``SWARM_ALLOWED_ORIGINS``: comma-separated origins allowed besides the Worker's own."""

    @classmethod
    def from_env(cls, env: Mapping[str, Any]) -> SwarmConfig:
        origins = str(env.get("SWARM_ALLOWED_ORIGINS") or "")
        return cls(
            admin_token=str(env.get("SWARM_ADMIN_TOKEN") or "") or None,
            allowed_origins=frozenset(
                o.strip().rstrip("/") for o in origins.split(",") if o.strip()
            ),
        )


@dataclass(frozen=True, slots=True)
class Reply:
    response: HttpResponse
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Accept the WebSocket, attach ``admission.attachment``, then call ``connect``."""

    admission: Admission
    effects: list[Effect]


def swarm_of(url: str) -> tuple[str, str] | None:
    """``(swarm id, rest of the path)`` for a ``/swarm/<id>...`` URL with a valid id."""
    match = _PATH.fullmatch(urlsplit(url).path)
    if match is None or not SWARM_ID.fullmatch(match["swarm"]):
        return None
    return match["swarm"], match["rest"] or ""


def not_a_swarm() -> HttpResponse:
    """What both hosts answer for a path that names no swarm."""
    return error_response(404, "not found; swarms live under /swarm/<id>")


def handle(
    coordinator: Coordinator, request: HttpRequest, config: SwarmConfig, now: float
) -> Reply | Upgrade:
    located = swarm_of(request.url)
    if located is None or located[0] != coordinator.swarm_id:
        return Reply(error_response(404, "not found"))
    rest = located[1].rstrip("/")
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
        if rest == "" and request.method in ("GET", "HEAD"):
            page = render_dashboard(coordinator.swarm_id).encode()
            return Reply(
                HttpResponse(200, {"content-type": "text/html; charset=utf-8", **NO_STORE}, page)
            )
        if rest == "/ws" and request.method == "GET":
            return _upgrade(coordinator, request, query, now)
        if rest in ("/tokens", "/jobs", "/state"):
            return _owner(coordinator, request, rest, query, config, now, cors)
    except Refused as refused:
        return Reply(error_response(refused.status, refused.message, cors), refused.effects)
    if rest in ("", "/ws", "/tokens", "/jobs", "/state"):
        return Reply(error_response(405, f"{request.method} is not allowed here", cors))
    return Reply(error_response(404, "not found", cors))


def _upgrade(
    coordinator: Coordinator, request: HttpRequest, query: dict[str, str], now: float
) -> Upgrade:
    if request.headers.get("upgrade", "").lower() != "websocket":
        raise Refused(426, "this endpoint needs a WebSocket upgrade")
    admission, effects = coordinator.admit(
        now,
        device_id=query.get("deviceId"),
        token=query.get("token"),
        resume_key=query.get("resumeKey"),
        observer=query.get("role") == "observer",
    )
    return Upgrade(admission, effects)


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
    if config.admin_token is None:
        raise Refused(503, "SWARM_ADMIN_TOKEN is not configured")
    if not token_matches(bearer_token(request.headers), config.admin_token):
        return Reply(
            error_response(
                401, "missing or wrong bearer token", {**cors, "www-authenticate": "Bearer"}
            )
        )
    if request.body:
        raise Refused(400, "send parameters in the query string; the body must be empty")
    if rest == "/state":
        return Reply(json_response(200, coordinator.snapshot(now), {**cors, **NO_STORE}))
    if rest == "/tokens":
        multi = _flag(query, "multiUse")
        issued, effects = coordinator.issue_invite(now, multi_use=multi)
        body = {"token": issued.token, "expiresAt": issued.expires_at, "multiUse": issued.multi_use}
        return Reply(json_response(201, body, {**cors, **NO_STORE}), effects)
    job, effects = coordinator.submit_job(
        now,
        kind=query.get("kind", "MATH_STRESS"),
        chunks=_integer(query, "chunks", 1),
        ops_per_chunk=_integer(query, "opsPerChunk", 1_000_000),
    )
    body = {"jobId": job.id, "chunks": job.total, "kind": job.kind}
    return Reply(json_response(201, body, {**cors, **NO_STORE}), effects)


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
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return origin.rstrip("/") in config.allowed_origins or origin == f"{scheme}://{parts.netloc}"


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
