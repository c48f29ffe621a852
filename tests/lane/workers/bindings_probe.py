"""A Worker that exposes src/cfbindings.py as RPC methods, so tests can drive each adapter
against real Miniflare bindings and real loopback HTTP."""

import cfbindings
from flaresuite.http import HttpRequest, HttpResponse, TransportError
from workers import WorkerEntrypoint


def _stored(found):
    if found is None:
        return None
    return {
        "key": found.key,
        "body": found.body.decode(),
        "etag": found.etag,
        "content_type": found.content_type,
        "cache_control": found.cache_control,
        "custom_metadata": dict(found.custom_metadata),
    }


class Default(WorkerEntrypoint):
    def _bucket(self, binding):
        return cfbindings.R2Bucket(getattr(self.env, binding))

    def _kv(self, binding):
        return cfbindings.KVNamespace(getattr(self.env, binding))

    async def r2_put(self, binding, key, text, content_type, cache_control, custom_metadata):
        await self._bucket(binding).put(
            key,
            text.encode(),
            content_type=content_type,
            cache_control=cache_control,
            custom_metadata=custom_metadata,
        )

    async def r2_put_many(self, binding, keys):
        bucket = self._bucket(binding)
        for key in keys:
            await bucket.put(key, key.encode())

    async def r2_get(self, binding, key):
        return _stored(await self._bucket(binding).get(key))

    async def r2_list(self, binding, prefix, cursor, limit):
        page = await self._bucket(binding).list(prefix=prefix, cursor=cursor, limit=limit)
        return {
            "keys": [o.key for o in page.objects],
            "sizes": [o.size for o in page.objects],
            "etags": [o.etag for o in page.objects],
            "cursor": page.cursor,
            "truncated": page.truncated,
        }

    async def r2_list_first_raw(self, binding, include):
        """The first listed object as the Worker sees it without cfbindings."""
        listed = await getattr(self.env, binding).list(include=include)
        item = listed["objects"][0]
        http_metadata = item.httpMetadata
        return {
            "class": item.constructor.name,
            "uploaded_ms": item.uploaded.getTime(),
            "checksums": item.checksums.toJSON().to_py(),
            "etag": item.etag,
            "http_etag": item.httpEtag,
            "http_metadata": None if http_metadata is None else http_metadata.to_py(),
        }

    async def r2_list_options(self, binding, options):
        await getattr(self.env, binding).list(**options)

    async def r2_delete(self, binding, keys):
        await self._bucket(binding).delete(keys)

    async def kv_get(self, binding, key):
        return await self._kv(binding).get(key)

    async def kv_put(self, binding, key, value, ttl):
        await self._kv(binding).put(key, value, expiration_ttl=ttl)

    async def kv_delete(self, binding, key):
        await self._kv(binding).delete(key)

    async def http(self, method, url, headers, body, timeout):
        request = HttpRequest(method, url, dict(headers), body.encode(), timeout)
        try:
            response = await cfbindings.fetch(request)
        except TransportError as error:
            return {"transport_error": str(error)}
        return {
            "status": response.status,
            "headers": dict(response.headers),
            "body": response.body.decode(),
        }

    async def scheduled(self, controller, env, ctx):
        # Record what the event carried, from work handed to ctx.waitUntil.
        async def record():
            await cfbindings.R2Bucket(env.BUCKET).put(
                "scheduled.txt", f"{controller.cron}|{controller.scheduledTime}".encode()
            )

        ctx.waitUntil(record())
        if controller.cron == "59 23 * * *":
            controller.noRetry()

    async def fetch(self, request):
        if request.url.endswith("/fails-later"):

            async def fail():
                raise RuntimeError("background work failed")

            self.ctx.waitUntil(fail())
            return cfbindings.to_worker_response(HttpResponse(202, {}))
        if request.url.endswith("/raises"):
            raise LookupError("handler bug")
        # Echo the core's view of the request back through to_worker_response.
        core = await cfbindings.to_core_request(request, max_body_bytes=1024)
        if core.oversized:
            return cfbindings.to_worker_response(HttpResponse(413, {"x-oversized": "yes"}))
        if core.url.endswith("/empty"):
            return cfbindings.to_worker_response(HttpResponse(204, {"x-empty": "yes"}))
        echo = (
            f"{core.method} {core.url}\n"
            + "".join(f"{k}: {v}\n" for k, v in sorted(core.headers.items()))
            + core.body.decode()
        )
        return cfbindings.to_worker_response(
            HttpResponse(201, {"content-type": "text/plain", "x-probe": "1"}, echo.encode())
        )
