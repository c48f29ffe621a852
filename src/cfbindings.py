"""Adapters from Cloudflare Workers bindings to the core's ports.

The entry modules hand ``self.env.<NAME>`` (an R2 or KV binding as wrapped by
``workers-runtime-sdk``) to :class:`R2Bucket` / :class:`KVNamespace`, give the core :func:`fetch`
as its :data:`flaresuite.http.HttpFetch`, and convert requests and responses at the edge with
:func:`to_core_request` and :func:`to_worker_response`. This module only runs inside a Worker
(Pyodide); the core never imports it.

Binding APIs: https://developers.cloudflare.com/r2/api/workers/workers-api-reference/ and
https://developers.cloudflare.com/kv/api/. Bindings are called through the SDK's
``_BindingWrapper`` (what ``self.env.<NAME>`` returns; a raw binding, such as the ``env``
argument of ``scheduled`` holds, is wrapped here), so arguments are plain Python values that
the SDK converts with ``python_to_rpc``, and results come back through ``python_from_rpc``:
plain JS objects as dicts, class instances (R2Object) as proxies. :func:`_field` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import js
from pyodide.ffi import JsException, jsnull, to_js
from workers import Response
from workers.rpc import _BindingWrapper

from flaresuite.http import HttpRequest, HttpResponse, TransportError
from flaresuite.ports import ListedObject, ListPage, StoredObject
from flaresuite.stores.memory import MAX_DELETE_KEYS

_RUNTIME_OWNED_HEADERS = frozenset({"host", "content-length"})
"""Derived by fetch from the URL and the body; undici refuses to take them from the caller."""


def _field(value, name: str):
    """``value.name`` for a JS object or ``value[name]`` for a converted dict; JS null and
    undefined read as ``None``."""
    if isinstance(value, Mapping):
        found = value.get(name)
    else:
        found = getattr(value, name, None)
    return None if found is jsnull else found


def _as_bytes(buffer) -> bytes:
    """An ArrayBuffer arrives as a JsProxy (raw binding) or a memoryview (after the SDK's
    ``to_py``)."""
    if hasattr(buffer, "to_bytes"):
        return buffer.to_bytes()
    return bytes(buffer)


def _js_object(mapping: Mapping[str, object]):
    return to_js(dict(mapping), dict_converter=js.Object.fromEntries)


class R2Bucket:
    """:class:`flaresuite.ports.Bucket` over an R2 binding."""

    def __init__(self, binding) -> None:
        self._binding = _BindingWrapper(binding)

    async def get(self, key: str) -> StoredObject | None:
        found = await self._binding.get(key)
        if found is None:
            return None
        body = _as_bytes(await found.arrayBuffer())
        http_metadata = _field(found, "httpMetadata") or {}
        custom_metadata = _field(found, "customMetadata") or {}
        return StoredObject(
            key=key,
            body=body,
            etag=_field(found, "etag") or "",
            content_type=_field(http_metadata, "contentType"),
            cache_control=_field(http_metadata, "cacheControl"),
            custom_metadata=dict(custom_metadata),
        )

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None:
        http_metadata = {}
        if content_type is not None:
            http_metadata["contentType"] = content_type
        if cache_control is not None:
            http_metadata["cacheControl"] = cache_control
        options: dict[str, object] = {}
        if http_metadata:
            options["httpMetadata"] = http_metadata
        if custom_metadata:
            options["customMetadata"] = dict(custom_metadata)
        # Python bytes, not a Uint8Array proxy: python_to_rpc walks any JS iterable it is
        # given element by element, and copies bytes in one go.
        await self._binding.put(key, bytes(body), **options)

    async def delete(self, keys: Sequence[str]) -> None:
        # Checked here because Miniflare accepts what R2 refuses, and the port promises the
        # same refusal everywhere.
        if not 1 <= len(keys) <= MAX_DELETE_KEYS:
            raise ValueError(
                "delete: The number of keys in the request must be between 1 and 1000 "
                "inclusive. (10027)"
            )
        await self._binding.delete(list(keys))

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage:
        # R2 rejects null for optional strings: leave unset options out entirely.
        options: dict[str, object] = {"limit": limit}
        if prefix:
            options["prefix"] = prefix
        if cursor is not None:
            options["cursor"] = cursor
        listed = await self._binding.list(**options)
        truncated = bool(_field(listed, "truncated"))
        return ListPage(
            objects=[
                ListedObject(
                    key=_field(item, "key"),
                    size=int(_field(item, "size")),
                    etag=_field(item, "etag") or "",
                )
                for item in _field(listed, "objects")
            ],
            cursor=_field(listed, "cursor") if truncated else None,
            truncated=truncated,
        )


class KVNamespace:
    """:class:`flaresuite.ports.KeyValue` over a KV binding."""

    def __init__(self, binding) -> None:
        self._binding = _BindingWrapper(binding)

    async def get(self, key: str) -> str | None:
        value = await self._binding.get(key)
        return None if value is None else str(value)

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        if expiration_ttl is None:
            await self._binding.put(key, value)
        else:
            await self._binding.put(key, value, expirationTtl=expiration_ttl)

    async def delete(self, key: str) -> None:
        await self._binding.delete(key)


async def fetch(req: HttpRequest) -> HttpResponse:
    """:data:`flaresuite.http.HttpFetch` over the runtime's global ``fetch``.

    Redirects are returned, not followed (one request, one response, as on the CLI's
    transport). ``req.timeout`` covers the whole exchange, body included, through
    ``AbortSignal.timeout``.
    """
    init: dict[str, object] = {
        "method": req.method,
        "headers": _js_object(
            {k: v for k, v in req.headers.items() if k.lower() not in _RUNTIME_OWNED_HEADERS}
        ),
        "redirect": "manual",
    }
    if req.body:
        init["body"] = to_js(bytes(req.body))
    if req.timeout is not None:
        init["signal"] = js.AbortSignal.timeout(max(1, round(req.timeout * 1000)))
    try:
        response = await js.fetch(req.url, _js_object(init))
        body = (await response.arrayBuffer()).to_bytes()
    except JsException as error:
        raise TransportError(f"{req.method} {req.url}: {error.name}: {error.message}") from None
    return HttpResponse(
        status=int(response.status),
        headers={name.lower(): value for name, value in response.headers.entries()},
        body=body,
    )


async def to_core_request(request) -> HttpRequest:
    """The core's view of an incoming ``workers.Request`` (or a raw JS ``Request``)."""
    raw = getattr(request, "js_object", request)
    body = (await raw.arrayBuffer()).to_bytes()
    return HttpRequest(
        method=str(raw.method).upper(),
        url=str(raw.url),
        headers={name.lower(): value for name, value in raw.headers.entries()},
        body=body,
    )


def to_worker_response(resp: HttpResponse) -> Response:
    # A null-body status (101, 204, 205, 304) must not carry even an empty body.
    return Response(resp.body or None, status=resp.status, headers=dict(resp.headers) or None)
