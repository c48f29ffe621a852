"""Which object keys belong to a project.

Over its history the backend stored a project's objects under four key patterns:

========================  ===============================
pattern                   example for project ``12``
========================  ===============================
hierarchical              ``projects/12/scenes/3/a.mp4``
flat                      ``12_3_media.mp4``
``proj_`` prefixed        ``proj_12_3_media.mp4``
double ``proj_proj_``     ``proj_proj_12_3_media.mp4``
========================  ===============================

Every pattern is a prefix that ends in a separator (``/`` or ``_``), so listing by prefix
finds a project's objects and ``proj_12`` never reaches ``proj_123_...``. That guarantee needs
the project id itself to be free of separators: were ``a_b`` a valid id, the flat key
``a_b_x.mp4`` would belong to both ``a`` and ``a_b``; were ``proj`` valid, its flat prefix
``proj_`` would cover every project's ``proj_`` keys. :func:`validate_project_id` rejects
exactly those ids, which makes every key belong to at most one project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flaresuite.errors import BadInput

MAX_PROJECT_ID_LENGTH = 128

_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")

_AMBIGUOUS_IDS = frozenset({"proj"})
"""Ids whose flat prefix (``proj_``) is also the start of other projects' keys."""


class InvalidProjectId(BadInput, ValueError):
    """A project id whose key patterns could reach another project's keys. The message never
    quotes the id (it reaches the audit log, and a caller may have sent the token there)."""


@dataclass(frozen=True, slots=True)
class KeyPattern:
    name: str
    prefix: str


def validate_project_id(project_id: object) -> str:
    """Return ``project_id`` if its four key prefixes belong to it alone, else raise
    :class:`InvalidProjectId`."""
    if not isinstance(project_id, str):
        raise InvalidProjectId(f"projectId must be a string, got {type(project_id).__name__}")
    if not 1 <= len(project_id) <= MAX_PROJECT_ID_LENGTH:
        raise InvalidProjectId(f"projectId must be 1 to {MAX_PROJECT_ID_LENGTH} characters")
    if not _PROJECT_ID.fullmatch(project_id):
        raise InvalidProjectId(
            "projectId must be the bare id (for example 12, not proj_12): "
            "ASCII letters, digits, '.' and '-', starting with a letter or digit; '_' and '/' "
            "would make the key patterns of two projects overlap"
        )
    if project_id in _AMBIGUOUS_IDS:
        raise InvalidProjectId(
            f"projectId {project_id} is ambiguous: its flat prefix {project_id}_ is the start "
            "of every project's proj_ keys"
        )
    return project_id


def project_patterns(project_id: str) -> tuple[KeyPattern, ...]:
    """The four historical key prefixes of a (validated) project id."""
    return (
        KeyPattern("hierarchical", f"projects/{project_id}/"),
        KeyPattern("flat", f"{project_id}_"),
        KeyPattern("proj", f"proj_{project_id}_"),
        KeyPattern("proj_proj", f"proj_proj_{project_id}_"),
    )


def matching_pattern(key: str, project_id: str) -> KeyPattern | None:
    """The pattern under which ``key`` belongs to ``project_id``, or ``None``."""
    for pattern in project_patterns(project_id):
        if key.startswith(pattern.prefix):
            return pattern
    return None
