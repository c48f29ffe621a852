"""``flaresuite swarm serve`` over real WebSockets on 127.0.0.1.

Every wait is bounded by a generous ``asyncio.timeout`` that only turns a hang into a failure;
nothing asserts how fast anything happened.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.model import ONLINE
from flaresuite_host.swarm.device import run_devices, websocket_url
from flaresuite_host.swarm.server import SwarmServer

from .live import ADMIN, BOUND, invite, state


async def test_200_simulated_devices_finish_every_chunk_exactly_once(served):
    _, owner, _ = served
    token = await invite(owner, "big")
    chunks = 1000
    response = await owner.post("/swarm/big/jobs", params={"chunks": chunks, "opsPerChunk": 20_000})
    assert response.status_code == 201

    stop = asyncio.Event()
    base = str(owner.base_url)
    devices = asyncio.ensure_future(run_devices(base, "big", token, 200, stop=stop, seed=7))
    async with asyncio.timeout(BOUND):
        while (await state(owner, "big"))["queue"]["done"] < chunks:
            await asyncio.sleep(0.2)
        during = await state(owner, "big")
        stop.set()
        tally = await devices

    assert during["devicesTotal"] == 200 and during["devicesOnline"] == 200
    assert during["queue"] == {"queued": 0, "assigned": 0, "done": chunks, "failed": 0}
    assert tally.joined == 200 and tally.refused == 0
    assert tally.completed == chunks, "each chunk was run by exactly one device"
    assert sum(d["completed"] for d in during["devices"]) == chunks
    assert tally.errors == []
    assert len({d["weight"] for d in during["devices"]}) > 1, "weights follow capability and speed"


async def test_a_device_reconnects_and_the_late_close_of_its_old_socket_is_ignored(served):
    server, owner, _ = served
    token = await invite(owner, "lab")
    base = str(owner.base_url)
    async with asyncio.timeout(BOUND):
        old = await connect(websocket_url(base, "lab", token=token, deviceId="phone"))
        welcome = json.loads(await old.recv())
        resume = welcome["payload"]["resumeKey"]
        new = await connect(websocket_url(base, "lab", resumeKey=resume, deviceId="phone"))
        assert json.loads(await new.recv())["payload"]["resumed"] is True
        await old.wait_closed()  # the server closed the replaced socket...
        assert old.close_code == 4000
        coordinator = server.swarms["lab"].coordinator
        while len(coordinator.sockets) > 1:  # ...and has processed its close event
            await asyncio.sleep(0.01)
        device = coordinator.devices["phone"]
        assert device.status == ONLINE
        assert (await state(owner, "lab"))["devicesOnline"] == 1
        await new.close()
        while server.swarms["lab"].coordinator.devices["phone"].status == ONLINE:
            await asyncio.sleep(0.05)


async def test_bad_tokens_are_refused_before_the_upgrade(served):
    _, owner, logs = served
    base = str(owner.base_url)
    for query in ({"token": "wrong", "deviceId": "d"}, {"deviceId": "d"}):
        with pytest.raises(InvalidStatus) as refused:
            await connect(websocket_url(base, "lab", **query))
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body) == {
            "error": "missing, unknown or expired invite token"
        }
    assert any('"SECURITY"' in line and "invite_refused" in line for line in logs)


async def test_invalid_frames_get_an_error_and_the_connection_survives(served):
    _, owner, logs = served
    token = await invite(owner, "lab")
    async with asyncio.timeout(BOUND):
        async with connect(
            websocket_url(str(owner.base_url), "lab", token=token, deviceId="d1")
        ) as ws:
            await ws.recv()  # WELCOME
            for frame in (
                "{oops",
                json.dumps({"type": "JOB_REQUEST", "payload": {"slots": 1000}}),
                "x" * 70_000,
            ):
                await ws.send(frame)
                reply = json.loads(await ws.recv())
                assert reply["type"] == "ERROR"
            await ws.send(json.dumps({"type": "HEARTBEAT", "payload": {}}))
            await ws.send(json.dumps({"type": "NOPE", "payload": {}}))
            assert json.loads(await ws.recv())["payload"]["code"] == "unknown_type"
    assert sum("invalid_message" in line for line in logs) == 4


async def test_the_sixth_invite_in_a_minute_is_refused(served):
    _, owner, _ = served
    for _ in range(5):
        await invite(owner, "lab")
    response = await owner.post("/swarm/lab/tokens")
    assert response.status_code == 429 and "error" in response.json()


async def test_http_routes_answer_json_errors(served):
    _, owner, _ = served
    assert (await owner.get("/elsewhere")).status_code == 404
    assert (await owner.get("/swarm/lab/ws")).status_code == 426
    page = await owner.get("/swarm/lab")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    anonymous = await httpx.AsyncClient(base_url=owner.base_url).post("/swarm/lab/tokens")
    assert anonymous.status_code == 401 and anonymous.json()["error"]


async def test_simulated_devices_resume_after_the_server_drops_them(served):
    server, owner, _ = served
    token = await invite(owner, "lab")
    await owner.post("/swarm/lab/jobs", params={"chunks": 400, "opsPerChunk": 50_000})
    stop = asyncio.Event()
    devices = asyncio.ensure_future(
        run_devices(str(owner.base_url), "lab", token, 5, stop=stop, seed=1)
    )
    swarm = server.swarm("lab")
    async with asyncio.timeout(BOUND):
        while len(swarm.connections) < 5 or swarm.coordinator.done_total == 0:
            await asyncio.sleep(0.05)
        first = set(swarm.connections)
        for socket_id in first:
            swarm.close(socket_id, 1012, "service restart")
        while len(set(swarm.connections) - first) < 5:
            await asyncio.sleep(0.05)
        while swarm.coordinator.done_total < 400:
            await asyncio.sleep(0.1)
        stop.set()
        tally = await devices
    assert tally.joined == 5 and tally.reconnects >= 5 and tally.refused == 0
    assert sorted(swarm.coordinator.devices) == [f"sim-{i}" for i in range(5)]
    assert swarm.coordinator.counts() == {"queued": 0, "assigned": 0, "done": 400, "failed": 0}


async def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends ``request`` as bytes and reads the whole answer (the server closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(BOUND):
        answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


def port_of(owner: httpx.AsyncClient) -> int:
    return owner.base_url.port


@pytest.mark.parametrize(
    "host",
    [
        "Host: evil.example:{port}",  # DNS rebinding: a name the attacker controls
        "Host: 127.0.0.1:1",  # another port
        "Host: 10.0.0.8:{port}",  # an address we do not listen on
        "Host: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}",
        "Host: user@127.0.0.1:{port}",
        "Host: 127.0.0.1:{port}/x",
        "Host: 127.0.0.1",  # no port is port 80
        "",
    ],
)
async def test_requests_must_name_this_server_in_one_host_header(served, host):
    _, owner, _ = served
    port = port_of(owner)
    head = f"GET /swarm/lab HTTP/1.1\r\n{host.format(port=port)}\r\n\r\n".replace(
        "\r\n\r\n\r\n", "\r\n\r\n"
    )
    status, headers, body = await raw_exchange(port, head.encode())
    assert status == 400 and headers["content-type"] == "application/json"
    assert "Host" in json.loads(body)["error"]


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
async def test_the_bound_address_and_localhost_are_this_server(served, name):
    _, owner, _ = served
    port = port_of(owner)
    status, _, _ = await raw_exchange(
        port, f"GET /swarm/lab HTTP/1.1\r\nHost: {name}:{port}\r\n\r\n".encode()
    )
    assert status == 200


async def test_other_names_are_served_only_when_allowed():
    server = SwarmServer(SwarmConfig(ADMIN), log=lambda _: None, allowed_hosts=["swarm.lan"])
    listener = await server.start("127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        status, _, _ = await raw_exchange(
            port, f"GET /swarm/lab HTTP/1.1\r\nHost: swarm.lan:{port}\r\n\r\n".encode()
        )
        assert status == 200
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_post_with_a_body_gets_the_documented_answer(served):
    server, owner, _ = served
    with_body = await owner.post("/swarm/lab/tokens", content=b'{"multiUse": true}')
    assert with_body.status_code == 400
    assert with_body.json() == {
        "error": "send parameters in the query string; the body must be empty"
    }
    anonymous = await httpx.AsyncClient(base_url=owner.base_url).post(
        "/swarm/lab/jobs", content=b"x"
    )
    assert anonymous.status_code == 401
    huge = await owner.post("/swarm/lab/jobs", content=b"x" * (2 << 20))
    assert huge.status_code == 400
    assert server.swarms["lab"].coordinator.chunks == {}
    assert server.swarms["lab"].coordinator.invites.invites == {}


async def test_bodies_that_cannot_be_read_safely_are_400(served):
    _, owner, _ = served
    port = port_of(owner)
    for framing in (
        "Transfer-Encoding: chunked\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: -1\r\n",
    ):
        status, _, body = await raw_exchange(
            port,
            f"POST /swarm/lab/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{framing}\r\nabc".encode(),
        )
        assert status == 400 and "Content-Length" in json.loads(body)["error"]
