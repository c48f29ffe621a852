"""Stand-in for workerd's runtime-private ``_pyodide_entrypoint_helper`` module.

workerd registers a JS object under this name (``setDoAnImport`` in its
python-entrypoint-helper); ``workers-runtime-sdk`` imports ``doAnImport``,
``cloudflareWorkersModule``, ``cloudflareSocketsModule``, ``patchWaitUntil`` and
``patch_env_helper`` from it. The lane builds the same JS object (lane/runtime.mjs) and
registers it as ``_lane_entrypoint_js``; this module re-exports it and adds
``patch_env_helper``, the generator behind ``workers.patch_env``.
"""

from _lane_entrypoint_js import (  # noqa: F401  (re-exported for the SDK)
    cloudflareSocketsModule,
    cloudflareWorkersModule,
    doAnImport,
    patchWaitUntil,
    workerEntrypoint,
)


def patch_env_helper(kwds):
    """Overrides entries of ``cloudflare:workers``'s ``env`` while the caller's ``with``
    block runs, then restores them (``kwds`` is the JS Map ``to_js`` made of the
    overrides)."""
    env = cloudflareWorkersModule.env
    overrides = kwds.to_py()
    missing = object()
    saved = {key: getattr(env, key, missing) for key in overrides}
    for key, value in overrides.items():
        setattr(env, key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                delattr(env, key)
            else:
                setattr(env, key, value)
