"""Index builder Worker: hourly cron run, ``GET /status``, ``POST /run``.

Adapts the Workers runtime to :class:`flaresuite.index.service.IndexService`; all behaviour
lives there.
"""

from cfbindings import R2Bucket, fetch, to_core_request, to_worker_response
from flaresuite.index.config import VARIABLES
from flaresuite.index.service import IndexService
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    def _service(self) -> IndexService:
        return IndexService(
            {name: getattr(self.env, name, None) for name in VARIABLES},
            fetch=fetch,
            destinations=[R2Bucket(self.env.DEST_BUCKET), R2Bucket(self.env.DEST_BUCKET_META_CDN)],
        )

    async def scheduled(self, controller, env, ctx):
        await self._service().scheduled_run()

    async def fetch(self, request):
        return to_worker_response(
            await self._service().handle(await to_core_request(request, max_body_bytes=64 * 1024))
        )
