"""SigV4 signing agrees with botocore's S3 signer byte for byte, and with AWS's own example."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from flaresuite.s3 import sigv4
from flaresuite.s3.addressing import request_url
from flaresuite.s3.credentials import Credentials

NOW = datetime(2026, 11, 23, 9, 30, 15, tzinfo=UTC)
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def botocore_headers(method, url, headers, body, credentials, region, *, sign_payload=True):
    """What botocore's S3 signer sends for the same request at the same instant."""
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    # Lets the payload be left unsigned the way boto3 does on TLS uploads.
    request.context["client_config"] = SimpleNamespace(s3={"payload_signing_enabled": sign_payload})
    signer = S3SigV4Auth(
        BotoCredentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ),
        "s3",
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def ours(method, url, headers, body, credentials, region, *, sign_payload=True):
    payload = hashlib.sha256(body).hexdigest() if sign_payload else sigv4.UNSIGNED_PAYLOAD
    return sigv4.sign(
        method=method,
        url=url,
        headers=headers,
        payload_sha256=payload,
        credentials=credentials,
        region=region,
        now=NOW,
    )


def test_the_signing_key_matches_the_aws_documentation_example():
    # "Examples of how to derive a signing key for Signature Version 4", IAM User Guide.
    key = sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_get_object_matches_the_s3_api_reference_example():
    # "Example: GET Object" in "Signature Calculations for the Authorization Header:
    # Transferring Payload in a Single Chunk", Amazon S3 API Reference.
    headers = sigv4.sign(
        method="GET",
        url="https://examplebucket.s3.amazonaws.com/test.txt",
        headers={"range": "bytes=0-9"},
        payload_sha256=sigv4.EMPTY_PAYLOAD_SHA256,
        credentials=Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.mark.parametrize(
    "key",
    [
        "plain.whl",
        "torch-2.5.0+cu124-cp311-linux_x86_64.whl",
        "a b/c d.txt",
        "ünï/cødé ✓.whl",
        "percent%2Bliteral",
        "tilde~and(parens)!*'",
        "nested//double/slash",
    ],
)
@pytest.mark.parametrize(
    "endpoint", [None, "http://127.0.0.1:9000", "https://acct.r2.cloudflarestorage.com"]
)
def test_object_requests_sign_like_botocore(key, endpoint):
    url = request_url("wheels", key, region="eu-west-1", endpoint=endpoint)
    headers = {"x-amz-checksum-mode": "ENABLED"}
    assert ours("HEAD", url, headers, b"", KEYS, "eu-west-1") == botocore_headers(
        "HEAD", url, headers, b"", KEYS, "eu-west-1"
    )


def test_uploads_with_metadata_checksums_and_a_session_token_sign_like_botocore():
    credentials = Credentials("ASIATEMP", "secret", session_token="token/with+chars==")
    body = b"\x00wheel bytes\xff"
    url = request_url(
        "wheels", "whl/x.whl", region="auto", endpoint="https://a.r2.cloudflarestorage.com"
    )
    headers = {
        "content-type": "application/zip",
        "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "x-amz-meta-checksum-sha256": "ab" * 32,
        "x-amz-meta-note": "  spaced   out  value ",
    }
    assert ours("PUT", url, headers, body, credentials, "auto") == botocore_headers(
        "PUT", url, headers, body, credentials, "auto"
    )


def test_an_unsigned_payload_signs_like_botocore():
    url = request_url("wheels", "big.bin", region="us-east-1", endpoint=None)
    signed = ours("PUT", url, {}, b"body", KEYS, "us-east-1", sign_payload=False)
    assert signed["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert signed == botocore_headers(
        "PUT", url, {}, b"body", KEYS, "us-east-1", sign_payload=False
    )


def test_the_query_string_is_encoded_per_rfc_3986_and_sorted():
    query = sigv4.canonical_query_string(
        [("prefix", "whl/a b+c"), ("list-type", "2"), ("uploads", ""), ("max-keys", "10")]
    )
    assert query == "list-type=2&max-keys=10&prefix=whl%2Fa%20b%2Bc&uploads="


def test_host_omits_default_ports_and_keeps_others():
    assert (
        sigv4.canonical_host("https://Bucket.S3.amazonaws.com:443/k") == "bucket.s3.amazonaws.com"
    )
    assert sigv4.canonical_host("http://127.0.0.1:5000/b/k") == "127.0.0.1:5000"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        sigv4.amz_date(datetime(2026, 1, 1))


object_keys = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
query_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    key=object_keys,
    params=st.lists(
        st.tuples(
            st.sampled_from(["prefix", "continuation-token", "max-keys", "x-id", "a b"]),
            query_values,
        ),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ),
    body=st.binary(max_size=64),
    method=st.sampled_from(["GET", "PUT", "HEAD", "POST", "DELETE"]),
    meta=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)
def test_any_key_and_query_signs_like_botocore(key, params, body, method, meta):
    url = request_url(
        "bucket-name", key, region="ap-south-1", endpoint="http://127.0.0.1:5000", query=params
    )
    headers = {"x-amz-meta-m": meta} if meta.strip() else {}
    assert ours(method, url, headers, body, KEYS, "ap-south-1") == botocore_headers(
        method, url, headers, body, KEYS, "ap-south-1"
    )
