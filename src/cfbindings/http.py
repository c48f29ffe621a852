"""HTTP at the Worker's edges: the runtime's ``fetch`` as the core's
:data:`flaresuite.http.HttpFetch`, and incoming requests and outgoing responses converted."""

from __future__ import annotations

import js
from pyodide.ffi import JsException, to_js

from cfbindings.convert import field, js_object
from flaresuite.http import HttpRequest, HttpResponse, TransportError
from workers import Response

_RUNTIME_OWNED_HEADERS = frozenset({"host", "content-length"})
"""Derived by fetch from the URL and the body; undici refuses to take them from the caller."""


async def fetch(req: HttpRequest) -> HttpResponse:
    """:data:`flaresuite.http.HttpFetch` over the runtime's global ``fetch``.

    Redirects are returned, not followed (one request, one response, as on the CLI's
    transport). ``req.timeout`` covers the whole exchange, body included, through
    ``AbortSignal.timeout``.
    """
    init: dict[str, object] = {
        "method": req.method,
        "headers": js_object(
            {k: v for k, v in req.headers.items() if k.lower() not in _RUNTIME_OWNED_HEADERS}
        ),
        "redirect": "manual",
    }
    if req.body:
        init["body"] = to_js(bytes(req.body))
    if req.timeout is not None:
        init["signal"] = js.AbortSignal.timeout(max(1, round(req.timeout * 1000)))
    try:
        response = await js.fetch(req.url, js_object(init))
        body = (await response.arrayBuffer()).to_bytes()
    except JsException as error:
        raise TransportError.of(req, str(error.name), str(error.message)) from None
    return HttpResponse(
        status=int(response.status),
        headers={name.lower(): value for name, value in response.headers.entries()},
        body=body,
    )


async def to_core_request(request, *, max_body_bytes: int) -> HttpRequest:
    """The core's view of an incoming ``workers.Request`` (or a raw JS ``Request``).

    At most ``max_body_bytes`` of the body are read: a Worker has 128 MB for everything, and a
    request body may be up to 100 MB, so a hostile upload must be refused while it streams,
    not after it is buffered. Past the limit (declared or actual) the request arrives with an
    empty body and ``oversized`` set, and the core answers 413.
    """
    raw = getattr(request, "js_object", request)
    headers = {name.lower(): value for name, value in raw.headers.entries()}
    body = await _read_at_most(raw, headers.get("content-length"), max_body_bytes)
    return HttpRequest(
        method=str(raw.method).upper(),
        url=str(raw.url),
        headers=headers,
        body=body or b"",
        oversized=body is None,
    )


async def _read_at_most(raw, declared: str | None, limit: int) -> bytes | None:
    """The body, or ``None`` once it is known to exceed ``limit`` bytes."""
    declared = (declared or "").strip()
    # Compared by length first: int() refuses more than 4300 digits.
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > len(str(limit)) or int(declared) > limit)
    ):
        return None
    stream = field(raw, "body")
    if stream is None:
        return b""
    reader = stream.getReader()
    chunks: list[bytes] = []
    total = 0
    while True:
        result = await reader.read()
        if result.done:
            return b"".join(chunks)
        chunk = result.value.to_bytes()
        total += len(chunk)
        if total > limit:
            await reader.cancel()
            return None
        chunks.append(chunk)


def to_worker_response(resp: HttpResponse) -> Response:
    # A null-body status (101, 204, 205, 304) must not carry even an empty body.
    return Response(resp.body or None, status=resp.status, headers=dict(resp.headers) or None)
