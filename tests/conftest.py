"""Fixtures shared by every area's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.moto_server import MotoS3, moto_s3_server

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@pytest.fixture(scope="session", autouse=True)
def loopback_bypasses_proxies() -> Iterator[None]:
    """Tests talk only to servers on loopback. A proxy set in the environment (``HTTP_PROXY``,
    as machines that reach package registries through one have) would otherwise intercept
    them: httpx, botocore and urllib all honour it, and all honour ``NO_PROXY``, which
    subprocesses such as moto's server inherit too."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("NO_PROXY", "no_proxy"):
            hosts = [host for host in os.environ.get(name, "").split(",") if host.strip()]
            patch.setenv(name, ",".join([*hosts, *LOOPBACK_HOSTS]))
        yield


class Sleeps(list):
    """An injected ``sleep`` that returns at once and remembers each requested wait, so
    retry tests check backoff without waiting it out."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(scope="session")
def moto_s3() -> MotoS3:
    """moto's S3 server on 127.0.0.1 with SigV4 signature checking on, one per session.

    It yields ``endpoint``, ``region``, ``credentials`` (a real key of an IAM user allowed
    ``s3:*``), ``boto`` (a boto3 S3 client for seeding) and ``new_bucket()``. Tests isolate
    themselves by creating their own bucket rather than resetting the server.
    """
    with moto_s3_server() as server:
        yield server
