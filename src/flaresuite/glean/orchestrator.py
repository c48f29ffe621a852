"""Orchestrator mode: ask the backend connector service to index, and check its answer.

Contract (the one the public Glean Cloudflare example calls; ``docs/glean.md``)::

    POST {CONNECTOR_API_URL}/index
    Authorization: Bearer {CONNECTOR_API_TOKEN}
    {"mode": "FULL" | "INCREMENTAL", "glean_instance": "<instance>"}

    200 {"status": "completed" | "error", "mode": <the mode sent>,
         "documentsIndexed": <int >= 0, optional>, "error": <string, when status is error>,
         "timestamp": "<string>"}

The call waits for the backend's whole run, up to ``CONNECTOR_API_TIMEOUT``. 429 and 5xx are
retried with backoff; a timeout is not, because the backend may have started indexing and a
second request would start a concurrent upload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flaresuite.glean.config import BackendConfig
from flaresuite.glean.modes import Mode
from flaresuite.glean.retry import Retrying, excerpt
from flaresuite.http import HttpRequest, TransportError


class BackendError(Exception):
    """The backend did not answer, refused, or answered outside the contract."""


@dataclass(frozen=True, slots=True)
class BackendResult:
    completed: bool
    documents_indexed: int
    error: str | None


async def run_backend(config: BackendConfig, mode: Mode, retrying: Retrying) -> BackendResult:
    request = HttpRequest(
        "POST",
        f"{config.url}/index",
        {"authorization": f"Bearer {config.token}", "content-type": "application/json"},
        json.dumps({"mode": mode.value, "glean_instance": config.glean_instance}).encode(),
        timeout=config.timeout,
    )
    try:
        response = await retrying.send(request, retry_transport_errors=False)
    except TransportError as error:
        raise BackendError(
            f"no answer from the backend within {config.timeout:g} s ({error})"
        ) from None
    if not response.ok:
        raise BackendError(
            f"the backend answered HTTP {response.status}: {excerpt(response.body, 300)}"
        )
    try:
        answer = json.loads(response.body)
    except ValueError:
        raise BackendError("the backend answered with invalid JSON") from None
    return _validate(answer, mode)


def _validate(answer: object, mode: Mode) -> BackendResult:
    def invalid(why: str) -> BackendError:
        return BackendError(f"the backend's answer breaks the contract: {why}")

    if not isinstance(answer, dict):
        raise invalid("not a JSON object")
    status = answer.get("status")
    if status not in ("completed", "error"):
        raise invalid(f"status must be 'completed' or 'error', got {status!r:.60}")
    if answer.get("mode") != mode.value:
        raise invalid(f"mode is {answer.get('mode')!r:.60}, the request was {mode.value}")
    count = answer.get("documentsIndexed", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise invalid(f"documentsIndexed must be a whole number >= 0, got {count!r:.60}")
    error = answer.get("error")
    if status == "error" and (not isinstance(error, str) or not error):
        raise invalid("status is 'error' without an error message")
    if not isinstance(answer.get("timestamp"), str):
        raise invalid("timestamp is missing")
    return BackendResult(status == "completed", count, error if status == "error" else None)
