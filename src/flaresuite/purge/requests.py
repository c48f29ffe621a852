"""Request bodies of the delete proxy, validated completely before anything is deleted.

``POST /delete`` takes ``{"objectKeys": [<key>, ...]}`` and ``POST /delete-project`` takes
``{"projectId": <id>, "dryRun": <bool, optional>}``. Unknown fields are rejected rather than
ignored: a misspelt ``"dryrun": true`` must not turn a dry run into a real deletion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flaresuite.http import HttpRequest
from flaresuite.purge.keys import InvalidKey, unique_in_order, validate_key
from flaresuite.purge.limits import MAX_BODY_BYTES, MAX_KEYS_PER_REQUEST
from flaresuite.purge.patterns import InvalidProjectId, validate_project_id

_CONTENT_LENGTH = re.compile(r"[ \t]*0*(?P<digits>[0-9]+)[ \t]*")
"""A Content-Length value, optional whitespace around it; ``digits`` without leading zeros."""


class RequestRejected(Exception):
    """Bad input: answered with ``status`` and ``{"error": message}``, nothing deleted."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ProjectDeletion:
    project_id: str
    dry_run: bool


def check_body_size(request: HttpRequest) -> None:
    """413 if the actual or the declared body exceeds :data:`MAX_BODY_BYTES`.

    The actual size is checked first, so an oversized body is 413 whatever ``Content-Length``
    says (a client may not declare it, or lie). The declared length is checked too because a
    host may cut a body short. It must be ASCII digits (RFC 9110 section 8.6): ``str.isdigit``
    also admits ``"\u00b2"``, which ``int`` cannot read, and ``int`` refuses more than 4300
    digits, so the digits are compared by count before they are converted.
    """
    if request.oversized or len(request.body) > MAX_BODY_BYTES:
        raise RequestRejected(
            413,
            f"request body exceeds the {MAX_BODY_BYTES}-byte limit",
        )
    declared = request.headers.get("content-length")
    if declared is None:
        return
    match = _CONTENT_LENGTH.fullmatch(declared)
    if match is None:
        raise RequestRejected(400, f"Content-Length {_shown(declared)!r} is not a byte count")
    digits = match["digits"]
    if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
        raise RequestRejected(
            413, f"Content-Length {_shown(digits)} exceeds the {MAX_BODY_BYTES}-byte limit"
        )


def _shown(header: str) -> str:
    """A header value short enough for an error message and the audit line."""
    return header if len(header) <= 40 else f"{header[:40]}..."


def _json_object(body: bytes, allowed: frozenset[str]) -> Mapping[str, object]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers both undecodable bytes and malformed JSON; RecursionError a body
        # nested deeper than the parser's stack.
        raise RequestRejected(400, f"request body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise RequestRejected(400, f"request body must be a JSON object, got {_json_type(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RequestRejected(
            400, f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )
    return value


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def parse_delete(request: HttpRequest) -> list[str]:
    """The unique keys, in first-seen order, of a ``POST /delete`` body."""
    body = _json_object(request.body, frozenset({"objectKeys"}))
    if "objectKeys" not in body:
        raise RequestRejected(400, "objectKeys is required")
    keys = body["objectKeys"]
    if not isinstance(keys, list):
        raise RequestRejected(400, f"objectKeys must be an array, got {_json_type(keys)}")
    if not keys:
        raise RequestRejected(400, "objectKeys must not be empty")
    if len(keys) > MAX_KEYS_PER_REQUEST:
        raise RequestRejected(
            400,
            f"objectKeys has {len(keys)} keys; at most {MAX_KEYS_PER_REQUEST} per request "
            "(the Python client splits longer lists)",
        )
    for index, key in enumerate(keys):
        try:
            validate_key(key)
        except InvalidKey as error:
            raise RequestRejected(400, f"objectKeys[{index}]: {error}") from None
    return unique_in_order(keys)


def parse_project_deletion(request: HttpRequest) -> ProjectDeletion:
    """The project and mode of a ``POST /delete-project`` body."""
    body = _json_object(request.body, frozenset({"projectId", "dryRun"}))
    if "projectId" not in body:
        raise RequestRejected(400, "projectId is required")
    try:
        project_id = validate_project_id(body["projectId"])
    except InvalidProjectId as error:
        raise RequestRejected(400, str(error)) from None
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise RequestRejected(400, f"dryRun must be true or false, got {_json_type(dry_run)}")
    return ProjectDeletion(project_id=project_id, dry_run=dry_run)
