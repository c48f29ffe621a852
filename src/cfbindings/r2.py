"""An R2 binding as :class:`flaresuite.ports.Bucket`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from workers.rpc import _BindingWrapper

from cfbindings.convert import as_bytes, field
from flaresuite.ports import ListedObject, ListPage, StoredObject, check_delete_batch


class R2Bucket:
    """:class:`flaresuite.ports.Bucket` over an R2 binding."""

    def __init__(self, binding) -> None:
        self._binding = _BindingWrapper(binding)

    async def get(self, key: str) -> StoredObject | None:
        found = await self._binding.get(key)
        if found is None:
            return None
        body = as_bytes(await found.arrayBuffer())
        http_metadata = field(found, "httpMetadata") or {}
        custom_metadata = field(found, "customMetadata") or {}
        return StoredObject(
            key=key,
            body=body,
            etag=field(found, "etag") or "",
            content_type=field(http_metadata, "contentType"),
            cache_control=field(http_metadata, "cacheControl"),
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
        check_delete_batch(keys)
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
        truncated = bool(field(listed, "truncated"))
        return ListPage(
            objects=[
                ListedObject(
                    key=field(item, "key"),
                    size=int(field(item, "size")),
                    etag=field(item, "etag") or "",
                )
                for item in field(listed, "objects")
            ],
            cursor=field(listed, "cursor") if truncated else None,
            truncated=truncated,
        )
