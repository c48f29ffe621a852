"""moto's standalone S3 server on 127.0.0.1, with SigV4 signature checking and IAM policies
enforced.

With ``INITIAL_NO_AUTH_ACTION_COUNT=N`` moto leaves the first N AWS API calls unauthenticated.
We spend exactly seven of them on two IAM users and a role:

* ``flaresuite-tests``, whose key seeds and inspects buckets: ``s3:*``, and
  ``iam:PutRolePolicy`` on the role (moto has no ``AmazonS3FullAccess`` managed policy);
* ``flaresuite-index``, the index Worker's key when it assumes a role: allowed
  ``sts:AssumeRole`` on that role and nothing else, so an S3 request it signs is refused;
* the role ``flaresuite-index-reader``, trusted by ``flaresuite-index`` as
  ``docs/iam-trust-policy.json`` says, whose permissions are exactly ``docs/iam-policy.json``
  for the bucket a test names (:meth:`MotoS3.index_role`).

From then on every request's signature is verified (S3, STS and IAM alike), so a wrong secret
gets ``403 SignatureDoesNotMatch`` just as on AWS, and every action is checked against the
signer's policies (moto matches actions and resources; of conditions it evaluates only
``sts:ExternalId``, so the trust policy's session-name condition is left out here).

moto's ``/moto-api/reset`` would wipe the IAM users too, and the unauthenticated calls are
spent, so nothing could sign again. Tests therefore never reset: each one asks for a fresh,
uniquely named bucket (:meth:`MotoS3.new_bucket`), and :meth:`MotoS3.reset` empties and
deletes buckets through the S3 API, leaving the identities alone.
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
BOOTSTRAP_CALLS = 7
"""CreateUser, CreateAccessKey and PutUserPolicy for each of the two users, and CreateRole: the
calls made before auth switches on."""
ADMIN_USER = "flaresuite-tests"
INDEX_USER = "flaresuite-index"
"""The user ``docs/iam-trust-policy.json`` lets assume the role."""
ROLE_NAME = "flaresuite-index-reader"
STARTUP_TIMEOUT = 30.0
"""Seconds moto may take to import and bind (it imports every AWS service model)."""
DOCS = Path(__file__).resolve().parents[2] / "docs"
IAM_POLICY = DOCS / "iam-policy.json"
"""The index role's permissions as shipped, for ``SOURCE_S3_BUCKET``."""
TRUST_POLICY = DOCS / "iam-trust-policy.json"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust_policy(account: str) -> str:
    """The shipped trust policy for moto's account, without the condition moto cannot
    evaluate."""
    document = json.loads(TRUST_POLICY.read_text().replace("ACCOUNT_ID", account))
    for statement in document["Statement"]:
        statement.pop("Condition", None)
    return json.dumps(document)


def role_policy(bucket: str) -> str:
    """``docs/iam-policy.json`` for ``bucket``."""
    return IAM_POLICY.read_text().replace("SOURCE_S3_BUCKET", bucket)


@dataclass
class MotoS3:
    endpoint: str
    region: str
    credentials: Credentials
    """``flaresuite-tests``'s real access key: allowed ``s3:*`` on every bucket."""
    index_credentials: Credentials
    """``flaresuite-index``'s key: it may assume the index role, and has no S3 rights."""
    boto: object
    """A boto3 S3 client with :attr:`credentials`, to seed and inspect buckets independently
    of the client under test."""
    iam: object
    """A boto3 IAM client with :attr:`credentials` (it may set the index role's policy)."""
    role_arn: str
    """The index role: ``flaresuite-index`` may assume it; what it may read is set by
    :meth:`index_role`."""

    _names = itertools.count(1)

    def new_bucket(self, hint: str = "bucket") -> str:
        """Create a bucket no other test uses; its name starts with ``hint``."""
        name = f"{hint[:40].lower()}-{os.getpid()}-{next(self._names)}"
        self.boto.create_bucket(Bucket=name)
        return name

    def index_role(self, bucket: str) -> str:
        """Gives the index role exactly the shipped ``docs/iam-policy.json`` for ``bucket`` (and
        so no other bucket), and returns the role's ARN."""
        self.iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName="index-reader", PolicyDocument=role_policy(bucket)
        )
        return self.role_arn

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


def _bootstrap_identity(endpoint: str) -> tuple[Credentials, Credentials, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    admin = iam.create_user(UserName=ADMIN_USER)["User"]
    account = admin["Arn"].split(":")[4]
    role_arn = f"arn:aws:iam::{account}:role/{ROLE_NAME}"
    admin_key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    iam.put_user_policy(
        UserName=ADMIN_USER,
        PolicyName="seed-buckets",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": role_arn},
        ),
    )
    iam.create_user(UserName=INDEX_USER)
    index_key = iam.create_access_key(UserName=INDEX_USER)["AccessKey"]
    iam.put_user_policy(
        UserName=INDEX_USER,
        PolicyName="assume-the-index-role",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
        ),
    )
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=_trust_policy(account))
    return (
        Credentials(admin_key["AccessKeyId"], admin_key["SecretAccessKey"]),
        Credentials(index_key["AccessKeyId"], index_key["SecretAccessKey"]),
        role_arn,
    )


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
            credentials, index_credentials, role_arn = _bootstrap_identity(endpoint)
            signing = {
                "endpoint_url": endpoint,
                "region_name": REGION,
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
            }
            boto = boto3.client(
                "s3",
                **signing,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            )
            iam = boto3.client("iam", **signing)
            yield MotoS3(endpoint, REGION, credentials, index_credentials, boto, iam, role_arn)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
