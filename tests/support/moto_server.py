"""moto's standalone S3 server on 127.0.0.1, with SigV4 signature checking on.

With ``INITIAL_NO_AUTH_ACTION_COUNT=N`` moto leaves the first N AWS API calls unauthenticated.
We spend exactly five of them: an IAM user, its access key and an inline policy allowing
``s3:*`` and ``sts:AssumeRole`` (moto has no ``AmazonS3FullAccess`` managed policy), and a role
with its own ``s3:*`` policy for the STS tests. From then on every request's signature is
verified (S3 and STS alike), so a wrong secret gets ``403 SignatureDoesNotMatch`` just as on
AWS.

moto's ``/moto-api/reset`` would wipe the IAM user too, and the unauthenticated calls are
spent, so nothing could sign again. Tests therefore never reset: each one asks for a fresh,
uniquely named bucket (:meth:`MotoS3.new_bucket`), and :meth:`MotoS3.reset` empties and
deletes buckets through the S3 API, leaving the identity alone.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from flaresuite.s3.credentials import Credentials

REGION = "us-east-1"
BOOTSTRAP_CALLS = 5
"""CreateUser, CreateAccessKey, PutUserPolicy, CreateRole, PutRolePolicy: the calls made before
auth switches on."""
ROLE_NAME = "flaresuite-index-reader"
STARTUP_TIMEOUT = 30.0
"""Seconds moto may take to import and bind (it imports every AWS service model)."""
_S3_FULL_ACCESS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)
_USER_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        ],
    }
)
_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


@dataclass
class MotoS3:
    endpoint: str
    region: str
    credentials: Credentials
    """The IAM user's real access key: requests signed with it are allowed."""
    role_arn: str
    """A role that key may assume (STS AssumeRole); the role itself is allowed ``s3:*``."""
    boto: object
    """A boto3 S3 client with the same key, to seed and inspect buckets independently of
    the client under test."""

    _names = itertools.count(1)

    def new_bucket(self, hint: str = "bucket") -> str:
        """Create a bucket no other test uses; its name starts with ``hint``."""
        name = f"{hint[:40].lower()}-{os.getpid()}-{next(self._names)}"
        self.boto.create_bucket(Bucket=name)
        return name

    def reset(self) -> None:
        """Empty and delete every bucket (the IAM identity survives, unlike with
        ``/moto-api/reset``)."""
        for bucket in self.boto.list_buckets()["Buckets"]:
            name = bucket["Name"]
            for page in self.boto.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.boto.delete_objects(Bucket=name, Delete={"Objects": keys})
            uploads = self.boto.list_multipart_uploads(Bucket=name).get("Uploads", [])
            for upload in uploads:
                self.boto.abort_multipart_upload(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            self.boto.delete_bucket(Bucket=name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(endpoint: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"moto_server exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            # /moto-api/ is moto's own dashboard: it does not count as an AWS API call, so it
            # spends none of the unauthenticated bootstrap calls.
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(
        f"moto_server did not answer within {STARTUP_TIMEOUT}s:\n{log.read_text(errors='replace')}"
    )


def _bootstrap_identity(endpoint: str) -> tuple[Credentials, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="flaresuite-tests")
    key = iam.create_access_key(UserName="flaresuite-tests")["AccessKey"]
    iam.put_user_policy(
        UserName="flaresuite-tests", PolicyName="s3-and-assume-role", PolicyDocument=_USER_POLICY
    )
    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=_TRUST_POLICY)["Role"]
    iam.put_role_policy(
        RoleName=ROLE_NAME, PolicyName="s3-full-access", PolicyDocument=_S3_FULL_ACCESS
    )
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"]), role["Arn"]


@contextmanager
def moto_s3_server() -> Iterator[MotoS3]:
    """Run ``moto_server`` from this virtualenv on a free loopback port until the block ends."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto_server = Path(sys.executable).with_name("moto_server")
    # Proxies are bypassed for loopback by tests/conftest.py, in this process and so in moto's.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS)}
    with tempfile.NamedTemporaryFile("w+b", prefix="moto-", suffix=".log") as log:
        process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait_until_ready(endpoint, process, Path(log.name))
            credentials, role_arn = _bootstrap_identity(endpoint)
            boto = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            )
            yield MotoS3(endpoint, REGION, credentials, role_arn, boto)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
