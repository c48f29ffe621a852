"""What error messages and logs may show of URLs and of refused values."""

from __future__ import annotations

import pytest

from flaresuite.redact import REDACTED, describe_rejected, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://cms.example/export?apikey=abc123&page=2",
            f"https://cms.example/export?{REDACTED}",
        ),
        ("https://user:pa55@cms.example:8443/x#frag", "https://cms.example:8443/x"),
        ("http://[::1]:9000/path?token=t", f"http://[::1]:9000/path?{REDACTED}"),
        (
            "https://glean.example/api/index/v1/indexdocuments",
            "https://glean.example/api/index/v1/indexdocuments",
        ),
        ("https://h:99999/x", REDACTED),
        ("not a url?token=t", REDACTED),
        ("user:pw@host/path", REDACTED),
    ],
)
def test_urls_keep_scheme_host_port_and_path_only(url, shown):
    assert redact_url(url) == shown
    for secret in ("abc123", "pa55", "token=t", "pw"):
        assert secret not in redact_url(url)


def test_a_refused_value_is_described_by_type_and_size_only():
    token = "Bearer " + "x" * 40
    assert describe_rejected(token) == "<str, 47 chars>"
    assert describe_rejected(token.encode()) == "<bytes, 47 bytes>"
    assert describe_rejected(12) == "<int>"
