"""The HTTP exchange the core speaks.

The core never opens a socket. Whoever hosts it injects an :data:`HttpFetch`: the Worker entry
modules adapt the runtime's ``fetch``, the CLI adapts an ``httpx`` client
(:mod:`flaresuite.host.transport`), and tests point either at a loopback server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names are lower case (hosts normalise incoming requests)."""
    body: bytes = b""
    timeout: float | None = None
    """Seconds before the host gives up on the exchange; ``None`` leaves it to the host."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    """Header names are lower case (hosts normalise them)."""
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class TransportError(Exception):
    """The exchange did not complete: connection refused or reset, DNS failure, timeout."""


HttpFetch = Callable[[HttpRequest], Awaitable[HttpResponse]]
"""Sends one request and returns the whole response; raises :class:`TransportError` when no
response arrived."""


def json_response(status: int, document: object, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(document).encode("utf-8"),
    )


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """The one error shape every Worker answers with: ``{"error": message}``."""
    return json_response(status, {"error": message}, headers)
