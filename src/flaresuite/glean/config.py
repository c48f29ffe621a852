"""The orchestrator's settings, read from Worker vars and secrets.

Every setting is declared once in :data:`SETTINGS` and parsed by :func:`parse_config` with one
:class:`~flaresuite.config.EnvReader`, so one deploy shows every problem at once (in the log
of each invocation; a misconfigured Worker answers 503 naming the variables). A blank secret
counts as unset, and no message ever holds a value. Names and defaults are documented in
``docs/glean.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flaresuite.config import EnvReader, EnvSource, Setting
from flaresuite.glean.modes import Mode

TRIGGER_TOKEN = "GLEAN_TRIGGER_TOKEN"
FULL_CRON = "GLEAN_FULL_CRON"
INCREMENTAL_CRON = "GLEAN_INCREMENTAL_CRON"
LOCK_TTL = "GLEAN_LOCK_TTL"
FULL_LOCK_WAIT = "GLEAN_FULL_LOCK_WAIT"
INSTANCE = "GLEAN_INSTANCE"
SERVER_URL = "GLEAN_SERVER_URL"
INDEXING_API_TOKEN = "GLEAN_INDEXING_API_TOKEN"
DATASOURCE = "GLEAN_DATASOURCE"
CONNECTOR_URL = "CONNECTOR_API_URL"
CONNECTOR_TOKEN = "CONNECTOR_API_TOKEN"
CONNECTOR_TIMEOUT = "CONNECTOR_API_TIMEOUT"
SOURCE_URL = "DOCUMENT_SOURCE_URL"
SOURCE_TOKEN = "DOCUMENT_SOURCE_TOKEN"
SOURCE_PAGE_SIZE = "DOCUMENT_SOURCE_PAGE_SIZE"
SOURCE_MAX_PAGES = "DOCUMENT_SOURCE_MAX_PAGES"

DEFAULT_SCHEDULE = {Mode.FULL: "0 2 * * *", Mode.INCREMENTAL: "0 * * * *"}
DEFAULT_LOCK_TTL = 3600
DEFAULT_FULL_LOCK_WAIT = 600
DEFAULT_CONNECTOR_TIMEOUT = 600
DEFAULT_SOURCE_PAGE_SIZE = 500
DEFAULT_SOURCE_MAX_PAGES = 10_000

MIN_KV_TTL = 60
"""KV rejects an ``expirationTtl`` below 60 seconds."""

DIRECT_REQUEST_TIMEOUT = 60.0
"""Seconds one request of direct mode may take, to Glean or to the source (the Indexing SDK's
client timeout)."""

SETTINGS = (
    Setting(
        TRIGGER_TOKEN,
        "bearer token for POST /trigger and the details of GET /health",
        secret=True,
        required=True,
    ),
    Setting(FULL_CRON, f"cron expression of FULL runs (default {DEFAULT_SCHEDULE[Mode.FULL]})"),
    Setting(
        INCREMENTAL_CRON,
        f"cron expression of INCREMENTAL runs (default {DEFAULT_SCHEDULE[Mode.INCREMENTAL]})",
    ),
    Setting(LOCK_TTL, f"seconds a crashed run's lock blocks others (default {DEFAULT_LOCK_TTL})"),
    Setting(
        FULL_LOCK_WAIT,
        f"seconds a scheduled FULL run waits for an INCREMENTAL one "
        f"(default {DEFAULT_FULL_LOCK_WAIT})",
    ),
    Setting(INSTANCE, "Glean instance name; orchestrator mode, or direct mode without a URL"),
    Setting(SERVER_URL, "direct mode: Glean base URL, preferred over GLEAN_INSTANCE"),
    Setting(INDEXING_API_TOKEN, "direct mode: Glean-issued indexing token", secret=True),
    Setting(DATASOURCE, "direct mode: the datasource to index into"),
    Setting(CONNECTOR_URL, "orchestrator mode: base URL of the backend connector service"),
    Setting(CONNECTOR_TOKEN, "orchestrator mode: bearer token sent to the backend", secret=True),
    Setting(
        CONNECTOR_TIMEOUT,
        f"orchestrator mode: seconds a run may wait for the backend, retries included "
        f"(default {DEFAULT_CONNECTOR_TIMEOUT})",
    ),
    Setting(SOURCE_URL, "direct mode: the paginated document source"),
    Setting(SOURCE_TOKEN, "direct mode: bearer token for the source (optional)", secret=True),
    Setting(
        SOURCE_PAGE_SIZE,
        f"direct mode: limit asked of the source per page (default {DEFAULT_SOURCE_PAGE_SIZE})",
    ),
    Setting(
        SOURCE_MAX_PAGES,
        f"direct mode: pages a run reads at most before it fails "
        f"(default {DEFAULT_SOURCE_MAX_PAGES:,})",
    ),
)
"""Every var and secret the orchestrator reads."""


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Orchestrator mode: the connector service that does the indexing."""

    url: str
    token: str = field(repr=False)
    glean_instance: str
    timeout: float
    """Seconds a run may spend on the backend in all: every attempt and every wait."""


@dataclass(frozen=True, slots=True)
class DirectConfig:
    """Direct mode: where documents come from and where they go."""

    glean_url: str
    """Base URL of the Glean deployment, e.g. ``https://acme-be.glean.com`` (no trailing /)."""
    glean_token: str = field(repr=False)
    datasource: str
    source_url: str
    source_token: str | None = field(repr=False)
    source_page_size: int
    source_max_pages: int


@dataclass(frozen=True, slots=True)
class GleanConfig:
    trigger_token: str = field(repr=False)
    schedule: Mapping[Mode, str]
    lock_ttl: int
    """Seconds after which a lock left by a crashed run stops blocking."""
    full_lock_wait: int
    """Seconds a scheduled FULL run waits for an INCREMENTAL run to finish."""
    backend: BackendConfig | None
    direct: DirectConfig | None


def parse_config(env: EnvSource) -> GleanConfig:
    """Read the settings; raises :class:`flaresuite.errors.ConfigError` listing every
    problem."""
    reader = EnvReader(env)
    trigger_token = reader.text(TRIGGER_TOKEN)
    if trigger_token is None:
        reader.problem(TRIGGER_TOKEN, "is not set (a secret): POST /trigger needs it")
    schedule = _schedule(reader)
    lock_ttl = reader.integer(LOCK_TTL, DEFAULT_LOCK_TTL, minimum=MIN_KV_TTL)
    full_lock_wait = reader.integer(FULL_LOCK_WAIT, DEFAULT_FULL_LOCK_WAIT, minimum=0)
    backend = direct = None
    orchestrated, direct_mode = reader.is_set(CONNECTOR_URL), reader.is_set(SOURCE_URL)
    if orchestrated and direct_mode:
        for name in (CONNECTOR_URL, SOURCE_URL):
            reader.problem(name, f"set {CONNECTOR_URL} or {SOURCE_URL}, not both")
    elif orchestrated:
        backend = _backend(reader, lock_ttl)
    elif direct_mode:
        direct = _direct(reader, lock_ttl)
    else:
        for name in (CONNECTOR_URL, SOURCE_URL):
            reader.problem(
                name,
                f"set {CONNECTOR_URL} (orchestrator mode) or {SOURCE_URL} (direct mode); "
                "neither is set, so there is nothing to sync",
            )
    reader.check()
    assert trigger_token is not None and (backend or direct)
    return GleanConfig(trigger_token, schedule, lock_ttl, full_lock_wait, backend, direct)


def _schedule(reader: EnvReader) -> dict[Mode, str]:
    full = reader.text(FULL_CRON, default=DEFAULT_SCHEDULE[Mode.FULL])
    incremental = reader.text(INCREMENTAL_CRON, default=DEFAULT_SCHEDULE[Mode.INCREMENTAL])
    assert full is not None and incremental is not None
    if full.split() == incremental.split():
        reader.problem(FULL_CRON, f"must differ from {INCREMENTAL_CRON}")
    return {Mode.FULL: full, Mode.INCREMENTAL: incremental}


def _backend(reader: EnvReader, lock_ttl: int) -> BackendConfig | None:
    url = reader.url(CONNECTOR_URL)
    token = reader.text(CONNECTOR_TOKEN)
    if token is None:
        reader.problem(CONNECTOR_TOKEN, "is not set (a secret): the backend needs it")
    instance = reader.text(INSTANCE)
    if instance is None:
        reader.problem(INSTANCE, "is not set: the backend is told which instance to index")
    timeout = reader.integer(CONNECTOR_TIMEOUT, DEFAULT_CONNECTOR_TIMEOUT, minimum=1)
    if 2 * timeout >= lock_ttl:
        # The lock must outlive the run's time with the backend, or the next cron could start
        # a second backend run while the first is indexing. A run renews its lock before a
        # retry once half the TTL has passed, so a TTL over twice the timeout always leaves
        # an attempt more than the time the run has.
        reader.problem(LOCK_TTL, f"must be more than twice {CONNECTOR_TIMEOUT}")
    if url is None or token is None or instance is None:
        return None
    return BackendConfig(url, token, instance, float(timeout))


def _direct(reader: EnvReader, lock_ttl: int) -> DirectConfig | None:
    glean_url = _glean_url(reader)
    glean_token = reader.text(INDEXING_API_TOKEN)
    if glean_token is None:
        reader.problem(INDEXING_API_TOKEN, "is not set (a secret): Glean needs it")
    datasource = reader.text(DATASOURCE)
    if datasource is None:
        reader.problem(DATASOURCE, "is not set: direct mode indexes into one datasource")
    source_url = reader.url(SOURCE_URL)
    page_size = reader.integer(SOURCE_PAGE_SIZE, DEFAULT_SOURCE_PAGE_SIZE, minimum=1)
    max_pages = reader.integer(SOURCE_MAX_PAGES, DEFAULT_SOURCE_MAX_PAGES, minimum=1)
    if lock_ttl <= 2 * DIRECT_REQUEST_TIMEOUT:
        # As for the backend: the lock must outlive any one request.
        reader.problem(
            LOCK_TTL,
            f"must be more than twice the {DIRECT_REQUEST_TIMEOUT:g} s a request to Glean or "
            "the source may take",
        )
    if glean_url is None or glean_token is None or datasource is None or source_url is None:
        return None
    return DirectConfig(
        glean_url=glean_url,
        glean_token=glean_token,
        datasource=datasource,
        source_url=source_url,
        source_token=reader.text(SOURCE_TOKEN),
        source_page_size=page_size,
        source_max_pages=max_pages,
    )


def _glean_url(reader: EnvReader) -> str | None:
    """``GLEAN_SERVER_URL``, else ``https://{GLEAN_INSTANCE}-be.glean.com`` (as the SDK)."""
    if reader.is_set(SERVER_URL):
        return reader.url(SERVER_URL)
    instance = reader.text(INSTANCE)
    if instance is None:
        reader.problem(SERVER_URL, f"is not set, nor is {INSTANCE}: direct mode needs one")
        return None
    if not (instance.isascii() and instance.replace("-", "").isalnum()):
        reader.problem(INSTANCE, "must be an instance name such as acme (letters, digits, -)")
        return None
    return f"https://{instance}-be.glean.com"
