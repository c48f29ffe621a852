"""Checking documents against Glean's ``DocumentDefinition`` before Glean sees them, and
serialising each one once.

The schema is the ``/indexdocuments`` and ``/bulkindexdocuments`` request schema
(gleanwork/glean-developer-site, ``docs/api/indexing-api``; the same model the
``glean-api-client`` package generates, which the tests use as an oracle). Each field has the
JSON type the schema gives it, judged by type, never by truthiness: ``"false"`` is not a
boolean and ``"a@x"`` is not a user. A field that is ``null`` counts as absent. On top of the
types, the rules the field descriptions and guides state:

* ``id``: required, at most 200 characters (required by Glean for datasources created after
  2025-03-01; this Worker refuses a document without one, since it could not name it);
* ``viewURL``: required, an http(s) URL, spelt exactly so (the public example's ``viewUrl`` is
  silently ignored by Glean);
* ``permissions``: required, and granting someone: a non-empty ``allowedUsers``,
  ``allowedGroups`` or ``allowedGroupIntersections``, or ``allowAnonymousAccess`` /
  ``allowAllDatasourceUsersAccess`` set to ``true``; without a grant nobody finds it;
* users (``author``, ``owner``, ``updatedBy``, ``allowedUsers``, comment authors): objects
  naming an ``email`` or a ``datasourceUserId``;
* ``summary``, ``body`` and comment ``content``: ``{mimeType, textContent | binaryContent}``,
  ``mimeType`` required, at most one of the two contents, ``binaryContent`` base64;
* ``updatedAt`` (required here, for INCREMENTAL checkpoints) and ``createdAt``: whole epoch
  **seconds** (milliseconds would date a document in the year 50,000);
* ``objectType`` and ``containerObjectType``: no spaces or underscores;
* ``comments``: each with a string ``id``; ``customProperties``: an array of
  ``{name, value}`` whose value is a string, a number or an array of strings (not a boolean);
* every string must be encodable as UTF-8 (JSON's ``"\\ud800"`` decodes to a lone surrogate).

A document that breaks a rule raises :class:`InvalidDocument`, which names it by id with the
reason; a run refuses that document and indexes the rest (:mod:`.direct`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import TypeGuard

from flaresuite.errors import RuntimeFailure

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


class InvalidDocument(RuntimeFailure):
    """A document Glean would reject or mis-index: ``document_id`` (``None`` when it has no
    usable id) and the ``reason``."""

    def __init__(self, document_id: str | None, reason: str) -> None:
        self.document_id = None if document_id is None else printable(document_id)
        self.reason = reason
        super().__init__(
            reason if document_id is None else f"document {self.document_id!r}: {reason}"
        )


def serialize_document(document: object, datasource: str) -> bytes:
    """Validate ``document`` for ``datasource`` and return its compact UTF-8 JSON.

    The datasource is filled in when absent; a document naming another datasource is refused.
    """
    if not isinstance(document, Mapping):
        raise InvalidDocument(None, f"a document must be a JSON object, got {_type(document)}")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidDocument(None, f"a document has no string id ({_members(document)})")
    if len(doc_id) > MAX_ID_LENGTH:
        raise InvalidDocument(
            doc_id[:40] + "...", f"id is {len(doc_id)} characters, Glean allows {MAX_ID_LENGTH}"
        )
    if doc_id != printable(doc_id):
        raise InvalidDocument(doc_id, "id holds a lone surrogate, which UTF-8 cannot encode")
    problem = _document_problem(document, datasource)
    if problem:
        raise InvalidDocument(doc_id, problem)
    if "datasource" not in document:
        document = {"datasource": datasource, **document}
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        where = _surrogate_path(document, "") or "a member name"
        raise InvalidDocument(
            doc_id, f"{where} holds a lone surrogate, which UTF-8 cannot encode"
        ) from None


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as its ``\\udXXX`` escape, so that a log line,
    a KV record or an error can always carry it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# -- the schema ----------------------------------------------------------------------------

Check = Callable[[object, str], str | None]
"""``check(value, path)``: what is wrong with a present, non-null ``value``, or ``None``."""


def _document_problem(document: Mapping[str, object], datasource: str) -> str | None:
    if document.get("datasource", datasource) != datasource:
        shown = document["datasource"]
        return f"datasource is {shown!r:.60}, this Worker indexes {datasource!r}"
    if "viewURL" not in document and "viewUrl" in document:
        return "has 'viewUrl'; Glean's field is 'viewURL'"
    for name in ("viewURL", "permissions", "updatedAt"):
        if document.get(name) is None:
            return _REQUIRED_MISSING[name]
    return _fields_problem(document, _DOCUMENT_FIELDS, "")


def _fields_problem(
    value: Mapping[str, object], fields: Mapping[str, Check], path: str
) -> str | None:
    # By the value's own members, not the schema's: a document sets a few of its 24 fields.
    for name, field_value in value.items():
        check = fields.get(name)
        if check is not None and field_value is not None:
            problem = check(field_value, f"{path}{name}")
            if problem:
                return problem
    return None


def _string(value: object, path: str) -> str | None:
    return None if isinstance(value, str) else f"{path} must be a string, got {_type(value)}"


def _type_name(value: object, path: str) -> str | None:
    """``objectType`` and ``containerObjectType``: "It cannot have spaces or _"."""
    if isinstance(value, str) and value and " " not in value and "_" not in value:
        return None
    return f"{path} {_shown(value)} must be a non-empty name without spaces or '_'"


def _http_url(value: object, path: str) -> str | None:
    if isinstance(value, str) and _HTTP_URL.match(value):
        return None
    return f"{path} must be an http(s) URL"


_HTTP_URL = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)
"""A scheme of http or https and a host: what a browser can open from a search result."""


def _boolean(value: object, path: str) -> str | None:
    return None if isinstance(value, bool) else f"{path} must be true or false, got {_type(value)}"


def _count(value: object, path: str) -> str | None:
    if _is_int(value) and value >= 0:
        return None
    return f"{path} must be a whole number >= 0, got {_shown(value)}"


def _epoch_seconds(value: object, path: str) -> str | None:
    if not _is_int(value) or value < 0:
        return f"{path} must be a whole number of epoch seconds, got {_shown(value)}"
    if value >= MAX_EPOCH_SECONDS:
        return f"{path} {value} looks like milliseconds; Glean wants epoch seconds"
    return None


def _array_of(item: Check, expected: str) -> Check:
    def check(value: object, path: str) -> str | None:
        if not isinstance(value, list):
            return f"{path} must be an array of {expected}, got {_type(value)}"
        for index, element in enumerate(value):
            problem = (
                f"{path}[{index}] must be {expected}, got null"
                if element is None
                else item(element, f"{path}[{index}]")
            )
            if problem:
                return problem
        return None

    return check


def _object(fields: Mapping[str, Check], shape: str, rule: Check | None = None) -> Check:
    """An object whose listed members have their types, and then ``rule`` for the whole."""

    def check(value: object, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} must be an object {shape}, got {_type(value)}"
        problem = _fields_problem(value, fields, f"{path}.")
        if problem:
            return problem
        return rule(value, path) if rule is not None else None

    return check


def _names_a_user(value: object, path: str) -> str | None:
    assert isinstance(value, dict)
    if value.get("email") is None and value.get("datasourceUserId") is None:
        return f"{path} must name the user by email or datasourceUserId"
    return None


def _one_content(value: object, path: str) -> str | None:
    assert isinstance(value, dict)
    if value.get("mimeType") is None:
        return f"{path}.mimeType is required"
    if value.get("textContent") is not None and value.get("binaryContent") is not None:
        return f"{path} must have textContent or binaryContent, not both"
    return None


def _base64(value: object, path: str) -> str | None:
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
            return None
        except (binascii.Error, ValueError):
            pass
    return f"{path} must be base64 text"


def _non_empty(member: str) -> Check:
    """A rule for an object that must have ``member`` as a non-empty string."""

    def check(value: object, path: str) -> str | None:
        assert isinstance(value, dict)
        text = value.get(member)
        if not isinstance(text, str) or not text:
            return f"{path}.{member} must be a non-empty string"
        return None

    return check


def _property_value(value: object, path: str) -> str | None:
    if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return f"{path} must be a string, a number or an array of strings, got {_type(value)}"


def _grants_someone(value: object, path: str) -> str | None:
    assert isinstance(value, dict)
    # The members' types were checked first, so a non-empty list here is a list of grants.
    intersections = value.get("allowedGroupIntersections") or ()
    if (
        value.get("allowAnonymousAccess") is True
        or value.get("allowAllDatasourceUsersAccess") is True
        or value.get("allowedUsers")
        or value.get("allowedGroups")
        or any(group.get("requiredGroups") for group in intersections)
    ):
        return None
    return f"{path} grant nobody access: set one of {', '.join(PERMISSION_GRANTS)}"


_USER = _object(
    {"email": _string, "datasourceUserId": _string, "name": _string},
    "{email or datasourceUserId, name}",
    _names_a_user,
)
_CONTENT = _object(
    {"mimeType": _string, "textContent": _string, "binaryContent": _base64},
    "{mimeType, textContent or binaryContent}",
    _one_content,
)
_GROUPS = _array_of(_string, "group names")
_PERMISSIONS = _object(
    {
        "allowedUsers": _array_of(_USER, "user objects {email or datasourceUserId}"),
        "allowedGroups": _GROUPS,
        "allowedGroupIntersections": _array_of(
            _object({"requiredGroups": _GROUPS}, "{requiredGroups}"), "objects {requiredGroups}"
        ),
        "allowAnonymousAccess": _boolean,
        "allowAllDatasourceUsersAccess": _boolean,
    },
    "(allowedUsers, allowAnonymousAccess, ...)",
    _grants_someone,
)
_COMMENT = _object(
    {
        "author": _USER,
        "content": _CONTENT,
        "createdAt": _epoch_seconds,
        "updatedAt": _epoch_seconds,
        "updatedBy": _USER,
    },
    "{id, author, content, ...}",
    _non_empty("id"),
)
_CUSTOM_PROPERTY = _object(
    {"name": _string, "value": _property_value}, "{name, value}", _non_empty("name")
)
_INTERACTIONS = _object(
    {"numViews": _count, "numLikes": _count, "numComments": _count},
    "{numViews, numLikes, numComments}",
)

_DOCUMENT_FIELDS: Mapping[str, Check] = {
    "datasource": _string,
    "id": _string,
    "title": _string,
    "filename": _string,
    "container": _string,
    "containerDatasourceId": _string,
    "containerObjectType": _type_name,
    "objectType": _type_name,
    "viewURL": _http_url,
    "summary": _CONTENT,
    "body": _CONTENT,
    "author": _USER,
    "owner": _USER,
    "permissions": _PERMISSIONS,
    "createdAt": _epoch_seconds,
    "updatedAt": _epoch_seconds,
    "updatedBy": _USER,
    "tags": _array_of(_string, "strings"),
    "interactions": _INTERACTIONS,
    "status": _string,
    "additionalUrls": _array_of(_string, "URLs"),
    "nativeAppUrl": _string,
    "comments": _array_of(_COMMENT, "comment objects {id, ...}"),
    "customProperties": _array_of(_CUSTOM_PROPERTY, "objects {name, value}"),
}

_REQUIRED_MISSING = {
    "viewURL": "viewURL must be an http(s) URL",
    "permissions": "permissions must be an object (allowedUsers, allowAnonymousAccess, ...)",
    "updatedAt": "updatedAt must be a whole number of epoch seconds, got None",
}


# -- helpers -------------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _shown(value: object) -> str:
    return printable(repr(value))[:60]


def _members(document: Mapping[str, object]) -> str:
    """The member names of a document without an id, to help find it in the source; never its
    values, which may be confidential text."""
    names = [printable(str(name))[:40] for name in list(document)[:10]]
    more = ", ..." if len(document) > 10 else ""
    return f"members: {', '.join(names)}{more}" if names else "an empty object"


def _surrogate_path(value: object, path: str) -> str | None:
    """Where in ``value`` a string holds a lone surrogate (for the error only)."""
    if isinstance(value, str):
        return path if value != printable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _surrogate_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{index}]")
            if found:
                return found
    return None
