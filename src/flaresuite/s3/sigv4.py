"""AWS Signature Version 4 for S3 requests signed in the ``Authorization`` header.

Follows "Signature Calculations for the Authorization Header: Transferring Payload in a
Single Chunk (AWS Signature Version 4)" in the Amazon S3 API Reference
(https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html) and the
general "Create a signed AWS API request" guide
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):

1. a *canonical request* (method, URI, query, headers, signed header names, payload hash);
2. a *string to sign* (algorithm, timestamp, credential scope, hash of the canonical request);
3. a *signing key* derived from the secret by HMAC over date, region, service;
4. the ``Authorization`` header carrying the hex HMAC of the string to sign.

Two S3 particularities matter: the canonical URI is the path exactly as sent (S3 neither
normalises it nor double-encodes it, unlike other services), and ``x-amz-content-sha256``
is mandatory: the hex sha256 of the body, or ``UNSIGNED-PAYLOAD``.

Everything here is a pure function of its arguments, so the same request always gets the
same signature and tests can compare it with botocore's signer byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from flaresuite.s3.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
"""The ``x-amz-content-sha256`` value that leaves the body out of the signature."""
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()

_DEFAULT_PORTS = {"http": 80, "https": 443}


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """Percent-encode ``value`` as SigV4's ``UriEncode()`` does.

    Every byte of the UTF-8 encoding except the RFC 3986 unreserved characters
    (``A-Z a-z 0-9 - . _ ~``) becomes ``%XY`` with upper-case hex, so a space is ``%20``
    (never ``+``) and ``+`` is ``%2B``. Object key paths keep ``/`` (``keep_slash``); query
    names and values encode it.
    """
    return quote(value, safe="/" if keep_slash else "", encoding="utf-8", errors="strict")


def canonical_query_string(params: Iterable[tuple[str, str]]) -> str:
    """``name=value`` pairs, each side :func:`uri_encode`-d, sorted by encoded name and then
    value, joined with ``&``. A parameter without a value (``?uploads``) is ``uploads=``.

    The client sends exactly this string as the URL's query, so what S3 canonicalises from
    the wire is what was signed.
    """
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_host(url: str) -> str:
    """The ``host`` header an HTTP client sends for ``url``: lower case, port only when it is
    not the scheme's default (RFC 9110 section 7.2)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The canonical headers block and the ``SignedHeaders`` list.

    Names are lower-cased and sorted; values lose leading and trailing whitespace and have
    inner runs of whitespace collapsed to one space (the spec's ``Trimall``). The block ends
    with a newline after the last header, as the canonical request requires.
    """
    normalised = sorted(
        (name.lower().strip(), " ".join(value.split())) for name, value in headers.items()
    )
    block = "".join(f"{name}:{value}\n" for name, value in normalised)
    signed = ";".join(name for name, _ in normalised)
    return block, signed


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_sha256: str
) -> str:
    """``Method \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n
    HashedPayload``. ``path`` is the already-encoded URL path (``/`` when empty)."""
    block, signed = canonical_headers(headers)
    return "\n".join((method.upper(), path or "/", query, block, signed, payload_sha256))


def credential_scope(date: str, region: str, service: str = SERVICE) -> str:
    """``YYYYMMDD/region/service/aws4_request``."""
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    """``AWS4-HMAC-SHA256 \\n timestamp \\n scope \\n hex(sha256(canonical request))``."""
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret_access_key: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``."""
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def amz_date(moment: datetime) -> str:
    """The ISO 8601 basic timestamp of ``x-amz-date`` (``20130524T000000Z``), in UTC."""
    if moment.tzinfo is None:
        raise ValueError("a SigV4 timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: Credentials,
    region: str,
    now: datetime,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers to send for a signed request: ``headers`` plus ``x-amz-date``,
    ``x-amz-content-sha256``, ``x-amz-security-token`` (temporary credentials) and
    ``Authorization``.

    ``url`` must carry its query already canonical (see :func:`canonical_query_string`) and
    its path already encoded. Every header passed in is signed, together with ``host``,
    which is derived from ``url`` and deliberately not returned: HTTP clients (httpx, the
    Workers ``fetch``) set it themselves from the URL and some refuse an explicit one.
    ``payload_sha256`` is the hex sha256 of the body or :data:`UNSIGNED_PAYLOAD`.
    """
    timestamp = amz_date(now)
    date = timestamp[:8]
    parts = urlsplit(url)
    outgoing = {name.lower(): value for name, value in headers.items()}
    outgoing["x-amz-date"] = timestamp
    outgoing["x-amz-content-sha256"] = payload_sha256
    if credentials.session_token:
        outgoing["x-amz-security-token"] = credentials.session_token
    signed_headers = {**outgoing, "host": canonical_host(url)}
    request = canonical_request(method, parts.path, parts.query, signed_headers, payload_sha256)
    scope = credential_scope(date, region, service)
    key = signing_key(credentials.secret_access_key, date, region, service)
    signature = hmac.new(
        key, string_to_sign(timestamp, scope, request).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    _, signed_names = canonical_headers(signed_headers)
    outgoing["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return outgoing
