"""Index builder Worker: the hourly cron run (or its fan-out through ``INDEX_QUEUE``), the
queue consumer, ``GET /status`` and ``POST /run``.

Adapts the runtime and the bindings (``DEST_BUCKET``, ``DEST_BUCKET_META_CDN``, ``INDEX_STATE``,
optional ``INDEX_QUEUE``) to :class:`flaresuite.index.service.IndexService`; all behaviour
lives there, and the settings it reads are :data:`flaresuite.index.config.SETTINGS`
(docs/index-builder.md).
"""

from cfbindings import EnvVars, R2Bucket, binding, fetch, to_core_request, to_worker_response
from cfbindings.queues import QueueProducer, deliveries
from flaresuite.index.service import (
    DESTINATION_BINDINGS,
    MAX_BODY_BYTES,
    QUEUE_BINDING,
    STATE_BINDING,
    IndexService,
)
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    def _service(self) -> IndexService:
        return IndexService(
            EnvVars(self.env),
            fetch=fetch,
            destinations=[binding(self.env, name, R2Bucket) for name in DESTINATION_BINDINGS],
            state=binding(self.env, STATE_BINDING, R2Bucket),
            queue=binding(self.env, QUEUE_BINDING, QueueProducer),
        )

    async def scheduled(self, controller, env, ctx):
        await self._service().scheduled_run()

    async def queue(self, batch, env, ctx):
        await self._service().consume(deliveries(batch))

    async def fetch(self, request):
        core_request = await to_core_request(request, max_body_bytes=MAX_BODY_BYTES)
        return to_worker_response(await self._service().handle(core_request))
