"""Adapters from Cloudflare Workers bindings to the core's ports: the only code besides the
entry modules that touches ``js``, ``pyodide`` or ``workers``.

One module per kind of binding, each a thin translation with no decisions of its own:

* :mod:`.convert`: JS values to Python and back, :class:`~.convert.EnvVars` (a Worker's
  vars and secrets as the mapping :class:`flaresuite.config.EnvReader` reads), and
  :func:`~.convert.binding` (a binding, or ``None`` where wrangler.toml lacks it);
* :mod:`.http`: the runtime's ``fetch`` as :data:`flaresuite.http.HttpFetch`, and incoming
  requests and outgoing responses;
* :mod:`.r2`: an R2 binding as :class:`flaresuite.ports.Bucket`;
* :mod:`.kv`: a KV binding as :class:`flaresuite.ports.KeyValue`;
* :mod:`.queues`: a Queue producer as :class:`flaresuite.ports.Queue`, and a delivered batch's
  messages for the consumer;
* :mod:`.durable`: a Durable Object's storage, alarm and hibernatable WebSockets for the swarm.

Binding APIs: https://developers.cloudflare.com/r2/api/workers/workers-api-reference/ and
https://developers.cloudflare.com/kv/api/. Bindings are called through the SDK's
``_BindingWrapper`` (what ``self.env.<NAME>`` returns; a raw binding, such as the ``env``
argument of ``scheduled`` holds, is wrapped here), so arguments are plain Python values that
the SDK converts with ``python_to_rpc``, and results come back through ``python_from_rpc``:
plain JS objects as dicts, class instances (R2Object) as proxies.
"""

from cfbindings.convert import EnvVars, binding
from cfbindings.http import fetch, to_core_request, to_worker_response
from cfbindings.kv import KVNamespace
from cfbindings.r2 import R2Bucket

__all__ = [
    "EnvVars",
    "KVNamespace",
    "R2Bucket",
    "binding",
    "fetch",
    "to_core_request",
    "to_worker_response",
]
