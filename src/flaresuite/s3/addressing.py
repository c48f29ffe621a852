"""Where an S3 request goes: virtual-hosted style on AWS, path style on custom endpoints.

AWS recommends virtual-hosted style (``https://<bucket>.s3.<region>.amazonaws.com/<key>``,
see "Virtual hosting of buckets" in the S3 User Guide). S3-compatible services reached
through an explicit endpoint (Cloudflare R2 at ``https://<account>.r2.cloudflarestorage.com``,
moto, MinIO) are addressed path style (``<endpoint>/<bucket>/<key>``), which they all
accept. On AWS a bucket whose name is not a plain DNS label (it contains dots, say) falls
back to path style too, because ``a.b.s3...`` would not match the ``*.s3...`` TLS
certificate.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flaresuite.s3.sigv4 import canonical_query_string, uri_encode

_DNS_LABEL_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def aws_endpoint(region: str) -> str:
    """The regional endpoint of S3 on AWS (every region, us-east-1 included, has one)."""
    return f"https://s3.{region}.amazonaws.com"


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` without a trailing slash, after checking it is an absolute http(s) URL
    with no query or fragment, so that a typo fails at configuration time."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"S3 endpoint must be an http:// or https:// URL, got {endpoint!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"S3 endpoint must not have a query or fragment, got {endpoint!r}")
    return endpoint.rstrip("/")


def request_url(
    bucket: str,
    key: str | None,
    *,
    region: str,
    endpoint: str | None,
    query: list[tuple[str, str]] | tuple[()] = (),
) -> str:
    """The URL of ``bucket`` (``key`` is ``None``) or of one of its objects.

    The key is percent-encoded segment by segment (``/`` kept), and the query is already
    in SigV4 canonical form, so the signer can sign the URL exactly as it will be sent.
    """
    if not bucket:
        raise ValueError("S3 bucket name must not be empty")
    path = "" if key is None else "/" + uri_encode(key, keep_slash=True)
    if endpoint is None and _DNS_LABEL_BUCKET.fullmatch(bucket):
        base = f"https://{bucket}.s3.{region}.amazonaws.com"
        path = path or "/"
    else:
        base = f"{endpoint or aws_endpoint(region)}/{uri_encode(bucket)}"
    url = base + path
    if query:
        url += "?" + canonical_query_string(query)
    return url
