"""``flaresuite swarm``: bad command-line input exits 2 with a message."""

from __future__ import annotations

import pytest

from flaresuite_host.cli import main


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
