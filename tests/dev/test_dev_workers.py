"""``flaresuite dev`` serves each Worker of wrangler.toml as its users drive it: the index
builder's and Glean's crons through ``/__scheduled`` against real upstreams (moto,
pytest-httpserver), the swarm over WebSockets with ``flaresuite swarm device``, and a Worker
whose handler raises answers 500 with its traceback in the terminal and keeps serving."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import httpx
import pytest
from werkzeug import Request, Response

from flaresuite_host.index.demo import DEMO_WHEELS, build_wheel
from tests.dev.devserver import ROOT, flaresuite, run_flaresuite, write_dev_vars

pytestmark = pytest.mark.lane


def ls(project, kind, binding, env=None):
    args = ["dev", kind, "ls", binding] + (["--env", env] if env else [])
    done = run_flaresuite(*args, cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().split()


@pytest.mark.moto
def test_the_index_builder_cron_runs_against_moto_and_writes_r2(project, serve, moto_s3):
    bucket = moto_s3.new_bucket("pytorch")
    # A dependency at the prefix root and a torch build in whl/cpu: the cpu page lists both.
    seeded = [w for w in DEMO_WHEELS if w.key.startswith(("whl/filelock", "whl/cpu/torch-2.6"))]
    for wheel in seeded:
        body = build_wheel(wheel.name, wheel.version, requires_python=wheel.requires_python)
        moto_s3.boto.put_object(Bucket=bucket, Key=wheel.key, Body=body, ChecksumAlgorithm="SHA256")
    write_dev_vars(
        project,
        ".dev.vars",
        {
            "SOURCE_S3_BUCKET": bucket,
            "SOURCE_S3_REGION": moto_s3.region,
            "S3_ENDPOINT_URL": moto_s3.endpoint,
            "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
            "S3_SECRET_ACCESS_KEY": moto_s3.credentials.secret_access_key,
            "INDEX_PREFIXES": "whl",
        },
    )
    server = serve(project)
    assert any("0+%2A+%2A+%2A+%2A" in line for line in server.banner)

    response = httpx.get(f"{server.url}/__scheduled", params={"cron": "0 * * * *"}, timeout=120)

    assert (response.status_code, response.text) == (200, "Ran scheduled event"), "\n".join(
        server.lines()
    )
    assert server.wait_for_line(
        r'^\[dev\] GET /__scheduled\?\[redacted\] 200 \(cron "0 \* \* \* \*"'
    )
    # The cron only enqueues the prefixes; the queue consumer builds them, in the background.
    status = wait_for_run(server.url)
    assert status["status"] == "ok", status
    server.stop()
    written = ls(project, "r2", "DEST_BUCKET")
    assert {"whl/cpu/filelock/index.html", "whl/cpu/torch/index.html"} <= set(written)
    assert ls(project, "r2", "DEST_BUCKET_META_CDN")
    # `dev r2 get` prints what the Worker wrote: the torch page links the seeded wheel.
    page = run_flaresuite(
        "dev", "r2", "get", "DEST_BUCKET", "whl/cpu/torch/index.html", cwd=project
    )
    assert page.returncode == 0, page.stderr.decode()
    assert b"torch-2.6" in page.stdout


def wait_for_run(url: str, polls: int = 240) -> dict:
    """The public ``/status`` once the run is no longer pending (bounded: 240 polls)."""
    status: dict = {}
    for _ in range(polls):
        answer = httpx.get(f"{url}/status", timeout=30)
        if answer.status_code == 200:
            status = answer.json()
            if status["status"] != "pending":
                return status
        time.sleep(0.25)
    raise AssertionError(f"the run did not finish: {status}")


def test_the_glean_crons_run_against_a_local_glean_and_record_state_in_kv(
    project, serve, httpserver
):
    seen = []

    def answer(request: Request) -> Response:
        seen.append(request.path)
        if request.path == "/source":
            page = {
                "documents": [
                    {
                        "id": f"doc-{n}",
                        "objectType": "Article",
                        "title": f"Document {n}",
                        "viewURL": f"https://wiki.example.com/doc/{n}",
                        "permissions": {"allowAnonymousAccess": True},
                        "updatedAt": 1_763_000_000 + n,
                    }
                    for n in range(3)
                ],
                "nextCursor": None,
            }
            return Response(json.dumps(page), content_type="application/json")
        return Response("{}", content_type="application/json")

    httpserver.expect_request(re.compile("^/")).respond_with_handler(answer)
    base = httpserver.url_for("/").rstrip("/")
    write_dev_vars(
        project,
        ".dev.vars.glean",
        {
            "GLEAN_TRIGGER_TOKEN": "dev-glean-trigger-token",
            "GLEAN_SERVER_URL": base,
            "GLEAN_INDEXING_API_TOKEN": "dev-glean-token",
            "GLEAN_DATASOURCE": "wiki",
            "DOCUMENT_SOURCE_URL": f"{base}/source",
        },
    )
    server = serve(project, "--env", "glean")

    response = httpx.get(f"{server.url}/__scheduled", params={"cron": "0 2 * * *"}, timeout=120)

    assert (response.status_code, response.text) == (200, "Ran scheduled event"), "\n".join(
        server.lines()
    )
    assert "/source" in seen and any(path.startswith("/api/index/v1/") for path in seen)
    server.stop()
    assert any(key.startswith("glean:") for key in ls(project, "kv", "GLEAN_STATE", "glean"))


def test_swarm_devices_join_and_run_a_job_over_websockets(project, serve):
    admin = "dev-swarm-admin-token-0123456789"
    write_dev_vars(project, ".dev.vars.swarm", {"SWARM_ADMIN_TOKEN": admin})
    server = serve(project, "--env", "swarm")
    target = ("--url", server.url, "--swarm", "dev-test")
    owner = {**os.environ, "SWARM_ADMIN_TOKEN": admin}

    invite = subprocess.run(
        flaresuite("swarm", "invite", *target, "--multi-use"),
        capture_output=True,
        env=owner,
        timeout=60,
        check=True,
    )
    token = json.loads(invite.stdout)["token"]
    subprocess.run(
        flaresuite("swarm", "submit", *target, "--chunks", "3", "--ops", "1000"),
        capture_output=True,
        env=owner,
        timeout=60,
        check=True,
    )
    device = subprocess.run(
        flaresuite("swarm", "device", *target, "--token", token, "--count", "2", "--duration", "6"),
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert device.returncode == 0, device.stderr.decode()
    tally = json.loads(device.stdout.decode().strip().splitlines()[-1])
    assert tally["joined"] == 2 and tally["completed"] >= 3, tally
    assert server.wait_for_line(r"^\[dev\] GET /swarm/dev-test/\S* 101 ")
    assert server.stop() == 0


PROBE_CONFIG = """
name = "probe"
main = "src/bindings_probe.py"
compatibility_date = "2026-11-01"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "probe-bucket"

[[kv_namespaces]]
binding = "KV"
id = "probe-kv"
"""


def test_a_python_exception_answers_500_with_its_traceback_and_serving_goes_on(tmp_path, serve):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "tests/lane/workers/bindings_probe.py", tmp_path / "src")
    (tmp_path / "wrangler.toml").write_text(PROBE_CONFIG)
    server = serve(tmp_path)

    failed = httpx.get(f"{server.url}/raises", timeout=60)
    served = httpx.post(f"{server.url}/echo", content=b"still here", timeout=60)

    assert failed.status_code == 500 and "traceback" in failed.text
    assert server.wait_for_line(r"^LookupError: handler bug")
    assert server.wait_for_line(r"^Traceback \(most recent call last\):")
    assert served.status_code == 201 and served.text.endswith("still here")
    # SIGTERM stops it as cleanly as Ctrl-C.
    assert server.stop(signal.SIGTERM) == 0
