"""The index Worker's configuration: every var and secret it reads (:data:`SETTINGS`), parsed
with one :class:`~flaresuite.config.EnvReader` so a deploy sees every problem at once.

Bindings (not settings): ``DEST_BUCKET`` and ``DEST_BUCKET_META_CDN`` (R2, public pages),
``INDEX_STATE`` (R2, private run state) and, optionally, ``INDEX_QUEUE`` (a Queue producer that
fans a run out, one message per prefix, to the same Worker's ``queue`` handler).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from flaresuite.config import EnvReader, EnvSource, Setting
from flaresuite.index import layout
from flaresuite.index.budget import DEFAULT_MAX_SUBREQUESTS
from flaresuite.index.builder import BuildConfig
from flaresuite.index.foreign import DEFAULT_FILE_HOSTS, parse_host
from flaresuite.index.overrides import parse_overrides
from flaresuite.s3.addressing import check_endpoint
from flaresuite.s3.credentials import SETTINGS as CREDENTIAL_SETTINGS
from flaresuite.s3.credentials import CredentialSettings, read_credentials

_DEFAULTS = BuildConfig()

SETTINGS: tuple[Setting, ...] = (
    Setting("SOURCE_S3_BUCKET", "S3 bucket to index", required=True),
    Setting("SOURCE_S3_REGION", "its region (default us-east-1; R2's S3 API: auto)"),
    Setting("S3_ENDPOINT_URL", "S3-compatible endpoint, path-style (default: AWS)"),
    *CREDENTIAL_SETTINGS,
    Setting(
        "INDEX_PREFIXES",
        f"comma-separated prefixes to index (default {','.join(layout.DEFAULT_PREFIXES)})",
    ),
    Setting(
        "ALLOW_LIST_PREFIXES",
        "comma-separated prefixes that publish only allow-listed projects "
        f"(default {','.join(layout.DEFAULT_ALLOW_LIST_PREFIXES)}; none: no prefix)",
    ),
    Setting(
        "NIGHTLY_KEEP", f"versions kept per whl/nightly project (default {_DEFAULTS.nightly_keep})"
    ),
    Setting(
        "REQUIRES_PYTHON_OVERRIDES",
        "PATTERN=SPECIFIER;… Requires-Python forced on matching file names "
        "(default: networkx 3.3 and 3.4.2 need >=3.10)",
    ),
    Setting("FILE_BASE_URL", "host the files are served from (default: links are root-relative)"),
    Setting(
        "FILE_HOSTS",
        "comma-separated hosts that also serve the source's files: a page linking only there "
        "is rebuilt from the files, not kept as index-only "
        f"(default {','.join(DEFAULT_FILE_HOSTS)}; none: only FILE_BASE_URL's)",
    ),
    Setting(
        "INDEX_STOP_METADATA_AFTER_SECONDS",
        f"no HEAD/GET starts after this many seconds (default {_DEFAULTS.stop_metadata_after:g})",
    ),
    Setting(
        "MAX_SUBREQUESTS",
        f"subrequests per invocation (default {DEFAULT_MAX_SUBREQUESTS}; free plan: at most 50)",
    ),
    Setting("INDEX_RUN_TOKEN", "bearer token for POST /run and the full GET /status", secret=True),
)


@dataclass(frozen=True)
class IndexConfig:
    bucket: str
    region: str
    endpoint: str | None
    credentials: CredentialSettings
    build: BuildConfig
    run_token: str | None

    @classmethod
    def from_env(cls, env: EnvSource) -> IndexConfig:
        """Raises :class:`~flaresuite.errors.ConfigError` naming every misconfigured variable."""
        reader = EnvReader(env)
        bucket = reader.text("SOURCE_S3_BUCKET", required=True)
        endpoint = None
        raw_endpoint = reader.text("S3_ENDPOINT_URL")
        if raw_endpoint is not None:
            try:
                endpoint = check_endpoint(raw_endpoint)
            except ValueError:
                reader.problem(
                    "S3_ENDPOINT_URL", "must be an http(s) URL with a host and nothing after it"
                )
        prefixes = _prefixes(reader, "INDEX_PREFIXES", _DEFAULTS.prefixes)
        if not prefixes and reader.is_set("INDEX_PREFIXES"):
            reader.problem("INDEX_PREFIXES", "must name at least one prefix")
        build = replace(
            _DEFAULTS,
            prefixes=prefixes,
            allow_list_prefixes=frozenset(
                _prefixes(reader, "ALLOW_LIST_PREFIXES", layout.DEFAULT_ALLOW_LIST_PREFIXES)
            ),
            nightly_keep=reader.integer("NIGHTLY_KEEP", _DEFAULTS.nightly_keep, minimum=1),
            file_base_url=_base_url(reader),
            file_hosts=_file_hosts(reader),
            max_subrequests=reader.integer(
                "MAX_SUBREQUESTS", DEFAULT_MAX_SUBREQUESTS, minimum=10, maximum=1_000_000
            ),
        )
        overrides = reader.text("REQUIRES_PYTHON_OVERRIDES")
        if overrides is not None:
            try:
                build = replace(build, requires_python_overrides=parse_overrides(overrides))
            except ValueError as error:
                reader.problem("REQUIRES_PYTHON_OVERRIDES", str(error))
        if reader.is_set("INDEX_STOP_METADATA_AFTER_SECONDS"):
            stop = reader.number(
                "INDEX_STOP_METADATA_AFTER_SECONDS", build.stop_metadata_after, positive=True
            )
            build = replace(
                build,
                stop_metadata_after=stop,
                warn_after=(*(t for t in build.warn_after if t < stop), stop),
            )
        credentials = read_credentials(reader)
        run_token = reader.text("INDEX_RUN_TOKEN")
        reader.check()
        assert bucket is not None
        return cls(
            bucket=bucket,
            region=reader.text("SOURCE_S3_REGION") or "us-east-1",
            endpoint=endpoint,
            credentials=credentials,
            build=build,
            run_token=run_token,
        )


def _base_url(reader: EnvReader) -> str:
    text = reader.text("FILE_BASE_URL")
    if text is None:
        return ""
    try:
        return layout.parse_base_url(text)
    except ValueError:
        reader.problem(
            "FILE_BASE_URL", "must be an http(s) URL with a host, and no credentials or query"
        )
        return ""


def _file_hosts(reader: EnvReader) -> frozenset[str]:
    listed = reader.text("FILE_HOSTS")
    if listed is None:
        return _DEFAULTS.file_hosts
    if listed.lower() == "none":
        return frozenset()
    try:
        return frozenset(parse_host(host) for host in listed.split(","))
    except ValueError:
        reader.problem("FILE_HOSTS", "must be comma-separated host names like download.pytorch.org")
        return frozenset()


def _prefixes(reader: EnvReader, name: str, default: Sequence[str]) -> tuple[str, ...]:
    """A comma-separated prefix list (slashes around each trimmed, duplicates once); ``none``
    is the empty list, since a blank value means "unset" for every setting."""
    listed = reader.text(name)
    if listed is None:
        return tuple(default)
    if listed.lower() == "none":
        return ()
    try:
        return tuple(dict.fromkeys(layout.parse_prefix(p) for p in listed.split(",")))
    except ValueError:
        reader.problem(name, "must be comma-separated prefixes like whl/nightly")
        return ()
