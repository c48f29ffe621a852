"""The Glean orchestrator's core: keeps one Glean datasource in sync on a schedule.

Two ways to sync, chosen by configuration (:mod:`.config`):

* **orchestrator** (``CONNECTOR_API_URL`` set): ask a backend running the Python connector to
  index, and record its answer (:mod:`.orchestrator`);
* **direct**: stream documents from a paginated HTTP JSON source (:mod:`.source`), checked
  against Glean's schema (:mod:`.documents`), into the Glean Indexing API (:mod:`.indexing`,
  :mod:`.direct`), paced under its rate limits (:mod:`.pacing`).

:mod:`.app` ties them to the Worker's cron triggers and HTTP routes, with settings
(:mod:`.config`), a KV lock (:mod:`.lock`) and run records (:mod:`.state`); every request a run
makes goes through :mod:`.upstream`. See ``docs/glean.md``.
"""
