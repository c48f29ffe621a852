"""Temporary credentials from an IAM role, through STS ``AssumeRole``.

With ``AWS_ROLE_ARN`` set, the configured key pair is used for one thing only: a SigV4-signed
``AssumeRole`` call (STS API Reference, "AssumeRole"; service ``sts``, form-encoded POST,
``Version=2011-06-15``). Its answer, a key pair plus a session token that expire, signs every
S3 request. The answer is cached until :data:`REFRESH_BEFORE` seconds before it expires, so a
run of thousands of requests assumes the role once, and a long run renews it in time.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from urllib.parse import urlencode

from flaresuite.http import HttpFetch, HttpRequest, HttpResponse
from flaresuite.ports import Clock, SystemClock
from flaresuite.retry import Again, Retrier, RetryPolicy
from flaresuite.s3 import responses, sigv4
from flaresuite.s3.credentials import Credentials, CredentialSettings, CredentialSource
from flaresuite.s3.errors import S3Error

API_VERSION = "2011-06-15"
DURATION_SECONDS = 3600
"""How long an assumed role's credentials are asked to last (STS allows 900 to the role's
maximum session duration, 1 h by default)."""
REFRESH_BEFORE = 300.0
"""Seconds before expiry at which cached credentials are renewed: one S3 request never starts
with credentials that could expire while it is retried."""


class AssumedRole:
    """A :class:`~flaresuite.s3.credentials.CredentialSource` for one IAM role."""

    def __init__(
        self,
        fetch: HttpFetch,
        *,
        base: Credentials,
        role_arn: str,
        session_name: str,
        region: str,
        endpoint: str | None = None,
        clock: Clock | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        self._fetch = fetch
        self._base = base
        self.role_arn = role_arn
        self._session_name = session_name
        self._region = "us-east-1" if region in ("", "auto") else region
        self._endpoint = (endpoint or f"https://sts.{self._region}.amazonaws.com").rstrip("/")
        self._clock = clock or SystemClock()
        self._retrier = retrier or Retrier(RetryPolicy(attempts=3), clock=self._clock)
        self._cached: Credentials | None = None
        self._renewing: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"AssumedRole({self.role_arn!r}, as {self._base.access_key_id!r})"

    async def credentials(self) -> Credentials:
        if self._fresh():
            assert self._cached is not None
            return self._cached
        # Many requests may find the cache stale at once; one AssumeRole serves them all.
        self._renewing = self._renewing or asyncio.Lock()
        async with self._renewing:
            if not self._fresh():
                self._cached = await self._assume()
        assert self._cached is not None
        return self._cached

    def _fresh(self) -> bool:
        cached = self._cached
        return (
            cached is not None
            and cached.expires_at is not None
            and cached.expires_at - REFRESH_BEFORE > self._clock.now()
        )

    async def _assume(self) -> Credentials:
        body = urlencode(
            {
                "Action": "AssumeRole",
                "Version": API_VERSION,
                "RoleArn": self.role_arn,
                "RoleSessionName": self._session_name,
                "DurationSeconds": str(DURATION_SECONDS),
            }
        ).encode("ascii")
        url = self._endpoint + "/"
        payload_sha256 = hashlib.sha256(body).hexdigest()

        async def attempt() -> HttpResponse:
            headers = sigv4.sign(
                method="POST",
                url=url,
                headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
                payload_sha256=payload_sha256,
                credentials=self._base,
                region=self._region,
                now=datetime.fromtimestamp(self._clock.now(), UTC),
                service="sts",
            )
            return await self._fetch(HttpRequest("POST", url, headers, body))

        def classify(response: HttpResponse) -> Again | None:
            return Again() if response.status >= 500 or response.status == 429 else None

        outcome = await self._retrier.run(attempt, classify)
        response = outcome.value
        if not response.ok:
            error = _parse_sts_error(response)
            raise S3Error(
                response.status,
                error.code,
                error.message,
                error.request_id,
                operation="AssumeRole",
                bucket=self.role_arn,
                attempts=outcome.attempts,
            )
        try:
            return _parse_credentials(response.body)
        except responses.MalformedResponse as malformed:
            raise S3Error(
                response.status,
                "MalformedResponse",
                str(malformed),
                response.header("x-amzn-requestid"),
                operation="AssumeRole",
                bucket=self.role_arn,
            ) from None


def credential_source(
    settings: CredentialSettings,
    *,
    fetch: HttpFetch,
    region: str,
    clock: Clock | None = None,
) -> Credentials | CredentialSource | None:
    """What an :class:`~flaresuite.s3.client.S3Client` signs with, as ``settings`` ask."""
    if settings.role_arn is None or settings.keys is None:
        return settings.keys
    return AssumedRole(
        fetch,
        base=settings.keys,
        role_arn=settings.role_arn,
        session_name=settings.session_name,
        region=region,
        endpoint=settings.sts_endpoint,
        clock=clock,
    )


def _parse_credentials(body: bytes) -> Credentials:
    root = responses.parse_document(body)
    result = next(responses.children(root, "AssumeRoleResult"), None)
    found = None if result is None else next(responses.children(result, "Credentials"), None)
    local = responses.local_name(root)
    if local != "AssumeRoleResponse" or found is None:
        raise responses.MalformedResponse(
            f"expected <AssumeRoleResponse> with credentials, got <{local}>"
        )
    expiration = responses.parse_timestamp(responses.required_text(found, "Expiration"))
    return Credentials(
        access_key_id=responses.required_text(found, "AccessKeyId"),
        secret_access_key=responses.required_text(found, "SecretAccessKey"),
        session_token=responses.required_text(found, "SessionToken"),
        expires_at=expiration.timestamp(),
    )


def _parse_sts_error(response: HttpResponse) -> responses.ErrorDocument:
    """STS wraps S3's ``<Error>`` in ``<ErrorResponse>``."""
    try:
        root = responses.parse_document(response.body)
    except responses.MalformedResponse:
        return responses.parse_error(response)
    error = next(responses.children(root, "Error"), None)
    if error is None:
        return responses.parse_error(response)
    return responses.ErrorDocument(
        code=responses.child_text(error, "Code") or "UnknownError",
        message=responses.child_text(error, "Message") or "",
        request_id=responses.child_text(root, "RequestId"),
    )
