"""The backend's client for the delete proxy Worker (docs/purge.md).

:class:`DeleteProxyClient` validates keys locally, splits long key lists into requests the
Worker accepts (at most 10,000 keys and 1 MiB of JSON each), and retries a request that got a
5xx or no response at all, under the suite's one retry policy (:mod:`flaresuite.retry`:
exponential backoff with full jitter, ``Retry-After`` honoured). It never retries a 4xx: the
same request would be refused again. Deletes are idempotent, so a retry after a lost response
is safe; the retried keys then come back ``absent``, because the first attempt removed them.

It speaks HTTP through an injected :data:`~flaresuite.http.HttpFetch`, like every client in
the core: on a host ``flaresuite_host.transport.httpx_fetch()``, in a Worker
``cfbindings.fetch``, in tests whatever stands in for the Worker.

:func:`schedule_delete` hands a deletion to a FastAPI-style ``BackgroundTasks``, so an
endpoint can answer "project deleted" while its objects are removed after the response.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from flaresuite.errors import RuntimeFailure
from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.logs import Log, json_log
from flaresuite.ports import MAX_DELETE_KEYS, Clock, SystemClock
from flaresuite.purge.keys import InvalidKey, unique_in_order, validate_key
from flaresuite.purge.limits import MAX_BODY_BYTES, MAX_KEYS_PER_REQUEST
from flaresuite.purge.patterns import validate_project_id
from flaresuite.retry import Again, Backoff, Retrier, RetryPolicy, Sleep, retry_after_seconds

_T = TypeVar("_T")

DEFAULT_KEYS_PER_REQUEST = MAX_DELETE_KEYS
"""One R2 delete call per request: a request stays short, and a retry repeats little work."""


@dataclass(frozen=True, slots=True)
class KeyResult:
    key: str
    success: bool
    absent: bool | None
    """Whether the key was already gone; ``None`` when the Worker could not afford to check."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """One answer per distinct key, in the order the keys were given."""

    results: tuple[KeyResult, ...]

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def deleted(self) -> int:
        return sum(result.success for result in self.results)

    @property
    def failed(self) -> int:
        return self.total - self.deleted

    @property
    def absent(self) -> int:
        return sum(result.absent is True for result in self.results)

    @property
    def failed_keys(self) -> tuple[str, ...]:
        return tuple(result.key for result in self.results if not result.success)

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True, slots=True)
class ProjectDeleteResult:
    project_id: str
    dry_run: bool
    counts: Mapping[str, int]
    """Keys found per historical pattern (``hierarchical``, ``flat``, ``proj``, ``proj_proj``)."""
    keys: tuple[str, ...]
    """Every key found; with ``dry_run`` these are what a real run would delete."""
    deletion: DeleteResult | None
    """Per-key results; ``None`` for a dry run."""
    verified: bool | None
    """After a real run: True if listing again found none of the project's keys."""
    remaining: tuple[str, ...] | None
    """After a real run: keys still there (``None`` if the verifying list itself failed)."""

    @property
    def ok(self) -> bool:
        return self.dry_run or bool(self.verified and self.deletion and self.deletion.ok)


class DeleteProxyError(RuntimeFailure):
    """The delete proxy did not do what was asked."""


class DeleteProxyRejected(DeleteProxyError):
    """The Worker refused the request (4xx), or the answer is not the Worker's (not JSON, or
    without its fields, or for other keys): not retried."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"delete proxy answered {status}: {error}")
        self.status = status
        self.error = error


class DeleteProxyUnavailable(DeleteProxyError):
    """Every attempt of one request got a 5xx or no response.

    ``partial`` holds the results of the requests that did complete and ``pending`` the keys
    that got no answer (they may or may not have been deleted: send them again).
    """

    def __init__(self, reason: str, attempts: int, partial: DeleteResult, pending: Sequence[str]):
        super().__init__(f"delete proxy unavailable after {attempts} attempts: {reason}")
        self.reason = reason
        self.attempts = attempts
        self.partial = partial
        self.pending = tuple(pending)


class _Exhausted(Exception):
    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


def _encoded(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def split_keys(
    keys: Sequence[str], *, max_keys: int, max_body_bytes: int = MAX_BODY_BYTES
) -> list[list[str]]:
    """Consecutive runs of ``keys`` whose ``{"objectKeys": [...]}`` bodies hold at most
    ``max_keys`` keys and ``max_body_bytes`` bytes each."""
    envelope = len(_encoded({"objectKeys": []}))
    chunk: list[str] = []
    size = envelope
    chunks: list[list[str]] = []
    for key in keys:
        key_size = len(_encoded(key)) + 1  # the comma; one spare byte on the last key
        if chunk and (len(chunk) == max_keys or size + key_size > max_body_bytes):
            chunks.append(chunk)
            chunk, size = [], envelope
        chunk.append(key)
        size += key_size
    if chunk:
        chunks.append(chunk)
    return chunks


def _read(payload: dict[str, Any], reader: Callable[[dict[str, Any]], _T]) -> _T:
    """``reader(payload)``, or :class:`DeleteProxyRejected` if the 200 answer lacks the fields
    the delete proxy always sends (a URL that reaches some other service)."""
    try:
        return reader(payload)
    except (KeyError, TypeError, AttributeError) as error:
        raise DeleteProxyRejected(
            200, f"answer is not the delete proxy's ({type(error).__name__}: {error})"
        ) from None


def _key_results(payload: Mapping[str, Any]) -> list[KeyResult]:
    return [
        KeyResult(
            key=item["key"],
            success=item["success"],
            absent=item.get("absent"),
            error=item.get("error"),
        )
        for item in payload["results"]
    ]


def _project_result(project_id: str, payload: Mapping[str, Any]) -> ProjectDeleteResult:
    counts = {name: found["count"] for name, found in payload["patterns"].items()}
    if payload["dryRun"]:
        return ProjectDeleteResult(
            project_id, True, counts, tuple(payload["keys"]), None, None, None
        )
    deletion = DeleteResult(tuple(_key_results(payload)))
    remaining = payload["remaining"]
    return ProjectDeleteResult(
        project_id,
        False,
        counts,
        tuple(result.key for result in deletion.results),
        deletion,
        payload["verified"],
        None if remaining is None else tuple(remaining),
    )


class DeleteProxyClient:
    """Async client of one delete proxy Worker at ``base_url``, over ``fetch``.

    The client holds no connection of its own: ``fetch`` does, and its owner closes it::

        async with httpx_fetch() as fetch:
            proxy = DeleteProxyClient(url, token, fetch=fetch)
            result = await proxy.delete(keys)

    ``max_attempts`` counts the first try; waits grow from ``backoff`` seconds and never exceed
    ``max_backoff``. ``sleep``, ``rng`` and ``clock`` are for tests.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        fetch: HttpFetch,
        keys_per_request: int = DEFAULT_KEYS_PER_REQUEST,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= keys_per_request <= MAX_KEYS_PER_REQUEST:
            raise ValueError(f"keys_per_request must be 1 to {MAX_KEYS_PER_REQUEST}")
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL with a host")
        self._base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self._fetch = fetch
        self._keys_per_request = keys_per_request
        self._timeout = timeout
        self._clock = clock or SystemClock()
        # RetryPolicy refuses max_attempts < 1.
        policy = RetryPolicy(attempts=max_attempts, backoff=Backoff(backoff, max_backoff))
        self._retrier = Retrier(policy, sleep=sleep, rng=rng, clock=self._clock)

    async def delete(self, keys: Iterable[str]) -> DeleteResult:
        """Delete ``keys`` (each at most once) and answer for every one.

        Invalid keys raise :class:`ValueError` before any request, so a bad key cannot leave a
        deletion half done. Raises :class:`DeleteProxyRejected` on a 4xx or an answer that is
        not the Worker's, and :class:`DeleteProxyUnavailable` when one request exhausts its
        retries.
        """
        unique = unique_in_order(_valid_keys(keys))
        results: list[KeyResult] = []
        for chunk in split_keys(unique, max_keys=self._keys_per_request):
            try:
                payload = await self._post("/delete", {"objectKeys": chunk})
            except _Exhausted as exhausted:
                raise DeleteProxyUnavailable(
                    exhausted.reason,
                    exhausted.attempts,
                    partial=DeleteResult(tuple(results)),
                    pending=unique[len(results) :],
                ) from None
            answered = _read(payload, _key_results)
            if [result.key for result in answered] != chunk:
                raise DeleteProxyRejected(200, "answer does not name the keys that were sent")
            results.extend(answered)
        return DeleteResult(tuple(results))

    async def delete_project(
        self, project_id: str, *, dry_run: bool = False
    ) -> ProjectDeleteResult:
        """Delete (or with ``dry_run`` only find) every key of ``project_id`` under the four
        historical patterns; the Worker verifies afterwards that none is left."""
        validate_project_id(project_id)
        try:
            payload = await self._post(
                "/delete-project", {"projectId": project_id, "dryRun": dry_run}
            )
        except _Exhausted as exhausted:
            raise DeleteProxyUnavailable(
                exhausted.reason, exhausted.attempts, partial=DeleteResult(()), pending=()
            ) from None
        return _read(payload, lambda answer: _project_result(project_id, answer))

    async def _post(self, path: str, document: object) -> dict[str, Any]:
        request = HttpRequest(
            "POST", self._base_url + path, self._headers, _encoded(document), self._timeout
        )
        attempts = 0

        async def attempt() -> HttpResponse:
            nonlocal attempts
            attempts += 1
            return await self._fetch(request)

        def classify(response: HttpResponse) -> Again | None:
            if response.status < 500:
                return None
            return Again(retry_after_seconds(response.header("retry-after"), self._clock.now()))

        try:
            outcome = await self._retrier.run(attempt, classify)
        except TransportError as error:
            raise _Exhausted(str(error), attempts) from None
        response = outcome.value
        if outcome.exhausted:
            raise _Exhausted(f"HTTP {response.status}: {_error_text(response)}", attempts)
        return _answer(response)


def _valid_keys(keys: Iterable[str]) -> Iterable[str]:
    """``keys``, each checked; a bad one raises naming its position, not its content."""
    for index, key in enumerate(keys):
        try:
            yield validate_key(key)
        except InvalidKey as error:
            raise InvalidKey(f"keys[{index}]: {error}") from None


def _answer(response: HttpResponse) -> dict[str, Any]:
    if response.status != 200:
        raise DeleteProxyRejected(response.status, _error_text(response))
    try:
        payload = _json(response)
    except BadJson as error:
        raise DeleteProxyRejected(
            200, f"answer is not JSON ({error.message}): {_excerpt(response)!r}"
        ) from None
    if not isinstance(payload, dict):
        raise DeleteProxyRejected(200, f"answer is not a JSON object: {_excerpt(response)!r}")
    return payload


def _json(response: HttpResponse) -> Any:
    """The answer's JSON value. It goes through the same guard as a request body for its depth
    and encoding checks; its size is not limited: the answer is already in memory, and a dry
    run of a large project may rightly be many megabytes."""
    return parse_json(response.body, max_bytes=len(response.body))


def _excerpt(response: HttpResponse) -> str:
    return response.body[:200].decode("utf-8", "replace")


def _error_text(response: HttpResponse) -> str:
    try:
        return str(_json(response)["error"])
    except (BadJson, KeyError, TypeError):
        return _excerpt(response) or f"HTTP {response.status}"


class BackgroundTasks(Protocol):
    """What FastAPI's (Starlette's) ``BackgroundTasks`` offers."""

    def add_task(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None: ...


async def delete_keys_task(
    base_url: str,
    token: str,
    keys: Sequence[str],
    *,
    fetch: HttpFetch,
    log: Log = json_log,
    **options: Any,
) -> DeleteResult | None:
    """Delete ``keys`` and log one JSON line saying how it went; never raises.

    A background task runs after the response has gone: an exception would reach only the
    server's error log as a traceback, so the outcome is logged as data instead, with the keys
    to send again when some failed. ``options`` go to :class:`DeleteProxyClient`.
    """
    try:
        client = DeleteProxyClient(base_url, token, fetch=fetch, **options)
        result = await client.delete(keys)
    except DeleteProxyUnavailable as error:
        log(
            "purge.client.unavailable",
            reason=error.reason,
            attempts=error.attempts,
            deleted=error.partial.deleted,
            failed_keys=list(error.partial.failed_keys),
            pending_keys=list(error.pending),
        )
        return None
    except DeleteProxyRejected as error:
        log("purge.client.rejected", status=error.status, error=error.error, keys=len(keys))
        return None
    except ValueError as error:
        log("purge.client.invalid", error=str(error), keys=len(keys))
        return None
    log(
        "purge.client.deleted",
        total=result.total,
        deleted=result.deleted,
        absent=result.absent,
        failed=result.failed,
        failed_keys=list(result.failed_keys),
    )
    return result


def schedule_delete(
    background_tasks: BackgroundTasks,
    base_url: str,
    token: str,
    keys: Iterable[str],
    *,
    fetch: HttpFetch,
    **options: Any,
) -> None:
    """Queue the deletion of ``keys`` to run after the response, e.g. from a FastAPI endpoint
    whose app opened one ``httpx_fetch()`` for its lifetime::

    @router.delete("/projects/{project_id}")
    async def delete_project(project_id: str, background_tasks: BackgroundTasks):
        paths = await db.project_file_paths(project_id)
        await db.delete_project(project_id)
        schedule_delete(background_tasks, settings.delete_proxy_url,
                        settings.delete_proxy_token, paths, fetch=app.state.fetch)
        return {"message": "project deleted"}
    """
    background_tasks.add_task(delete_keys_task, base_url, token, list(keys), fetch=fetch, **options)
