"""Neither transport puts a credential from a URL into its errors: the CLI's httpx transport
here, the Worker's fetch in tests/lane/test_cfbindings.py."""

from __future__ import annotations

import socket

import pytest

from flaresuite.http import HttpRequest, TransportError
from flaresuite_host.transport import httpx_fetch


async def test_a_transport_error_shows_the_url_without_query_or_userinfo():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://user:pa55@127.0.0.1:{port}/export?apikey=k3y"
    async with httpx_fetch() as fetch:
        with pytest.raises(TransportError) as failure:
            await fetch(HttpRequest("GET", url))
    message = str(failure.value)
    assert f"http://127.0.0.1:{port}/export?[redacted]" in message
    assert "k3y" not in message and "pa55" not in message
