"""What a run did, per prefix: for logs, ``GET /status`` and ``POST /run``.

A report has a private and a public view. The public one (``GET /status`` without the token)
holds what a reader of the index needs: per-prefix state, times and counts, and the names of
directories skipped or deferred. Error texts, rejected keys, the source bucket and endpoint
only appear with the bearer token: they name infrastructure a stranger has no business seeing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

PrefixStatus = Literal["ok", "failed", "deferred", "empty"]
RunStatus = Literal["ok", "partial", "failed", "pending"]

PUBLIC_FIELDS = (
    "prefix",
    "status",
    "finished_at",
    "seconds",
    "objects",
    "directories",
    "directories_built",
    "directories_unchanged",
    "deferred_directories",
    "skipped_directories",
    "distributions",
    "hidden",
    "rejected_count",
    "index_only",
    "pages_written",
    "pages_unchanged",
    "pages_foreign",
    "pages_mirrored",
    "pages_removed",
    "list_calls",
    "subrequests",
)
"""The fields of a prefix report shown without the token."""


@dataclass(slots=True)
class PrefixReport:
    prefix: str
    status: PrefixStatus = "ok"
    finished_at: float = 0.0
    seconds: float = 0.0
    objects: int = 0
    directories: int = 0
    """Accelerator directories found (the prefix root not counted)."""
    directories_built: int = 0
    directories_unchanged: int = 0
    deferred_directories: list[str] = field(default_factory=list)
    skipped_directories: list[str] = field(default_factory=list)
    """Sub-directories not indexed: legacy names, nested trees, anything no pattern accepts."""
    distributions: int = 0
    hidden: int = 0
    rejected: list[str] = field(default_factory=list)
    rejected_count: int = 0
    index_only: list[str] = field(default_factory=list)
    """``directory/project`` of projects listed from pages someone else wrote, with no file of
    their own here."""
    heads: int = 0
    sidecar_reads: int = 0
    page_reads: int = 0
    """Index pages read from the source (``<dir>/<project>/index.html``), one GET each."""
    cache_hits: int = 0
    metadata_pending: int = 0
    pages_written: int = 0
    pages_unchanged: int = 0
    pages_foreign: int = 0
    """Pages left alone because someone else wrote them and they link to other hosts."""
    pages_mirrored: int = 0
    """Pages published as the source holds them (index-only pages linking to other hosts),
    written or already in place."""
    pages_removed: int = 0
    """JSON pages this builder had written for a project whose HTML page is now someone
    else's, deleted."""
    list_calls: int = 0
    subrequests: int = 0
    error: str | None = None

    def reject(self, key: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(key)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def public(self) -> dict[str, object]:
        return public_view(self.to_dict())


MAX_LISTED = 100
"""Rejected keys named in one report; the count is always exact."""


def public_view(report: dict[str, object]) -> dict[str, object]:
    return {name: report[name] for name in PUBLIC_FIELDS if name in report}


def run_status(statuses: list[str]) -> RunStatus:
    """``ok`` when every prefix is ok or empty; ``failed`` when all failed; ``pending`` while
    a prefix of a queued run has not reported yet; else ``partial``."""
    states = set(statuses)
    if "pending" in states:
        return "pending"
    if states <= {"ok", "empty"}:
        return "ok"
    if states <= {"failed"}:
        return "failed"
    return "partial"


@dataclass(slots=True)
class RunReport:
    started_at: float
    seconds: float = 0.0
    subrequests: int = 0
    list_calls: int = 0
    prefixes: list[PrefixReport] = field(default_factory=list)

    @property
    def status(self) -> RunStatus:
        return run_status([p.status for p in self.prefixes])

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "subrequests": self.subrequests,
            "list_calls": self.list_calls,
            "prefixes": [p.to_dict() for p in self.prefixes],
        }
