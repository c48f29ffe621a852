"""Glean orchestrator Worker: daily FULL and hourly INCREMENTAL crons, ``GET /health``,
``POST /trigger`` (``[env.glean]`` in wrangler.toml).

Adapts the Workers runtime to :class:`flaresuite.glean.app.GleanApp`; all behaviour lives
there. The mode of a cron run comes from ``controller.cron``. Runs are awaited, not handed to
``ctx.waitUntil``: a cron invocation lasts as long as its handler, while ``waitUntil`` work is
cut off 30 s after a response.
"""

from cfbindings import EnvVars, KVNamespace, binding, fetch, to_core_request, to_worker_response
from flaresuite.glean.app import KV_BINDING, MAX_REQUEST_BODY, GleanApp
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    def _app(self) -> GleanApp:
        kv = binding(self.env, KV_BINDING, KVNamespace)
        return GleanApp(EnvVars(self.env), kv, fetch)

    async def scheduled(self, controller, env, ctx):
        await self._app().scheduled(str(controller.cron))

    async def fetch(self, request):
        core = await to_core_request(request, max_body_bytes=MAX_REQUEST_BODY)
        return to_worker_response(await self._app().handle(core))
