"""Request bodies of the delete proxy, validated completely before anything is deleted.

``POST /delete`` takes ``{"objectKeys": [<key>, ...]}`` and ``POST /delete-project`` takes
``{"projectId": <id>, "dryRun": <bool, optional>}``. Bodies go through the suite's one JSON
guard (:func:`flaresuite.jsonbody.parse_json`): UTF-8 only, nesting depth checked before
parsing, duplicate members and ``NaN`` refused, so ``{"dryRun": true, "dryRun": false}`` can
never become a real deletion. Unknown fields are refused rather than ignored, for the same
reason: a misspelt ``"dryrun": true`` must not turn a dry run into a real deletion.

No message quotes what the caller sent: messages go into the audit log, and a rejected value
may be the bearer token pasted in the wrong place. They say where (``objectKeys[3]``) and
which rule was broken instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flaresuite.errors import BadInput
from flaresuite.http import HttpRequest
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.purge.keys import InvalidKey, unique_in_order, validate_key
from flaresuite.purge.limits import MAX_BODY_BYTES, MAX_KEYS_PER_REQUEST
from flaresuite.purge.patterns import InvalidProjectId, validate_project_id

_CONTENT_LENGTH = re.compile(r"[ \t]*0*(?P<digits>[0-9]+)[ \t]*")
"""A Content-Length value, optional whitespace around it; ``digits`` without leading zeros."""


class RequestRejected(BadInput):
    """Bad input: answered with ``status`` and ``{"error": message}``, nothing deleted."""


@dataclass(frozen=True, slots=True)
class ProjectDeletion:
    project_id: str
    dry_run: bool


def check_body_size(request: HttpRequest) -> None:
    """413 if the actual or the declared body exceeds :data:`MAX_BODY_BYTES`.

    The actual size is checked first, so an oversized body is 413 whatever ``Content-Length``
    says (a client may not declare it, or lie); ``oversized`` means the host stopped reading
    past the limit. The declared length is checked too because a host may cut a body short.
    It must be ASCII digits (RFC 9110 section 8.6): ``str.isdigit`` also admits ``"\u00b2"``,
    which ``int`` cannot read, and ``int`` refuses more than 4300 digits, so the digits are
    compared by count before they are converted.
    """
    if request.oversized or len(request.body) > MAX_BODY_BYTES:
        raise RequestRejected(f"request body exceeds the {MAX_BODY_BYTES}-byte limit", status=413)
    declared = request.headers.get("content-length")
    if declared is None:
        return
    match = _CONTENT_LENGTH.fullmatch(declared)
    if match is None:
        raise RequestRejected("Content-Length is not a byte count")
    digits = match["digits"]
    if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
        raise RequestRejected(f"Content-Length exceeds the {MAX_BODY_BYTES}-byte limit", status=413)


def _json_object(body: bytes, allowed: frozenset[str]) -> Mapping[str, object]:
    try:
        value = parse_json(body, max_bytes=MAX_BODY_BYTES)
    except BadJson as error:
        raise RequestRejected(error.message, status=error.status) from None
    if not isinstance(value, dict):
        raise RequestRejected(f"request body must be a JSON object, got {_json_type(value)}")
    unknown = set(value) - allowed
    if unknown:
        raise RequestRejected(
            f"unknown field(s) in the request body ({len(unknown)}); expected only "
            f"{' and '.join(sorted(allowed))} (names are case-sensitive)"
        )
    return value


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def parse_delete(request: HttpRequest) -> list[str]:
    """The unique keys, in first-seen order, of a ``POST /delete`` body."""
    body = _json_object(request.body, frozenset({"objectKeys"}))
    if "objectKeys" not in body:
        raise RequestRejected("objectKeys is required")
    keys = body["objectKeys"]
    if not isinstance(keys, list):
        raise RequestRejected(f"objectKeys must be an array, got {_json_type(keys)}")
    if not keys:
        raise RequestRejected("objectKeys must not be empty")
    if len(keys) > MAX_KEYS_PER_REQUEST:
        raise RequestRejected(
            f"objectKeys has {len(keys)} keys; at most {MAX_KEYS_PER_REQUEST} per request "
            "(the Python client splits longer lists)"
        )
    for index, key in enumerate(keys):
        try:
            validate_key(key)
        except InvalidKey as error:
            raise RequestRejected(f"objectKeys[{index}]: {error}") from None
    return unique_in_order(keys)


def parse_project_deletion(request: HttpRequest) -> ProjectDeletion:
    """The project and mode of a ``POST /delete-project`` body."""
    body = _json_object(request.body, frozenset({"projectId", "dryRun"}))
    if "projectId" not in body:
        raise RequestRejected("projectId is required")
    try:
        project_id = validate_project_id(body["projectId"])
    except InvalidProjectId as error:
        raise RequestRejected(str(error)) from None
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise RequestRejected(f"dryRun must be true or false, got {_json_type(dry_run)}")
    return ProjectDeletion(project_id=project_id, dry_run=dry_run)
