"""``flaresuite swarm``: bad command-line input exits 2 with a message; so does a device or an
owner's call the coordinator refuses. A coordinator that cannot be reached, fails or answers
garbage is a runtime failure: exit 1 (CONTRIBUTING.md, "Bad input changes nothing")."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from werkzeug import Response

from flaresuite_host.cli import main

from .live import ADMIN, invite


@pytest.mark.parametrize(
    "argv",
    [
        ["swarm", "invite", "--swarm", "bad id"],
        ["swarm", "device", "--swarm", "lab", "--count", "0"],
        ["swarm", "device", "--swarm", "lab", "--failure-rate", "2"],
        ["swarm", "submit", "--swarm", "lab", "--kind", "NOPE"],
        ["swarm", "serve", "--port", "70000"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err


def test_serve_needs_the_admin_token(monkeypatch, capsys):
    monkeypatch.delenv("SWARM_ADMIN_TOKEN", raising=False)
    assert main(["swarm", "serve", "--port", "0"]) == 2
    assert "SWARM_ADMIN_TOKEN" in capsys.readouterr().err


def test_device_needs_a_token(monkeypatch, capsys):
    monkeypatch.delenv("SWARM_INVITE_TOKEN", raising=False)
    assert main(["swarm", "device", "--swarm", "lab"]) == 2
    assert "SWARM_INVITE_TOKEN" in capsys.readouterr().err


async def test_devices_refused_by_a_single_use_invite_exit_2(served, capsys):
    _, owner, _ = served
    single = await invite(owner, "lab", multi_use=False)
    argv = ["swarm", "device", "--url", str(owner.base_url), "--swarm", "lab"]
    status = await asyncio.to_thread(
        main, [*argv, f"--token={single}", "--count", "3", "--duration", "3"]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "2 of 3 devices were refused" in err and "--multi-use" in err


async def test_invite_prints_a_code_and_writes_its_qr_code(served, capsys, monkeypatch, tmp_path):
    _, owner, _ = served
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", ADMIN)
    qr = tmp_path / "join.svg"
    argv = ["swarm", "invite", "--url", str(owner.base_url), "--swarm", "lab", "--multi-use"]
    status = await asyncio.to_thread(main, [*argv, "--code", "--length", "6", "--qr", str(qr)])
    assert status == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["code"] is True and len(issued["token"]) == 6 and "qrSvg" not in issued
    assert qr.read_text().startswith("<svg")
    assert await asyncio.to_thread(main, [*argv, "--length", "6"]) == 2


async def test_control_pauses_a_swarm(served, capsys, monkeypatch):
    _, owner, _ = served
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", ADMIN)
    argv = ["swarm", "control", "--url", str(owner.base_url), "--swarm", "lab"]
    assert await asyncio.to_thread(main, [*argv, "--run-state", "PAUSED"]) == 0
    assert json.loads(capsys.readouterr().out)["runState"] == "PAUSED"
    assert await asyncio.to_thread(main, [*argv, "--throttle", "5"]) == 2
    assert await asyncio.to_thread(main, argv) == 2


async def test_an_unwritable_qr_file_exits_2_and_still_prints_the_invite(
    served, capsys, monkeypatch, tmp_path
):
    _, owner, _ = served
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", ADMIN)
    argv = ["swarm", "invite", "--url", str(owner.base_url), "--swarm", "lab", "--code"]
    status = await asyncio.to_thread(main, [*argv, "--qr", str(tmp_path / "missing" / "q.svg")])
    assert status == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["code"] is True, "the invite was issued: it is not lost"
    assert "cannot write" in err


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Response('{"error": "wrong bearer token"}', 401, content_type="application/json"), 2),
        (Response('{"error": "throttle must be 10-100"}', 400, content_type="application/json"), 2),
        (Response('{"error": "misconfigured"}', 503, content_type="application/json"), 1),
        (Response("Internal Server Error", 500, content_type="text/plain"), 1),
        (Response("<html>a proxy's page</html>", 200, content_type="text/html"), 1),
        (Response("[1, 2]", 200, content_type="application/json"), 1),
    ],
)
def test_the_coordinators_answer_decides_the_exit_status(
    answer, status, httpserver, monkeypatch, capsys
):
    """A refusal is for the caller to fix (2); a failing or garbled coordinator is not (1)."""
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", ADMIN)
    httpserver.expect_request("/swarm/lab/control", method="POST").respond_with_response(answer)
    url = httpserver.url_for("/")
    assert main(["swarm", "control", "--url", url, "--swarm", "lab", "--throttle", "50"]) == status
    assert capsys.readouterr().err.startswith(
        "flaresuite: error:" if status == 2 else "flaresuite: failed:"
    )


def test_a_coordinator_that_cannot_be_reached_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", ADMIN)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["swarm", "submit", "--url", f"http://127.0.0.1:{port}", "--swarm", "lab"]
    assert main(argv) == 1
    assert "cannot reach" in capsys.readouterr().err
