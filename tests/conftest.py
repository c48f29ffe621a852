"""Fixtures shared by every area's tests."""

from __future__ import annotations

import pytest

from tests.support.moto_server import MotoS3, moto_s3_server


@pytest.fixture(scope="session")
def moto_s3() -> MotoS3:
    """moto's S3 server on 127.0.0.1 with SigV4 signature checking on, one per session.

    It yields ``endpoint``, ``region``, ``credentials`` (a real key of an IAM user allowed
    ``s3:*``), ``boto`` (a boto3 S3 client for seeding) and ``new_bucket()``. Tests isolate
    themselves by creating their own bucket rather than resetting the server.
    """
    with moto_s3_server() as server:
        yield server
