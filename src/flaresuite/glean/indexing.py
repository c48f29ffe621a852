"""A client for the three Glean Indexing API endpoints direct mode uses.

Endpoints (``https://{instance}-be.glean.com/api/index/v1/...``, ``Authorization: Bearer
<indexing token>``; gleanwork/glean-developer-site ``docs/api/indexing-api``):

* ``/bulkindexdocuments``: replaces every document of the datasource. One ``uploadId`` for all
  pages of an upload, ``isFirstPage`` on the first, ``isLastPage`` on the last;
  ``forceRestartUpload`` (with ``isFirstPage``) discards an unfinished earlier upload.
* ``/indexdocuments``: adds or updates a batch and leaves the others alone; 600 documents per
  minute per token.
* ``/deletedocument``: ``{datasource, objectType, id}``; succeeds when the document is absent.

Documents arrive already serialised (:mod:`.documents`), so a page body is joined, never
re-encoded.

Success is a 2xx whose body is empty or a JSON object without an ``error`` member: a gateway
or a misbehaving deployment can answer 200 ``{"error": ...}``, and counting that as success
would move the checkpoint past documents Glean never took.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from flaresuite.errors import RuntimeFailure
from flaresuite.glean.config import DIRECT_REQUEST_TIMEOUT
from flaresuite.glean.upstream import Upstream, excerpt, read_json
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.jsonbody import BadJson

API_PATH = "/api/index/v1"

MAX_PAGE_DOCUMENTS = 1000
"""The Indexing SDK's batch size for one bulk page."""

MAX_PAGE_BYTES = 5 * 1024 * 1024
"""The Indexing SDK's ``DEFAULT_DOCUMENT_BATCH_SIZE_BYTES``, which tracks the API payload limit."""

ENVELOPE_BYTES = 1024
"""Room kept in a page for the fields around ``documents`` (ids and flags, well under this)."""


class GleanApiError(RuntimeFailure):
    """Glean refused a request (4xx other than 429), or answered 2xx with an error."""


class GleanIndexingClient:
    def __init__(self, upstream: Upstream, base_url: str, token: str) -> None:
        self._upstream = upstream
        self._base_url = base_url
        self._token = token

    async def bulk_index_page(
        self,
        *,
        upload_id: str,
        datasource: str,
        documents: Sequence[bytes],
        is_first_page: bool,
        is_last_page: bool,
        force_restart_upload: bool,
    ) -> None:
        fields: dict[str, object] = {
            "uploadId": upload_id,
            "datasource": datasource,
            "isFirstPage": is_first_page,
            "isLastPage": is_last_page,
        }
        if force_restart_upload:
            fields["forceRestartUpload"] = True
        await self._post("bulkindexdocuments", _with_documents(fields, documents))

    async def index_documents(self, datasource: str, documents: Sequence[bytes]) -> None:
        await self._post("indexdocuments", _with_documents({"datasource": datasource}, documents))

    async def delete_document(self, datasource: str, object_type: str, doc_id: str) -> None:
        body = {"datasource": datasource, "objectType": object_type, "id": doc_id}
        await self._post("deletedocument", json.dumps(body, ensure_ascii=False).encode())

    async def _post(self, endpoint: str, body: bytes) -> None:
        request = HttpRequest(
            "POST",
            f"{self._base_url}{API_PATH}/{endpoint}",
            {
                "authorization": f"Bearer {self._token}",
                "content-type": "application/json",
            },
            body,
            timeout=DIRECT_REQUEST_TIMEOUT,
        )
        response = await self._upstream.send(request)
        if not response.ok:
            raise GleanApiError(
                f"Glean /{endpoint} answered HTTP {response.status}: {excerpt(response.body)}"
            )
        problem = _error_in(response)
        if problem is not None:
            raise GleanApiError(f"Glean /{endpoint} answered HTTP {response.status} {problem}")


def _error_in(response: HttpResponse) -> str | None:
    """Why a 2xx answer is not a success, or ``None`` when it is."""
    if not response.body.strip():
        return None
    try:
        answer = read_json(response)
    except BadJson as error:
        return f"with a body that is not acceptable JSON ({error})"
    if isinstance(answer, dict) and answer.get("error") is not None:
        return f"with an error: {excerpt(json.dumps(answer['error']).encode())}"
    return None


def _with_documents(fields: dict[str, object], documents: Sequence[bytes]) -> bytes:
    head = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
    return head + b',"documents":[' + b",".join(documents) + b"]}"
