"""A KV binding as :class:`flaresuite.ports.KeyValue`."""

from __future__ import annotations

from workers.rpc import _BindingWrapper


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
