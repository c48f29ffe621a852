"""An :data:`~flaresuite.http.HttpFetch` for CPython, over ``httpx.AsyncClient``.

Used by the CLI and by tests that talk to real loopback servers (moto, pytest-httpserver).
"""

from __future__ import annotations

from types import TracebackType

import httpx

from flaresuite.http import HttpRequest, HttpResponse, TransportError

DEFAULT_TIMEOUT = 60.0
"""Seconds for connect, read and write each, when the request does not say."""


class HttpxFetch:
    """Sends :class:`~flaresuite.http.HttpRequest` s over one pooled ``httpx.AsyncClient``.

    Use it as an async context manager so the connection pool is closed::

        async with HttpxFetch() as fetch:
            response = await fetch(HttpRequest("GET", url))

    Redirects are not followed (S3 answers a wrong region with a 301 that must surface as
    an error, not be chased unsigned). Response header names are lower case, and repeated
    headers are joined with ``", "`` (RFC 9110 section 5.3).
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._client: httpx.AsyncClient = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> HttpxFetch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = httpx.USE_CLIENT_DEFAULT if request.timeout is None else request.timeout
        try:
            response = await self._client.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                content=request.body or None,
                timeout=timeout,
            )
        except httpx.TransportError as error:
            raise TransportError.of(request, type(error).__name__, str(error)) from error
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return HttpResponse(response.status_code, headers, response.content)


def httpx_fetch(*, timeout: float = DEFAULT_TIMEOUT) -> HttpxFetch:
    """A new :class:`HttpxFetch`, for ``async with httpx_fetch() as fetch: ...``."""
    return HttpxFetch(timeout=timeout)
