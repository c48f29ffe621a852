"""Entry point of the R2 delete proxy Worker (``[env.delete-proxy]`` in wrangler.toml).

Adapts the request, the Worker's env and the ``PURGE_BUCKET`` R2 binding to the core; everything
that decides lives in :mod:`flaresuite.purge.service`, and the settings it reads are
:data:`flaresuite.purge.config.SETTINGS` (docs/purge.md).
"""

from cfbindings import EnvVars, R2Bucket, binding, to_core_request, to_worker_response
from flaresuite.purge.limits import MAX_BODY_BYTES
from flaresuite.purge.service import BUCKET_BINDING, PurgeService
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        bucket = binding(self.env, BUCKET_BINDING, R2Bucket)
        service = PurgeService.from_env(bucket, EnvVars(self.env))
        core_request = await to_core_request(request, max_body_bytes=MAX_BODY_BYTES)
        return to_worker_response(await service.handle(core_request))
