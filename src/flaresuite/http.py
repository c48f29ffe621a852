"""The HTTP exchange the core speaks.

The core never opens a socket. Whoever hosts it injects an :data:`HttpFetch`: the Worker entry
modules adapt the runtime's ``fetch``, the CLI adapts an ``httpx`` client
(:mod:`flaresuite_host.transport`), and tests point either at a loopback server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from flaresuite.errors import ConfigError, RuntimeFailure
from flaresuite.redact import redact_url


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names are lower case (hosts normalise incoming requests)."""
    body: bytes = b""
    timeout: float | None = None
    """Seconds before the host gives up on the exchange; ``None`` leaves it to the host."""
    oversized: bool = False
    """Incoming requests only: the body was larger than the Worker accepts, so the host
    stopped reading it and ``body`` is empty. Services answer :func:`body_too_large`."""


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


class TransportError(RuntimeFailure):
    """The exchange did not complete: connection refused or reset, DNS failure, timeout.
    Its message names the URL only as :func:`flaresuite.redact.redact_url` shows it."""

    @classmethod
    def of(cls, request: HttpRequest, kind: str, detail: str) -> TransportError:
        """What a host's fetch raises when ``request`` got no answer: ``kind`` and ``detail``
        are the runtime's error name and message, which may quote the URL (an invalid one is
        echoed whole), so the URL is shown redacted wherever it appears."""
        shown = redact_url(request.url)
        return cls(f"{request.method} {shown}: {kind}: {detail.replace(request.url, shown)}")


HttpFetch = Callable[[HttpRequest], Awaitable[HttpResponse]]
"""Sends one request and returns the whole response; raises :class:`TransportError` when no
response arrived."""


def json_response(
    status: int, document: object, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(document).encode("utf-8"),
    )


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """The one error shape every Worker answers with: ``{"error": message}``."""
    return json_response(status, {"error": message}, headers)


def misconfigured(error: ConfigError) -> HttpResponse:
    """What every Worker answers while its configuration is unusable: 503 (nothing the caller
    can fix; retry after the deploy is fixed), naming the variables and never their values."""
    names = ", ".join(error.variables)
    return json_response(
        503,
        {
            "error": f"the Worker is misconfigured; check {names}",
            "variables": list(error.variables),
        },
        {"cache-control": "no-store"},
    )


def body_too_large(limit: int) -> HttpResponse:
    """413 for a request whose body the host refused to read past ``limit`` bytes."""
    return error_response(413, f"request body is larger than {limit} bytes")
