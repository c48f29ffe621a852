"""Entry point of the R2 delete proxy Worker (``[env.delete-proxy]`` in wrangler.toml).

Adapts the request and the ``PURGE_BUCKET`` R2 binding to the core; everything that decides
lives in :mod:`flaresuite.purge.service`. The bearer token is the Worker secret
``DELETE_PROXY_TOKEN``; without it every delete is refused (fail closed).
"""

from workers import WorkerEntrypoint

from cfbindings import R2Bucket, to_core_request, to_worker_response
from flaresuite.purge.service import PurgeService


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        service = PurgeService(
            R2Bucket(self.env.PURGE_BUCKET),
            token=getattr(self.env, "DELETE_PROXY_TOKEN", None),
        )
        return to_worker_response(await service.handle(await to_core_request(request)))
