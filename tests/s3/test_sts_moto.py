"""Assuming an IAM role through STS, against moto with signature checking and IAM policies on:
the key pair (a user allowed nothing but ``sts:AssumeRole``) is used only to sign
``AssumeRole``, the temporary credentials (with their session token) sign every S3 request
with the role's permissions (the shipped ``docs/iam-policy.json``), and they are reused until
shortly before they expire."""

from __future__ import annotations

import time

import pytest

from flaresuite.config import EnvReader
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.s3 import Credentials, S3Client, S3Error
from flaresuite.s3.credentials import read_credentials
from flaresuite.s3.sts import REFRESH_BEFORE, AssumedRole, credential_source
from flaresuite_host.transport import httpx_fetch

pytestmark = pytest.mark.moto


class Recording:
    """An HttpFetch that remembers every request before passing it on."""

    def __init__(self, fetch) -> None:
        self.fetch = fetch
        self.requests: list[HttpRequest] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return await self.fetch(request)

    def count(self, predicate) -> int:
        return sum(1 for request in self.requests if predicate(request))


class Clock:
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


@pytest.fixture
async def recording():
    async with httpx_fetch() as fetch:
        yield Recording(fetch)


def is_assume_role(request: HttpRequest) -> bool:
    return request.method == "POST" and b"Action=AssumeRole" in request.body


def role(moto_s3, fetch, bucket="none", **kwargs) -> AssumedRole:
    return AssumedRole(
        fetch,
        base=moto_s3.index_credentials,
        role_arn=moto_s3.index_role(bucket),
        session_name="flaresuite-test",
        region=moto_s3.region,
        endpoint=moto_s3.endpoint,
        **kwargs,
    )


async def test_s3_requests_are_signed_with_the_assumed_roles_session(moto_s3, recording):
    bucket = moto_s3.new_bucket("assumed")
    moto_s3.boto.put_object(Bucket=bucket, Key="whl/a-1.0-py3-none-any.whl", Body=b"x")
    s3 = S3Client(
        recording,
        region=moto_s3.region,
        endpoint=moto_s3.endpoint,
        credentials=role(moto_s3, recording, bucket),
    )

    listed = [obj.key async for obj in s3.list_objects(bucket, "whl/")]
    head = await s3.head_object(bucket, "whl/a-1.0-py3-none-any.whl")

    assert listed == ["whl/a-1.0-py3-none-any.whl"] and head is not None
    s3_requests = [r for r in recording.requests if not is_assume_role(r)]
    assert recording.count(is_assume_role) == 1
    assert all("x-amz-security-token" in r.headers for r in s3_requests)
    assert all(
        moto_s3.index_credentials.access_key_id not in r.headers["authorization"]
        for r in s3_requests
    )


async def test_the_base_key_alone_may_not_read_and_the_role_reads_only_its_bucket(
    moto_s3, recording
):
    """What makes the tests above meaningful: moto enforces the policies, so an S3 request
    signed with the base key, or one the role's policy does not cover, is refused."""
    mine, other = moto_s3.new_bucket("role-mine"), moto_s3.new_bucket("role-other")
    for bucket in (mine, other):
        moto_s3.boto.put_object(Bucket=bucket, Key="whl/a-1.0-py3-none-any.whl", Body=b"x")

    def client(credentials) -> S3Client:
        return S3Client(
            recording, region=moto_s3.region, endpoint=moto_s3.endpoint, credentials=credentials
        )

    with pytest.raises(S3Error) as refused:
        await client(moto_s3.index_credentials).head_object(mine, "whl/a-1.0-py3-none-any.whl")
    assert refused.value.status == 403

    assumed = client(role(moto_s3, recording, mine))
    assert await assumed.head_object(mine, "whl/a-1.0-py3-none-any.whl") is not None
    with pytest.raises(S3Error) as elsewhere:
        await assumed.head_object(other, "whl/a-1.0-py3-none-any.whl")
    assert elsewhere.value.status == 403
    with pytest.raises(S3Error) as writing:
        await assumed.put_object(mine, "whl/index.html", b"<html>")
    assert writing.value.status == 403


async def test_credentials_are_reused_until_shortly_before_they_expire(moto_s3, recording):
    source = role(moto_s3, recording, clock=(clock := Clock(time.time())))
    first = await source.credentials()
    clock.at = first.expires_at - REFRESH_BEFORE - 1
    assert await source.credentials() is first
    clock.at = first.expires_at - REFRESH_BEFORE + 1
    renewed = await source.credentials()

    assert renewed is not first
    assert recording.count(is_assume_role) == 2


async def test_a_wrong_base_secret_fails_assume_role_with_signature_does_not_match(
    moto_s3, recording
):
    wrong = Credentials(moto_s3.index_credentials.access_key_id, "not-the-secret")
    source = AssumedRole(
        recording,
        base=wrong,
        role_arn=moto_s3.role_arn,
        session_name="flaresuite-test",
        region=moto_s3.region,
        endpoint=moto_s3.endpoint,
    )
    with pytest.raises(S3Error) as refused:
        await source.credentials()

    assert refused.value.operation == "AssumeRole"
    assert refused.value.status == 403
    assert "not-the-secret" not in str(refused.value)


async def test_settings_with_a_role_give_an_assumed_role_source(moto_s3, recording):
    reader = EnvReader(
        {
            "S3_ACCESS_KEY_ID": moto_s3.index_credentials.access_key_id,
            "S3_SECRET_ACCESS_KEY": moto_s3.index_credentials.secret_access_key,
            "AWS_ROLE_ARN": moto_s3.role_arn,
            "STS_ENDPOINT_URL": moto_s3.endpoint,
        }
    )
    settings = read_credentials(reader)
    reader.check()

    source = credential_source(settings, fetch=recording, region=moto_s3.region)

    assert isinstance(source, AssumedRole)
    assert (await source.credentials()).session_token
