"""The R2 delete proxy: bulk deletes of object keys behind a bearer token, deletion of every
object a project ever stored (under all four historical key patterns), and the Python client a
backend uses to call it.

Modules, from the bottom up: :mod:`.limits` (R2 and request limits), :mod:`.keys` (what an
object key may be), :mod:`.patterns` (which keys belong to a project), :mod:`.batching` (R2 calls
of at most 1000 keys, per-key retry, which keys existed), :mod:`.config` (the Worker's vars and
secrets), :mod:`.requests` (request bodies to validated values), :mod:`.service` (the HTTP
handler the Worker serves) and :mod:`.client` (what a backend calls it with, over an injected
:data:`~flaresuite.http.HttpFetch`).
"""
