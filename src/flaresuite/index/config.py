"""The index Worker's configuration, read from its vars and secrets.

Vars (``wrangler.toml``): ``SOURCE_S3_BUCKET``, ``SOURCE_S3_REGION``, optional
``S3_ENDPOINT_URL``, ``INDEX_PREFIXES`` (comma-separated), ``NIGHTLY_KEEP``,
``INDEX_STOP_METADATA_AFTER_SECONDS``. Secrets: ``S3_ACCESS_KEY_ID`` and
``S3_SECRET_ACCESS_KEY`` (both or neither), ``INDEX_RUN_TOKEN`` (enables ``POST /run``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from flaresuite.errors import ConfigError
from flaresuite.index.builder import BuildConfig
from flaresuite.index.layout import parse_prefix
from flaresuite.s3.addressing import check_endpoint
from flaresuite.s3.client import Credentials

VARIABLES = (
    "SOURCE_S3_BUCKET",
    "SOURCE_S3_REGION",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_SESSION_TOKEN",
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
    credentials: Credentials | None
    build: BuildConfig
    run_token: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> IndexConfig:
        values = {name: (env.get(name) or "").strip() for name in VARIABLES}
        bucket = values["SOURCE_S3_BUCKET"]
        if not bucket:
            raise ConfigError("SOURCE_S3_BUCKET is not set: name the S3 bucket to index")
        endpoint = None
        if values["S3_ENDPOINT_URL"]:
            try:
                endpoint = check_endpoint(values["S3_ENDPOINT_URL"])
            except ValueError as error:
                raise ConfigError(f"S3_ENDPOINT_URL: {error}") from None
        build = BuildConfig()
        if values["INDEX_PREFIXES"]:
            try:
                prefixes = tuple(parse_prefix(p) for p in values["INDEX_PREFIXES"].split(","))
            except ValueError as error:
                raise ConfigError(f"INDEX_PREFIXES: {error}") from None
            build = replace(build, prefixes=tuple(dict.fromkeys(prefixes)))
        if values["NIGHTLY_KEEP"]:
            build = replace(build, nightly_keep=_positive("NIGHTLY_KEEP", values, int))
        if values["INDEX_STOP_METADATA_AFTER_SECONDS"]:
            stop = _positive("INDEX_STOP_METADATA_AFTER_SECONDS", values, float)
            build = replace(build, stop_metadata_after=stop,
                            warn_after=tuple(t for t in build.warn_after if t < stop) + (stop,))
        return cls(
            bucket=bucket,
            region=values["SOURCE_S3_REGION"] or "us-east-1",
            endpoint=endpoint,
            credentials=Credentials.from_env(values),
            build=build,
            run_token=values["INDEX_RUN_TOKEN"] or None,
        )


def _positive(name: str, values: Mapping[str, str], kind: type) -> int | float:
    try:
        value = kind(values[name])
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, got {values[name]!r}") from None
    # "nan" parses as a float and compares false with everything: it would defer every run.
    if not (0 < value < math.inf):
        raise ConfigError(f"{name} must be a positive number, got {values[name]!r}")
    return value
