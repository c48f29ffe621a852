"""Checking documents before Glean sees them, and serialising them once.

Field rules from Glean's ``DocumentDefinition`` (``/indexdocuments`` request schema and
``getting-started/index-documents.mdx``):

* ``id``: at most 200 characters (required for datasources created after 2025-03-01);
* ``viewURL``: the document's URL, spelt exactly so (the public example's ``viewUrl`` is
  silently ignored by Glean);
* ``permissions``: who may see the document; without a grant nobody finds it;
* ``updatedAt`` / ``createdAt``: epoch **seconds** (milliseconds would date it in year 50,000);
* ``objectType``: no spaces or underscores.

A document that breaks a rule stops the run: a FULL upload that skipped it would make Glean
delete it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

MAX_ID_LENGTH = 200

MAX_EPOCH_SECONDS = 100_000_000_000
"""Year 5138. Any larger timestamp is almost certainly milliseconds."""

PERMISSION_GRANTS = (
    "allowedUsers",
    "allowedGroups",
    "allowedGroupIntersections",
    "allowAnonymousAccess",
    "allowAllDatasourceUsersAccess",
)


class InvalidDocument(ValueError):
    """A document Glean would reject or mis-index; the message names it and the rule."""


def serialize_document(document: object, datasource: str) -> bytes:
    """Validate ``document`` for ``datasource`` and return its compact UTF-8 JSON.

    The datasource is filled in when absent; a document naming another datasource is refused.
    """
    if not isinstance(document, Mapping):
        raise InvalidDocument(f"a document must be a JSON object, got {_type(document)}")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidDocument(f"a document has no string id: {_excerpt(document)}")
    if len(doc_id) > MAX_ID_LENGTH:
        raise InvalidDocument(
            f"document {doc_id[:40]!r}...: id is {len(doc_id)} characters, Glean allows "
            f"{MAX_ID_LENGTH}"
        )
    problem = _problem(document, datasource)
    if problem:
        raise InvalidDocument(f"document {doc_id!r}: {problem}")
    if "datasource" not in document:
        document = {"datasource": datasource, **document}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _problem(document: Mapping[str, object], datasource: str) -> str | None:
    if document.get("datasource", datasource) != datasource:
        return f"datasource is {document['datasource']!r}, this Worker indexes {datasource!r}"
    if "viewURL" not in document and "viewUrl" in document:
        return "has 'viewUrl'; Glean's field is 'viewURL'"
    view_url = document.get("viewURL")
    if not isinstance(view_url, str) or urlsplit(view_url).scheme not in ("http", "https"):
        return "viewURL must be an http(s) URL"
    permissions = document.get("permissions")
    if not isinstance(permissions, Mapping):
        return "permissions must be an object (allowedUsers, allowAnonymousAccess, ...)"
    if not any(permissions.get(grant) for grant in PERMISSION_GRANTS):
        return f"permissions grant nobody access: set one of {', '.join(PERMISSION_GRANTS)}"
    for field in ("updatedAt", "createdAt"):
        if field not in document and field == "createdAt":
            continue
        value = document.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{field} must be a whole number of epoch seconds, got {value!r}"
        if value >= MAX_EPOCH_SECONDS:
            return f"{field} {value} looks like milliseconds; Glean wants epoch seconds"
    object_type = document.get("objectType")
    if object_type is not None and (
        not isinstance(object_type, str)
        or not object_type
        or " " in object_type
        or "_" in object_type
    ):
        return f"objectType {object_type!r} must be a non-empty name without spaces or '_'"
    return None


def _type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _excerpt(document: Mapping[str, object]) -> str:
    text = json.dumps(document, default=str)
    return text[:120] + ("..." if len(text) > 120 else "")
