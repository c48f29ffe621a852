"""The Glean orchestrator's core: keeps one Glean datasource in sync on a schedule.

Two ways to sync, chosen by configuration (:mod:`.config`):

* **orchestrator** (``CONNECTOR_API_URL`` set): ask a backend running the Python connector to
  index, and record its answer (:mod:`.orchestrator`);
* **direct**: stream documents from a paginated HTTP JSON source into the Glean Indexing API
  (:mod:`.source`, :mod:`.indexing`, :mod:`.direct`).

:mod:`.app` ties them to the Worker's cron triggers and HTTP routes, with a KV lock
(:mod:`.lock`) and run records (:mod:`.state`). See ``docs/glean.md``.
"""
