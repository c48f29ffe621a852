"""The index Worker's configuration, read from its vars and secrets.

Vars (``wrangler.toml``): ``SOURCE_S3_BUCKET``, ``SOURCE_S3_REGION``, optional
``S3_ENDPOINT_URL``, ``INDEX_PREFIXES`` (comma-separated), ``NIGHTLY_KEEP``,
``INDEX_STOP_METADATA_AFTER_SECONDS``. Secrets: ``S3_ACCESS_KEY_ID`` and
``S3_SECRET_ACCESS_KEY`` (both or neither), ``INDEX_RUN_TOKEN`` (enables ``POST /run``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flaresuite.config import EnvReader, EnvSource
from flaresuite.index.builder import BuildConfig
from flaresuite.index.layout import parse_prefix
from flaresuite.s3.addressing import check_endpoint
from flaresuite.s3.credentials import CredentialSettings, read_credentials

VARIABLES = (
    "SOURCE_S3_BUCKET",
    "SOURCE_S3_REGION",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "STS_ENDPOINT_URL",
    "INDEX_PREFIXES",
    "NIGHTLY_KEEP",
    "INDEX_STOP_METADATA_AFTER_SECONDS",
    "INDEX_RUN_TOKEN",
)
"""Every name the Worker reads; the entry module copies exactly these out of ``env``."""


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
        build = BuildConfig()
        listed = reader.text("INDEX_PREFIXES")
        if listed is not None:
            try:
                prefixes = tuple(dict.fromkeys(parse_prefix(p) for p in listed.split(",")))
            except ValueError:
                reader.problem(
                    "INDEX_PREFIXES", "must be comma-separated prefixes like whl/nightly"
                )
            else:
                build = replace(build, prefixes=prefixes)
        build = replace(
            build, nightly_keep=reader.integer("NIGHTLY_KEEP", build.nightly_keep, minimum=1)
        )
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
