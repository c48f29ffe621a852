"""What ``flaresuite dev`` prints of a request: its method, path and status, never its query
string, which may carry a secret (a swarm dashboard's ``?token=<invite>``, a device's
``?token=``). docs/swarm.md promises tokens are never logged; the dev server keeps that
promise the way ``flaresuite.redact.redact_url`` does, with ``?[redacted]``."""

from __future__ import annotations

import httpx
import pytest

from tests.dev.devserver import upgrade_status, write_dev_vars

pytestmark = pytest.mark.lane

SECRET = "tok-e71b0c9d4a35-do-not-log"


def test_a_token_in_the_query_never_reaches_the_terminal(project, serve):
    write_dev_vars(project, ".dev.vars.swarm", {"SWARM_ADMIN_TOKEN": "dev-swarm-admin-0123456789"})
    server = serve(project, "--env", "swarm")

    dashboard = httpx.get(f"{server.url}/swarm/lab", params={"token": SECRET}, timeout=60)
    missing = httpx.get(f"{server.url}/no-such-page", params={"token": SECRET}, timeout=60)
    refused = upgrade_status(server.url, f"/swarm/lab/ws?token={SECRET}&deviceId=device-1")

    assert (dashboard.status_code, missing.status_code, refused) == (200, 404, 401)
    assert server.wait_for_line(r"^\[dev\] GET /swarm/lab\?\[redacted\] 200 ")
    assert server.wait_for_line(r"^\[dev\] GET /no-such-page\?\[redacted\] 404 ")
    assert server.wait_for_line(r"^\[dev\] GET /swarm/lab/ws\?\[redacted\] 401 ")
    assert server.stop() == 0
    # Everything the server printed, from the banner to its last line, once it has stopped.
    leaked = [line for line in server.lines() if SECRET in line]
    assert leaked == []


def test_a_scheduled_event_names_its_cron_and_no_other_parameter(project, serve):
    write_dev_vars(project, ".dev.vars.swarm", {"SWARM_ADMIN_TOKEN": "dev-swarm-admin-0123456789"})
    server = serve(project, "--env", "swarm")

    # The swarm Worker has no scheduled handler: the event fails with 500, and is logged.
    ran = httpx.get(
        f"{server.url}/__scheduled", params={"cron": "*/5 * * * *", "token": SECRET}, timeout=60
    )

    assert ran.status_code == 500
    assert server.wait_for_line(
        r'^\[dev\] GET /__scheduled\?\[redacted\] 500 \(cron "\*/5 \* \* \* \*", \d+ ms\)$'
    )
    assert server.stop() == 0
    assert [line for line in server.lines() if SECRET in line] == []
