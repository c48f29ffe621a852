"""The delete proxy's HTTP service: what the Worker answers, as a function from
:class:`~flaresuite.http.HttpRequest` to :class:`~flaresuite.http.HttpResponse`.

Routes (docs/purge.md has the full contract):

* ``POST /delete`` - delete up to 10,000 keys, one R2 call per 1000, a result per key;
* ``POST /delete-project`` - delete (or with ``dryRun`` only list) every key of one project
  under its four historical patterns, then list again to verify nothing is left;
* ``GET /health`` - no token needed; 503 while the configuration is unusable.

The two POST routes need ``Authorization: Bearer <DELETE_PROXY_TOKEN>``. Every check (route,
configuration, token, body size, JSON shape, every key) runs before the first delete, so a
rejected request changes nothing. Every request, answered or not, writes exactly one audit log
line, which never holds the token nor any value a caller sent that validation refused (a path
no route has is logged as :func:`~flaresuite.redact.describe_rejected` shows it; refusal
messages never quote the input).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.config import EnvSource, parsed, with_bindings
from flaresuite.errors import BadInput, ConfigError
from flaresuite.http import (
    HttpRequest,
    HttpResponse,
    error_response,
    json_response,
    misconfigured,
)
from flaresuite.logs import Log, json_log
from flaresuite.ports import Bucket, Clock, SystemClock
from flaresuite.purge.batching import (
    DeleteReport,
    Existence,
    KeyOutcome,
    delete_in_batches,
    find_existing,
    list_keys,
)
from flaresuite.purge.config import PurgeConfig, read_config
from flaresuite.purge.patterns import KeyPattern, matching_pattern, project_patterns
from flaresuite.purge.requests import (
    RequestRejected,
    check_body_size,
    parse_delete,
    parse_project_deletion,
)
from flaresuite.redact import REDACTED, describe_rejected

AUDIT_EVENT = "purge.audit"
BUCKET_BINDING = "PURGE_BUCKET"
"""The R2 binding deleted from (wrangler.toml ``[env.delete-proxy]``)."""

_ROUTES = {"/delete": "POST", "/delete-project": "POST", "/health": "GET"}

_AUDITED_FAILURES = 20
"""Failed keys named in an audit line; the counts are always complete."""


class _Unavailable(Exception):
    """The proxy cannot serve yet (R2 failed before anything was deleted): 503, safe to
    retry."""


_NO_STORE = {"cache-control": "no-store"}
"""Per-key results describe one moment of the bucket; no cache should replay them."""


def _outcome_json(outcome: KeyOutcome) -> dict[str, Any]:
    result: dict[str, Any] = {
        "key": outcome.key,
        "success": outcome.success,
        "absent": outcome.absent,
    }
    if outcome.error is not None:
        result["error"] = outcome.error
    return result


def _report_json(report: DeleteReport) -> dict[str, Any]:
    return {
        "total": len(report.outcomes),
        "deleted": report.deleted,
        "failed": report.failed,
        "absent": report.absent,
        "results": [_outcome_json(outcome) for outcome in report.outcomes],
    }


class PurgeService:
    """The delete proxy over ``bucket``. ``config`` is what :func:`read_config` made of the
    Worker's env, or the :class:`ConfigError` it raised; a missing ``bucket`` binding is one
    more problem. Then every route that needs the configuration answers
    :func:`~flaresuite.http.misconfigured` and nothing is deleted."""

    def __init__(
        self,
        bucket: Bucket | None,
        config: PurgeConfig | ConfigError,
        *,
        log: Log = json_log,
        clock: Clock | None = None,
    ) -> None:
        self._bucket = bucket
        self._config = with_bindings(config, {BUCKET_BINDING: bucket})
        self._log = log
        self._clock = clock or SystemClock()

    @classmethod
    def from_env(cls, bucket: Bucket | None, env: EnvSource, **options: Any) -> PurgeService:
        """The service as the Worker's vars and secrets configure it (a ``dict`` works as
        ``env``). A bad or missing value does not raise; the service answers 503 for it."""
        return cls(bucket, parsed(read_config, env), **options)

    @property
    def _r2(self) -> Bucket:
        assert self._bucket is not None  # without it the config is an error: no route gets here
        return self._bucket

    async def handle(self, request: HttpRequest) -> HttpResponse:
        started = self._clock.monotonic()
        path = urlsplit(request.url).path
        audit: dict[str, Any] = {
            "method": request.method,
            "path": path if path in _ROUTES else describe_rejected(path),
            "ray": request.headers.get("cf-ray"),
            "client_ip": request.headers.get("cf-connecting-ip"),
            "user_agent": request.headers.get("user-agent"),
            "auth": "none",
        }
        try:
            response = await self._route(request, path, audit)
        except BadInput as rejection:
            challenge = {"www-authenticate": "Bearer"} if rejection.status == 401 else {}
            response = error_response(
                rejection.status, rejection.message, {**_NO_STORE, **challenge}
            )
            audit["error"] = rejection.message
        except ConfigError as error:
            response = misconfigured(error)
            audit["error"] = f"misconfigured: {', '.join(error.variables)}"
        except _Unavailable as error:
            response = error_response(503, str(error), _NO_STORE)
            audit["error"] = str(error)
        except Exception as error:
            response = error_response(500, "internal error", _NO_STORE)
            audit["error"] = f"{type(error).__name__}: {error}"
        audit["status"] = response.status
        audit["duration_ms"] = round((self._clock.monotonic() - started) * 1000, 1)
        self._log(AUDIT_EVENT, **self._redacted(audit))
        return response

    def _redacted(self, audit: dict[str, Any]) -> dict[str, Any]:
        """``audit`` without the token. The presented token is never recorded and refused
        values are never quoted, but a caller may still put the secret where the line echoes
        what it sent and validation accepted (its user agent, a key named in ``failed_keys``),
        e.g. a body ``{"objectKeys": ["proj_<token>_a"]}``."""
        if isinstance(self._config, ConfigError):
            return audit
        token = self._config.token
        return {name: _without(value, token) for name, value in audit.items()}

    async def _route(self, request: HttpRequest, path: str, audit: dict[str, Any]) -> HttpResponse:
        method = _ROUTES.get(path)
        if method is None:
            raise RequestRejected(
                "no such route; try POST /delete, POST /delete-project or GET /health",
                status=404,
            )
        if request.method != method:
            audit["error"] = f"{path} accepts {method} only"
            return error_response(405, audit["error"], {**_NO_STORE, "allow": method})
        if isinstance(self._config, ConfigError):
            # A fresh exception: re-raising the stored one would grow its traceback per request.
            raise ConfigError(self._config.problems)
        if path == "/health":
            return json_response(200, {"status": "ok"}, _NO_STORE)
        self._authorize(request, self._config.token, audit)
        check_body_size(request)
        if path == "/delete":
            return await self._delete(request, self._config, audit)
        return await self._delete_project(request, audit)

    def _authorize(self, request: HttpRequest, token: str, audit: dict[str, Any]) -> None:
        presented = bearer_token(request.headers)
        if presented is None:
            raise RequestRejected(
                "missing bearer token: send Authorization: Bearer <token>", status=401
            )
        if not token_matches(presented, token):
            audit["auth"] = "wrong"
            raise RequestRejected("wrong bearer token", status=401)
        audit["auth"] = "ok"

    async def _delete(
        self, request: HttpRequest, config: PurgeConfig, audit: dict[str, Any]
    ) -> HttpResponse:
        keys = parse_delete(request)
        audit["keys"] = len(keys)
        try:
            existence = await find_existing(self._r2, keys, max_list_calls=config.max_list_calls)
        except Exception as error:
            raise _Unavailable(f"R2 list failed, nothing deleted: {error}") from None
        report = await delete_in_batches(self._r2, keys, existence)
        self._audit_report(audit, report)
        return json_response(200, _report_json(report), _NO_STORE)

    async def _delete_project(self, request: HttpRequest, audit: dict[str, Any]) -> HttpResponse:
        deletion = parse_project_deletion(request)
        audit.update(project_id=deletion.project_id, dry_run=deletion.dry_run)
        try:
            found, list_calls = await _list_project(self._r2, deletion.project_id)
        except Exception as error:
            raise _Unavailable(f"R2 list failed, nothing deleted: {error}") from None
        keys = [key for listed in found.values() for key in listed]
        audit["keys"] = len(keys)
        summary = {
            "projectId": deletion.project_id,
            "dryRun": deletion.dry_run,
            "patterns": {
                pattern.name: {"prefix": pattern.prefix, "count": len(listed)}
                for pattern, listed in found.items()
            },
        }
        if deletion.dry_run:
            audit["list_calls"] = list_calls
            return json_response(200, {**summary, "total": len(keys), "keys": keys}, _NO_STORE)
        # Listed a moment ago, so every key existed: no further list calls needed to say so.
        existence = Existence(existing=frozenset(keys), unknown=frozenset(), list_calls=list_calls)
        report = await delete_in_batches(self._r2, keys, existence)
        self._audit_report(audit, report)
        verification: dict[str, Any]
        try:
            left, verify_calls = await _list_project(self._r2, deletion.project_id)
        except Exception as error:
            verification = {
                "verified": False,
                "remaining": None,
                "verifyError": f"R2 list failed: {error}",
            }
        else:
            remaining = [key for listed in left.values() for key in listed]
            audit["list_calls"] += verify_calls
            verification = {"verified": not remaining, "remaining": remaining}
        audit["verified"] = verification["verified"]
        return json_response(200, {**summary, **_report_json(report), **verification}, _NO_STORE)

    def _audit_report(self, audit: dict[str, Any], report: DeleteReport) -> None:
        audit.update(
            deleted=report.deleted,
            failed=report.failed,
            absent=report.absent,
            delete_calls=report.delete_calls,
            list_calls=report.list_calls,
        )
        if report.failed:
            failures = [outcome.key for outcome in report.outcomes if not outcome.success]
            audit["failed_keys"] = failures[:_AUDITED_FAILURES]


def _without(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, list):
        return [_without(item, secret) for item in value]
    return value


async def _list_project(bucket: Bucket, project_id: str) -> tuple[dict[KeyPattern, list[str]], int]:
    """The keys of ``project_id`` under each of its patterns, and the list calls it took.

    A prefix listing can only return matching keys; checking each key again keeps "never
    another project's key" true even if a bucket listed loosely."""
    found: dict[KeyPattern, list[str]] = {}
    calls = 0
    for pattern in project_patterns(project_id):
        listed, pattern_calls = await list_keys(bucket, pattern.prefix)
        calls += pattern_calls
        found[pattern] = [key for key in listed if matching_pattern(key, project_id) == pattern]
    return found, calls
