"""``flaresuite dev --env delete-proxy``: the Python client deletes through the served Worker
and ``flaresuite dev r2`` shows what is left; bad starts exit 2 with a clear message."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from flaresuite.purge.client import DeleteProxyClient
from flaresuite_host.transport import httpx_fetch
from tests.dev.devserver import free_port, run_flaresuite, write_dev_vars

pytestmark = pytest.mark.lane

TOKEN = "dev-token-for-tests-0123456789abcdef"


def r2(project, *args):
    done = run_flaresuite("dev", "r2", *args, "--env", "delete-proxy", cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


async def test_the_client_deletes_through_flaresuite_dev_and_r2_shows_it(project, serve):
    write_dev_vars(project, ".dev.vars.delete-proxy", {"DELETE_PROXY_TOKEN": TOKEN})
    server = serve(project, "--env", "delete-proxy")
    assert any("env.PURGE_BUCKET -> flaresuite-media" in line for line in server.banner)
    for key in ("media/a.jpg", "media/b.jpg", "keep.txt"):
        r2(project, "put", "PURGE_BUCKET", key, "--file", "/dev/null")
    assert r2(project, "ls", "PURGE_BUCKET").decode().split() == [
        "keep.txt",
        "media/a.jpg",
        "media/b.jpg",
    ]

    async with httpx_fetch() as fetch:
        result = await DeleteProxyClient(server.url, TOKEN, fetch=fetch).delete(
            ["media/a.jpg", "media/b.jpg"]
        )

    assert result.deleted == 2 and all(item.success for item in result.results)
    assert r2(project, "ls", "PURGE_BUCKET").decode().split() == ["keep.txt"]
    # The request log and the Worker's own JSON audit line reach the terminal.
    assert server.wait_for_line(r"^\[dev\] POST /delete 200 ")
    assert server.wait_for_line(r'^\{"event": "purge.audit"')
    assert server.stop() == 0


def test_state_persists_across_restarts_and_reset_wipes_it(project, serve):
    write_dev_vars(project, ".dev.vars", {"DELETE_PROXY_TOKEN": TOKEN})
    r2(project, "put", "PURGE_BUCKET", "kept.txt", "--file", "/dev/null")
    assert (project / ".wrangler" / "state" / "v3").is_dir()

    serve(project, "--env", "delete-proxy").stop()
    assert r2(project, "ls", "PURGE_BUCKET").decode().split() == ["kept.txt"]

    serve(project, "--env", "delete-proxy", "--reset").stop()
    assert r2(project, "ls", "PURGE_BUCKET") == b""


def test_r2_get_prints_an_object_as_stored_or_writes_it_to_a_file(project, tmp_path):
    body = bytes(range(256)) * 4  # not text: printed byte for byte
    (tmp_path / "photo.bin").write_bytes(body)
    r2(project, "put", "PURGE_BUCKET", "media/photo.bin", "--file", str(tmp_path / "photo.bin"))

    assert r2(project, "get", "PURGE_BUCKET", "media/photo.bin") == body
    r2(project, "get", "PURGE_BUCKET", "media/photo.bin", "-o", str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == body

    missing = run_flaresuite(
        "dev", "r2", "get", "PURGE_BUCKET", "media/none.bin", "--env", "delete-proxy", cwd=project
    )
    assert missing.returncode == 1
    assert b"no object 'media/none.bin' in PURGE_BUCKET" in missing.stderr


def test_host_binds_the_address_given_and_the_banner_shows_it(project, serve):
    write_dev_vars(project, ".dev.vars", {"DELETE_PROXY_TOKEN": TOKEN})
    server = serve(project, "--env", "delete-proxy", "--host", "127.0.0.1")

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    assert any(line.startswith(f"Ready on {server.url} ") for line in server.banner)
    # Served there: the proxy answers an unauthenticated delete with 401.
    assert (
        httpx.post(f"{server.url}/delete", json={"objectKeys": ["a"]}, timeout=60).status_code
        == 401
    )
    assert server.stop() == 0


def test_a_host_that_is_not_this_machines_exits_2(project):
    write_dev_vars(project, ".dev.vars", {"DELETE_PROXY_TOKEN": TOKEN})

    # 192.0.2.1 (TEST-NET-1) is no local address: binding fails, nothing is sent anywhere.
    done = run_flaresuite("dev", "--env", "delete-proxy", "--host", "192.0.2.1", cwd=project)

    assert done.returncode == 2
    assert b"cannot listen on 192.0.2.1:8787" in done.stderr


def test_a_bad_env_exits_2_naming_the_environments(project):
    done = run_flaresuite("dev", "--env", "nope", cwd=project)

    assert done.returncode == 2
    assert b"no [env.nope] in wrangler.toml" in done.stderr
    assert b"delete-proxy, glean, swarm" in done.stderr


def test_a_missing_secret_exits_2_naming_it_and_where_it_goes(project):
    done = run_flaresuite("dev", "--env", "delete-proxy", cwd=project)

    assert done.returncode == 2
    assert b"DELETE_PROXY_TOKEN (secret)" in done.stderr
    assert b".dev.vars.delete-proxy" in done.stderr


def test_a_blank_secret_is_missing(project):
    write_dev_vars(project, ".dev.vars", {"DELETE_PROXY_TOKEN": "  "})

    done = run_flaresuite("dev", "--env", "delete-proxy", cwd=project)

    assert done.returncode == 2 and b"DELETE_PROXY_TOKEN" in done.stderr


def test_a_port_in_use_exits_2(project):
    write_dev_vars(project, ".dev.vars", {"DELETE_PROXY_TOKEN": TOKEN})
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()

        done = run_flaresuite("dev", "--env", "delete-proxy", "--port", str(port), cwd=project)

    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use".encode() in done.stderr


def test_r2_refuses_a_binding_the_env_does_not_have(project):
    done = run_flaresuite("dev", "r2", "ls", "NOPE", "--env", "delete-proxy", cwd=project)

    assert done.returncode == 2 and b"has no R2 bucket binding NOPE" in done.stderr
