"""The orchestrator's settings, read from Worker vars and secrets.

Every problem is collected, not just the first, so one deploy shows all of them: at startup in
the log and on ``GET /health``. Secrets are held here but never appear in an error message.
The names and defaults are documented in ``docs/glean.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flaresuite.errors import ConfigError as SuiteConfigError
from flaresuite.errors import Problem
from flaresuite.glean.modes import Mode

ENV_NAMES = (
    "GLEAN_TRIGGER_TOKEN",
    "GLEAN_FULL_CRON",
    "GLEAN_INCREMENTAL_CRON",
    "GLEAN_LOCK_TTL",
    "GLEAN_FULL_LOCK_WAIT",
    "GLEAN_INSTANCE",
    "GLEAN_SERVER_URL",
    "GLEAN_INDEXING_API_TOKEN",
    "GLEAN_DATASOURCE",
    "CONNECTOR_API_URL",
    "CONNECTOR_API_TOKEN",
    "CONNECTOR_API_TIMEOUT",
    "DOCUMENT_SOURCE_URL",
    "DOCUMENT_SOURCE_TOKEN",
    "DOCUMENT_SOURCE_PAGE_SIZE",
)
"""Every variable the orchestrator reads, so an entry module can copy exactly these."""

DEFAULT_SCHEDULE = {Mode.FULL: "0 2 * * *", Mode.INCREMENTAL: "0 * * * *"}

MIN_KV_TTL = 60
"""KV rejects an ``expirationTtl`` below 60 seconds."""

DIRECT_REQUEST_TIMEOUT = 60.0
"""Seconds one request of direct mode may take, to Glean or to the source (the Indexing SDK's
client timeout)."""


class ConfigError(SuiteConfigError):
    """The configuration cannot run a sync; ``errors`` says every reason."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(Problem(error.split(" ", 1)[0], error) for error in errors)
        self.errors = tuple(errors)


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Orchestrator mode: the connector service that does the indexing."""

    url: str
    token: str
    glean_instance: str
    timeout: float


@dataclass(frozen=True, slots=True)
class DirectConfig:
    """Direct mode: where documents come from and where they go."""

    glean_url: str
    """Base URL of the Glean deployment, e.g. ``https://acme-be.glean.com`` (no trailing /)."""
    glean_token: str
    datasource: str
    source_url: str
    source_token: str | None
    source_page_size: int


@dataclass(frozen=True, slots=True)
class GleanConfig:
    trigger_token: str
    schedule: Mapping[Mode, str]
    lock_ttl: int
    """Seconds after which a lock left by a crashed run stops blocking."""
    full_lock_wait: int
    """Seconds a scheduled FULL run waits for an INCREMENTAL run to finish."""
    backend: BackendConfig | None
    direct: DirectConfig | None


def parse_config(env: Mapping[str, str]) -> GleanConfig:
    """Read the settings; raises :class:`ConfigError` listing every problem."""
    errors: list[str] = []

    def text(name: str) -> str | None:
        value = env.get(name)
        return value.strip() or None if isinstance(value, str) else None

    def url(name: str) -> str | None:
        value = text(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(f"{name} must be an http(s) URL with a host")
            return None
        return value.rstrip("/")

    def whole(name: str, default: int, minimum: int, unit: str = "seconds") -> int:
        value = text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            errors.append(f"{name} must be a whole number of {unit} >= {minimum}, got {value!r}")
            return default
        return number

    trigger_token = text("GLEAN_TRIGGER_TOKEN")
    if trigger_token is None:
        errors.append("GLEAN_TRIGGER_TOKEN (secret) is not set: POST /trigger needs it")

    schedule = {
        Mode.FULL: text("GLEAN_FULL_CRON") or DEFAULT_SCHEDULE[Mode.FULL],
        Mode.INCREMENTAL: text("GLEAN_INCREMENTAL_CRON") or DEFAULT_SCHEDULE[Mode.INCREMENTAL],
    }
    if " ".join(schedule[Mode.FULL].split()) == " ".join(schedule[Mode.INCREMENTAL].split()):
        errors.append("GLEAN_FULL_CRON and GLEAN_INCREMENTAL_CRON must differ")

    lock_ttl = whole("GLEAN_LOCK_TTL", 3600, MIN_KV_TTL)
    full_lock_wait = whole("GLEAN_FULL_LOCK_WAIT", 600, 0)

    backend_url = url("CONNECTOR_API_URL")
    source_url = url("DOCUMENT_SOURCE_URL")
    backend = direct = None
    if text("CONNECTOR_API_URL") and text("DOCUMENT_SOURCE_URL"):
        errors.append(
            "set CONNECTOR_API_URL (orchestrator mode) or DOCUMENT_SOURCE_URL (direct mode), "
            "not both"
        )
    elif text("CONNECTOR_API_URL") is not None:
        token = text("CONNECTOR_API_TOKEN")
        instance = text("GLEAN_INSTANCE")
        if token is None:
            errors.append("CONNECTOR_API_TOKEN (secret) is not set: the backend needs it")
        if instance is None:
            errors.append("GLEAN_INSTANCE is not set: the backend is told which instance to index")
        timeout = whole("CONNECTOR_API_TIMEOUT", 600, 1)
        if 2 * timeout >= lock_ttl:
            # The lock must outlive every attempt at the backend, each up to the timeout, or
            # the next cron could start a second backend run while the first is indexing. A
            # run renews its lock before a retry once half the TTL has passed, so a TTL over
            # twice the timeout always leaves an attempt more than the timeout.
            errors.append(
                f"GLEAN_LOCK_TTL ({lock_ttl} s) must be more than twice CONNECTOR_API_TIMEOUT "
                f"({timeout} s)"
            )
        if backend_url and token and instance:
            backend = BackendConfig(backend_url, token, instance, float(timeout))
    elif text("DOCUMENT_SOURCE_URL") is not None:
        glean_url = url("GLEAN_SERVER_URL")
        instance = text("GLEAN_INSTANCE")
        if glean_url is None and text("GLEAN_SERVER_URL") is None:
            if instance is None:
                errors.append("set GLEAN_SERVER_URL (or GLEAN_INSTANCE) for direct mode")
            elif not instance.replace("-", "").isalnum():
                errors.append(
                    f"GLEAN_INSTANCE must be an instance name like 'acme', got {instance!r}"
                )
            else:
                glean_url = f"https://{instance}-be.glean.com"
        glean_token = text("GLEAN_INDEXING_API_TOKEN")
        if glean_token is None:
            errors.append("GLEAN_INDEXING_API_TOKEN (secret) is not set: Glean needs it")
        datasource = text("GLEAN_DATASOURCE")
        if datasource is None:
            errors.append("GLEAN_DATASOURCE is not set: direct mode indexes into one datasource")
        page_size = whole("DOCUMENT_SOURCE_PAGE_SIZE", 500, 1, "documents")
        if lock_ttl <= 2 * DIRECT_REQUEST_TIMEOUT:
            # As for the backend below: the lock must outlive any one request.
            errors.append(
                f"GLEAN_LOCK_TTL ({lock_ttl} s) must be more than twice the "
                f"{DIRECT_REQUEST_TIMEOUT:g} s a request to Glean or the source may take"
            )
        if glean_url and glean_token and datasource and source_url:
            direct = DirectConfig(
                glean_url=glean_url,
                glean_token=glean_token,
                datasource=datasource,
                source_url=source_url,
                source_token=text("DOCUMENT_SOURCE_TOKEN"),
                source_page_size=page_size,
            )
    else:
        errors.append(
            "neither CONNECTOR_API_URL (orchestrator mode) nor DOCUMENT_SOURCE_URL (direct "
            "mode) is set: nothing to sync"
        )

    if errors:
        raise ConfigError(errors)
    assert trigger_token is not None and (backend or direct)
    return GleanConfig(
        trigger_token=trigger_token,
        schedule=schedule,
        lock_ttl=lock_ttl,
        full_lock_wait=full_lock_wait,
        backend=backend,
        direct=direct,
    )
