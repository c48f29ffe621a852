"""The index Worker's behaviour without a runtime: its configuration, its HTTP endpoints (what
they show to strangers and what needs the token), the cron run and the queue fan-out."""

import json

import pytest

from flaresuite.errors import ConfigError
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.index.config import SETTINGS, IndexConfig
from flaresuite.index.service import IndexRunFailed, IndexService
from flaresuite.stores.memory import MemoryBucket

from .conftest import Delivered, FakeS3, MemoryQueue, StepClock, core_metadata

TOKEN = "s3cret-token"
ENV = {
    "SOURCE_S3_BUCKET": "pytorch",
    "S3_ENDPOINT_URL": FakeS3.ENDPOINT,
    "INDEX_RUN_TOKEN": TOKEN,
    "INDEX_PREFIXES": "whl,libtorch",
}
AUTH = {"authorization": f"Bearer {TOKEN}"}
TORCH = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"


async def no_network(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"unexpected request {request.method} {request.url}")


class World:
    def __init__(self, env=ENV, queue=None, state=True, clock=None):
        self.s3 = FakeS3()
        self.s3.objects[TORCH] = b"torch wheel"
        self.s3.objects[TORCH + ".metadata"] = core_metadata("torch", "2.5.1+cpu", ">=3.9")
        self.s3.objects["whl/filelock-3.16.1-py3-none-any.whl"] = b"filelock wheel"
        self.main, self.mirror = MemoryBucket(), MemoryBucket()
        self.state = MemoryBucket() if state else None
        self.queue = queue
        self.events = []
        self.service = IndexService(
            env,
            fetch=self.s3,
            destinations=[self.main, self.mirror],
            state=self.state,
            queue=queue,
            clock=clock,
            log=lambda event, **fields: self.events.append((event, fields)),
        )

    def calls(self):
        """Requests sent so far: to S3, to the buckets and to the queue."""
        buckets = (self.main, self.mirror, self.state)
        sent = len(self.queue.sent) + self.queue.delivered if self.queue else 0
        return len(self.s3.requests) + sum(len(b.calls) for b in buckets) + sent

    async def get(self, path, headers=None):
        return await self.service.handle(
            HttpRequest("GET", "https://index.example" + path, headers or {})
        )

    async def post(self, path, headers=None):
        return await self.service.handle(
            HttpRequest("POST", "https://index.example" + path, headers or {})
        )


def body(response):
    return json.loads(response.body)


async def test_status_before_any_run_is_404():
    response = await World().get("/status")
    assert response.status == 404
    assert body(response) == {"error": "no index run has completed yet"}


async def test_a_scheduled_run_publishes_and_status_shows_it_to_anyone():
    world = World()
    report = await world.service.scheduled_run()
    assert report.status == "ok"
    assert "whl/cpu/torch/index.html" in world.main.objects
    response = await world.get("/status")
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    status = body(response)
    assert status["status"] == "ok" and status["waiting"] == []
    assert [p["prefix"] for p in status["prefixes"]] == ["whl", "libtorch"]
    assert status["prefixes"][0]["distributions"] == 2
    assert "source" not in status


async def test_strangers_see_counts_but_not_errors_buckets_or_endpoints():
    world = World()
    world.s3.bucket = "another"  # every S3 request now fails with NoSuchBucket
    with pytest.raises(IndexRunFailed):
        await world.service.scheduled_run()
    public = (await world.get("/status")).body.decode()
    assert '"failed"' in public
    for secret in ("pytorch", "s3.test", "NoSuchBucket", "error"):
        assert secret not in public
    full = body(await world.get("/status", AUTH))
    assert full["source"] == {
        "bucket": "pytorch",
        "region": "us-east-1",
        "endpoint": "http://s3.test",
    }
    assert "NoSuchBucket" in full["prefixes"][0]["error"]


async def test_status_with_a_wrong_token_is_refused():
    world = World()
    await world.service.run()
    response = await world.get("/status", {"authorization": "Bearer wrong"})
    assert response.status == 401 and body(response) == {"error": "missing or wrong bearer token"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": "Basic czNjcmV0LXRva2Vu"},
        {"authorization": "Bearer "},
        {"authorization": "Bearer s3cret-token-and-more"},
    ],
)
async def test_a_run_without_the_right_token_is_refused_and_touches_nothing(headers):
    world = World()
    response = await world.post("/run", headers)
    assert response.status == 401
    assert body(response) == {"error": "missing or wrong bearer token"}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert world.main.calls == [] and world.state.calls == [] and world.s3.requests == []


async def test_a_run_with_the_token_answers_with_the_full_report():
    world = World()
    response = await world.post("/run", AUTH)
    assert response.status == 200
    report = body(response)
    assert report["status"] == "ok" and report["subrequests"] > 0 and report["list_calls"] == 3


async def test_manual_runs_are_disabled_without_a_configured_token():
    env = {key: value for key, value in ENV.items() if key != "INDEX_RUN_TOKEN"}
    response = await World(env).post("/run", {"authorization": "Bearer x"})
    assert response.status == 403
    assert "INDEX_RUN_TOKEN" in body(response)["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/status", 405), ("GET", "/run", 405), ("GET", "/", 404), ("DELETE", "/x", 404)],
)
async def test_unknown_routes_and_methods_get_json_errors(method, path, status):
    world = World()
    response = await world.service.handle(HttpRequest(method, "https://index.example" + path))
    assert response.status == status and "error" in body(response)


async def test_a_misconfigured_worker_answers_503_naming_the_variable_not_its_value():
    world = World(
        {
            "SOURCE_S3_BUCKET": "pytorch",
            "S3_ENDPOINT_URL": "ftp://AKIDVALUE:hunter2@x",
            "S3_ACCESS_KEY_ID": "AKID",
        }
    )
    for response in (
        await world.get("/status"),
        await world.post("/run", {"authorization": "Bearer x"}),
    ):
        assert response.status == 503
        assert body(response)["variables"] == ["S3_ENDPOINT_URL", "S3_SECRET_ACCESS_KEY"]
        assert "hunter2" not in response.body.decode() and "AKIDVALUE" not in response.body.decode()
    with pytest.raises(ConfigError) as refused:
        await world.service.run()
    assert refused.value.variables == ("S3_ENDPOINT_URL", "S3_SECRET_ACCESS_KEY")


async def test_without_a_state_binding_the_worker_is_misconfigured():
    world = World(state=False)
    response = await world.get("/status")
    assert response.status == 503 and body(response)["variables"] == ["INDEX_STATE"]
    with pytest.raises(ConfigError):
        await world.service.scheduled_run()
    assert world.main.calls == []


async def test_the_first_run_removes_what_earlier_versions_kept_in_the_public_buckets():
    world = World()
    for bucket in (world.main, world.mirror):
        await bucket.put("_flaresuite/index-status.json", b"{}")
        await bucket.put("_flaresuite/index-cache/whl.json.gz", b"...")
    await world.service.run()
    assert not any(k.startswith("_flaresuite/") for k in world.main.objects)
    assert not any(k.startswith("_flaresuite/") for k in world.mirror.objects)
    assert ("index.legacy_state_removed", {"objects": 4}) in world.events


# --- fan-out through a queue ----------------------------------------------------------------


async def test_with_a_queue_the_cron_run_enqueues_one_message_per_prefix_and_builds_nothing():
    world = World(queue=MemoryQueue())
    assert await world.service.scheduled_run() is None
    assert [m["prefix"] for m in world.queue.sent] == ["whl", "libtorch"]
    assert world.main.objects == {} and world.s3.requests == []
    status = body(await world.get("/status"))
    assert status["status"] == "pending" and status["waiting"] == ["whl", "libtorch"]


async def test_the_queue_consumer_builds_each_prefix_and_acknowledges_it():
    world = World(queue=MemoryQueue())
    await world.service.scheduled_run()
    deliveries = world.queue.deliver()
    await world.service.consume(deliveries)
    assert [d.outcome for d in deliveries] == ["ack", "ack"]
    assert "whl/cpu/torch/index.html" in world.main.objects
    assert "libtorch/index.html" not in world.main.objects  # libtorch is empty here
    status = body(await world.get("/status"))
    assert status["status"] == "ok" and status["mode"] == "queue" and status["waiting"] == []


async def test_a_prefix_deferred_for_budget_continues_in_a_message_of_its_own():
    env = {**ENV, "MAX_SUBREQUESTS": "20", "INDEX_PREFIXES": "whl"}
    world = World(env, queue=MemoryQueue())
    for minor in range(20):
        world.s3.objects[f"whl/cpu/torchvision-0.{minor}.0-cp311-cp311-linux_x86_64.whl"] = b"x"
    await world.service.scheduled_run()
    continuations = []
    for _ in range(30):
        deliveries = world.queue.deliver()
        if not deliveries:
            break
        before = world.calls()
        await world.service.consume(deliveries)
        assert world.calls() - before <= 20  # never past MAX_SUBREQUESTS, queue sends included
        assert all(d.outcome == "ack" for d in deliveries)
        continuations += [m["continuation"] for m in world.queue.sent]
    assert continuations[:3] == [1, 2, 3] and not world.queue.sent
    assert "whl/cpu/torchvision/index.html" in world.main.objects


async def test_a_continuation_of_an_earlier_run_is_dropped_once_the_next_run_has_started():
    """A cold bucket's continuation chain may outlive the hour: the next cron run's message
    for the same prefix must not build alongside it. The older run's messages are acknowledged
    and dropped; the newer run's message builds the prefix and continues its own chain."""
    env = {**ENV, "MAX_SUBREQUESTS": "20", "INDEX_PREFIXES": "whl"}
    clock = StepClock()
    world = World(env, queue=MemoryQueue(), clock=clock)
    for minor in range(20):
        world.s3.objects[f"whl/cpu/torchvision-0.{minor}.0-cp311-cp311-linux_x86_64.whl"] = b"x"
    await world.service.scheduled_run()
    first_run = world.queue.sent[0]["run"]
    await world.service.consume(world.queue.deliver())
    assert world.queue.sent == [{**world.queue.sent[0], "run": first_run, "continuation": 1}]

    clock.t += 3600  # the next cron hour, the chain still running
    await world.service.scheduled_run()
    stale, fresh = deliveries = world.queue.deliver()
    assert (stale.body["run"], fresh.body["run"]) == (first_run, first_run + 3600)
    world.events.clear()
    await world.service.consume(deliveries)

    assert [d.outcome for d in deliveries] == ["ack", "ack"]
    dropped = [fields for event, fields in world.events if event == "index.stale_message"]
    assert dropped == [{"prefix": "whl", "run": first_run, "current": first_run + 3600}]
    assert len([event for event, _ in world.events if event == "index.prefix"]) == 1
    assert [(m["run"], m["continuation"]) for m in world.queue.sent] == [(first_run + 3600, 1)]
    for _ in range(30):  # the newer run's chain completes the prefix
        deliveries = world.queue.deliver()
        if not deliveries:
            break
        await world.service.consume(deliveries)
    assert "whl/cpu/torchvision/index.html" in world.main.objects
    assert body(await world.get("/status"))["status"] == "ok"


async def test_a_failed_prefix_is_retried_by_the_queue_and_a_foreign_message_is_dropped():
    world = World(queue=MemoryQueue())
    world.s3.bucket = "another"
    await world.service.scheduled_run()
    deliveries = world.queue.deliver()
    stray = [Delivered({"kind": "something-else"}), Delivered("not even a mapping")]
    await world.service.consume([*deliveries, *stray])
    assert [d.outcome for d in deliveries] == ["retry", "retry"]
    assert [d.outcome for d in stray] == ["ack", "ack"]
    assert world.queue.sent == []


async def test_a_manual_run_with_a_queue_enqueues_and_answers_202():
    world = World(queue=MemoryQueue())
    response = await world.post("/run", AUTH)
    assert response.status == 202 and body(response)["prefixes"] == ["whl", "libtorch"]


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SOURCE_S3_BUCKET"),
        ({"SOURCE_S3_BUCKET": "b", "S3_SECRET_ACCESS_KEY": "x"}, "S3_ACCESS_KEY_ID"),
        ({"SOURCE_S3_BUCKET": "b", "S3_ENDPOINT_URL": "ftp://x"}, "S3_ENDPOINT_URL"),
        ({"SOURCE_S3_BUCKET": "b", "S3_ENDPOINT_URL": "https://"}, "S3_ENDPOINT_URL"),
        ({"SOURCE_S3_BUCKET": "b", "NIGHTLY_KEEP": "0"}, "NIGHTLY_KEEP"),
        ({"SOURCE_S3_BUCKET": "b", "NIGHTLY_KEEP": "sixty"}, "NIGHTLY_KEEP"),
        ({"SOURCE_S3_BUCKET": "b", "INDEX_PREFIXES": "whl,,libtorch"}, "INDEX_PREFIXES"),
        ({"SOURCE_S3_BUCKET": "b", "INDEX_PREFIXES": "whl/../etc"}, "INDEX_PREFIXES"),
        ({"SOURCE_S3_BUCKET": "b", "INDEX_PREFIXES": "none"}, "INDEX_PREFIXES"),
        ({"SOURCE_S3_BUCKET": "b", "ALLOW_LIST_PREFIXES": "whl,.."}, "ALLOW_LIST_PREFIXES"),
        ({"SOURCE_S3_BUCKET": "b", "FILE_BASE_URL": "ftp://files"}, "FILE_BASE_URL"),
        ({"SOURCE_S3_BUCKET": "b", "FILE_BASE_URL": "https://u:p@files"}, "FILE_BASE_URL"),
        ({"SOURCE_S3_BUCKET": "b", "FILE_HOSTS": "https://download.pytorch.org"}, "FILE_HOSTS"),
        ({"SOURCE_S3_BUCKET": "b", "FILE_HOSTS": "download.pytorch.org,,x"}, "FILE_HOSTS"),
        ({"SOURCE_S3_BUCKET": "b", "MAX_SUBREQUESTS": "5"}, "MAX_SUBREQUESTS"),
        ({"SOURCE_S3_BUCKET": "b", "MAX_SUBREQUESTS": "lots"}, "MAX_SUBREQUESTS"),
        (
            {"SOURCE_S3_BUCKET": "b", "REQUIRES_PYTHON_OVERRIDES": "x.whl"},
            "REQUIRES_PYTHON_OVERRIDES",
        ),
        (
            {"SOURCE_S3_BUCKET": "b", "REQUIRES_PYTHON_OVERRIDES": "x.whl=>=three"},
            "REQUIRES_PYTHON_OVERRIDES",
        ),
        (
            {"SOURCE_S3_BUCKET": "b", "INDEX_STOP_METADATA_AFTER_SECONDS": "-1"},
            "INDEX_STOP_METADATA_AFTER_SECONDS",
        ),
        (
            {"SOURCE_S3_BUCKET": "b", "INDEX_STOP_METADATA_AFTER_SECONDS": "nan"},
            "INDEX_STOP_METADATA_AFTER_SECONDS",
        ),
        ({"SOURCE_S3_BUCKET": " \t "}, "SOURCE_S3_BUCKET"),
        ({"SOURCE_S3_BUCKET": "b", "AWS_ROLE_ARN": "not-an-arn"}, "AWS_ROLE_ARN"),
    ],
)
def test_configuration_errors_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as refused:
        IndexConfig.from_env(env)
    assert variable in refused.value.variables


def test_configuration_defaults_and_overrides():
    config = IndexConfig.from_env(
        {
            "SOURCE_S3_BUCKET": "pytorch",
            "S3_ACCESS_KEY_ID": "AKID",
            "S3_SECRET_ACCESS_KEY": "SECRET",
            "INDEX_PREFIXES": "whl, whl/nightly/,whl",
            "ALLOW_LIST_PREFIXES": "whl/nightly",
            "NIGHTLY_KEEP": "30",
            "INDEX_STOP_METADATA_AFTER_SECONDS": "25",
            "FILE_BASE_URL": "https://download-r2.example.org/",
            "FILE_HOSTS": "Files.Example.org, download.pytorch.org",
            "REQUIRES_PYTHON_OVERRIDES": "numpy-2.3.*.whl=>=3.11; networkx-3.3-*.whl = >=3.10",
        }
    )
    assert config.region == "us-east-1" and config.endpoint is None
    assert config.credentials.keys is not None
    assert config.credentials.keys.access_key_id == "AKID"
    build = config.build
    assert build.prefixes == ("whl", "whl/nightly")
    assert build.allow_list_prefixes == {"whl/nightly"}
    assert build.nightly_keep == 30
    assert build.stop_metadata_after == 25.0 and build.warn_after == (20.0, 25.0)
    assert build.max_subrequests == 9000
    assert build.file_base_url == "https://download-r2.example.org"
    assert build.file_hosts == {"files.example.org", "download.pytorch.org"}
    overrides = build.requires_python_overrides
    assert overrides.for_filename("numpy-2.3.1-cp312-cp312-linux_x86_64.whl") == ">=3.11"
    assert overrides.for_filename("networkx-3.3-py3-none-any.whl") == ">=3.10"
    assert overrides.for_filename("numpy-2.2.0-cp312-cp312-linux_x86_64.whl") is None
    assert config.run_token is None


def test_defaults_follow_the_reference():
    build = IndexConfig.from_env({"SOURCE_S3_BUCKET": "pytorch"}).build
    assert "source_code/test" in build.prefixes
    assert build.allow_list_prefixes == {"whl", "whl/nightly", "whl/test"}
    assert build.requires_python_overrides.for_filename("networkx-3.3-py3-none-any.whl") == ">=3.10"
    assert build.file_hosts == {
        "download.pytorch.org",
        "download-r2.pytorch.org",
        "d21usjoq99fcb9.cloudfront.net",
    }
    none = IndexConfig.from_env({"SOURCE_S3_BUCKET": "p", "FILE_HOSTS": "none"})
    assert none.build.file_hosts == frozenset()
    assert (
        IndexConfig.from_env(
            {"SOURCE_S3_BUCKET": "p", "ALLOW_LIST_PREFIXES": "none"}
        ).build.allow_list_prefixes
        == frozenset()
    )


class Recorder(dict):
    def __init__(self):
        super().__init__(SOURCE_S3_BUCKET="b")
        self.read = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)


def test_settings_list_every_variable_the_worker_reads():
    env = Recorder()
    IndexConfig.from_env(env)
    assert env.read <= {setting.name for setting in SETTINGS}
    secrets = {setting.name for setting in SETTINGS if setting.secret}
    assert {"S3_SECRET_ACCESS_KEY", "INDEX_RUN_TOKEN"} <= secrets
