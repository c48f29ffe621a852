"""Entry point of the R2 delete proxy Worker (``[env.delete-proxy]`` in wrangler.toml).

Adapts the request and the ``PURGE_BUCKET`` R2 binding to the core; everything that decides
lives in :mod:`flaresuite.purge.service`. The bearer token is the Worker secret
``DELETE_PROXY_TOKEN``; without it every delete is refused (fail closed). The optional var
``DELETE_PROXY_MAX_LIST_CALLS`` caps the list calls one request spends (docs/purge.md).
"""

from cfbindings import R2Bucket, to_core_request, to_worker_response
from flaresuite.purge.limits import MAX_BODY_BYTES
from flaresuite.purge.service import VARIABLES, PurgeService
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        service = PurgeService.from_env(
            R2Bucket(self.env.PURGE_BUCKET),
            {name: getattr(self.env, name, None) for name in VARIABLES},
        )
        return to_worker_response(
            await service.handle(await to_core_request(request, max_body_bytes=MAX_BODY_BYTES))
        )
