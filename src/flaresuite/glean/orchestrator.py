"""Orchestrator mode: ask the backend connector service to index, and check its answer.

Contract (the one the public Glean Cloudflare example calls; ``docs/glean.md``)::

    POST {CONNECTOR_API_URL}/index
    Authorization: Bearer {CONNECTOR_API_TOKEN}
    Idempotency-Key: "<run id>"
    {"mode": "FULL" | "INCREMENTAL", "glean_instance": "<instance>"}

    200 {"status": "completed" | "error", "mode": <the mode sent, in any case>,
         "documentsIndexed": <int >= 0, optional>, "error": <string, when status is error>,
         "timestamp": "<string, optional>"}

A request to ``/index`` starts a whole indexing run on the backend, so resending it could
start a second one next to the first. Hence:

* every attempt of one run carries the same ``Idempotency-Key``, the run id, a Structured
  Field string (draft-ietf-httpapi-idempotency-key-header): a backend that honours it answers
  a repeat with the first run's outcome;
* only answers that say the work was not started are retried: 429 (RFC 6585 section 4: the
  request was refused for its rate), and 503 carrying ``Retry-After`` (RFC 9110 section
  15.6.4: the server says when to come back). Any other 5xx, and a timeout or a dropped
  connection, may come after the backend began, so they fail the run instead;
* the run's time with the backend, every attempt and every wait, is at most
  ``CONNECTOR_API_TIMEOUT``: a retry whose wait would end past that is not made, and each
  attempt may take only the time the run has left.

Backends built from Glean's own indexing SDK answer lowercase modes (``"full"``) and its
Lambda example leaves out ``timestamp``; both are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from flaresuite.errors import RuntimeFailure
from flaresuite.glean.config import CONNECTOR_TIMEOUT, BackendConfig
from flaresuite.glean.modes import Mode
from flaresuite.glean.upstream import Upstream, excerpt, read_json
from flaresuite.http import HttpRequest, HttpResponse, TransportError
from flaresuite.jsonbody import BadJson
from flaresuite.retry import Again

MIN_ATTEMPT_SECONDS = 1.0
"""The shortest time an attempt is given, however little the run has left."""


class BackendError(RuntimeFailure):
    """The backend did not answer, refused, or answered outside the contract."""


@dataclass(frozen=True, slots=True)
class BackendResult:
    completed: bool
    documents_indexed: int
    error: str | None


async def run_backend(
    config: BackendConfig, mode: Mode, run_id: str, upstream: Upstream, *, deadline: float
) -> BackendResult:
    """Ask the backend for one ``mode`` run; ``deadline`` is when the run's time with the
    backend ends, on ``upstream.clock.monotonic()``."""
    clock = upstream.clock
    body = json.dumps({"mode": mode.value, "glean_instance": config.glean_instance}).encode()
    headers = {
        "authorization": f"Bearer {config.token}",
        "content-type": "application/json",
        "idempotency-key": f'"{run_id}"',
    }

    request = HttpRequest("POST", f"{config.url}/index", headers, body, timeout=config.timeout)

    async def attempt() -> HttpResponse:
        nonlocal request
        left = max(MIN_ATTEMPT_SECONDS, deadline - clock.monotonic())
        request = replace(request, timeout=left)
        return await upstream.fetch(request)

    def classify(response: HttpResponse) -> Again | None:
        retry_after = upstream.retry_after(response)
        if response.status == 429 or (response.status == 503 and retry_after is not None):
            return Again(retry_after)
        return None

    try:
        outcome = await upstream.retrier.run(attempt, classify, retry_on=(), deadline=deadline)
    except TransportError as error:
        raise BackendError(
            f"no answer from the backend within {request.timeout:.0f} s ({error})"
        ) from None
    response = outcome.value
    if outcome.exhausted:
        stop = (
            "no attempt is left"
            if outcome.attempts >= upstream.retrier.policy.attempts
            else f"no retry fits in what is left of {CONNECTOR_TIMEOUT}"
        )
        raise BackendError(
            f"the backend answered HTTP {response.status} {_times(outcome.attempts)} and {stop}: "
            f"{excerpt(response.body)}"
        )
    if not response.ok:
        raise BackendError(f"the backend answered HTTP {response.status}: {excerpt(response.body)}")
    try:
        answer = read_json(response)
    except BadJson as error:
        raise BackendError(f"the backend answered with invalid JSON ({error})") from None
    return _validate(answer, mode)


def _validate(answer: object, mode: Mode) -> BackendResult:
    def invalid(why: str) -> BackendError:
        return BackendError(f"the backend's answer breaks the contract: {why}")

    if not isinstance(answer, dict):
        raise invalid("not a JSON object")
    status = answer.get("status")
    if status not in ("completed", "error"):
        raise invalid(f"status must be 'completed' or 'error', got {status!r:.60}")
    answered_mode = answer.get("mode")
    if not isinstance(answered_mode, str) or answered_mode.upper() != mode.value:
        raise invalid(f"mode is {answered_mode!r:.60}, the request was {mode.value}")
    count = answer.get("documentsIndexed", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise invalid(f"documentsIndexed must be a whole number >= 0, got {count!r:.60}")
    error = answer.get("error")
    if status == "error" and (not isinstance(error, str) or not error):
        raise invalid("status is 'error' without an error message")
    if answer.get("timestamp") is not None and not isinstance(answer["timestamp"], str):
        raise invalid("timestamp must be a string when present")
    return BackendResult(status == "completed", count, error if status == "error" else None)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"
