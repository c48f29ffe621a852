"""The index Worker's HTTP endpoints and configuration, without a runtime."""

import json
import re

import pytest

from flaresuite.errors import ConfigError
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.index.builder import STATUS_KEY
from flaresuite.index.config import IndexConfig
from flaresuite.index.service import IndexService
from flaresuite.stores.memory import MemoryBucket

ENV = {"SOURCE_S3_BUCKET": "pytorch", "INDEX_RUN_TOKEN": "s3cret-token"}


async def no_network(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"unexpected request {request.method} {request.url}")


def service(env=ENV, main=None):
    return IndexService(
        env,
        fetch=no_network,
        destinations=[main or MemoryBucket(), MemoryBucket()],
        log=lambda *a, **k: None,
    )


def body(response):
    return json.loads(response.body)


async def test_status_before_any_run_is_404():
    response = await service().handle(HttpRequest("GET", "https://index.example/status"))
    assert response.status == 404
    assert body(response) == {"error": "no index run has completed yet"}


async def test_status_returns_the_stored_report():
    main = MemoryBucket()
    await main.put(STATUS_KEY, json.dumps({"status": "ok", "prefixes": []}).encode())
    response = await service(main=main).handle(HttpRequest("GET", "https://index.example/status"))
    assert response.status == 200 and body(response)["status"] == "ok"


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
    main = MemoryBucket()
    response = await service(main=main).handle(
        HttpRequest("POST", "https://index.example/run", headers)
    )
    assert response.status == 401
    assert body(response) == {"error": "missing or wrong bearer token"}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert main.calls == []


async def test_manual_runs_are_disabled_without_a_configured_token():
    env = {"SOURCE_S3_BUCKET": "pytorch"}
    response = await service(env).handle(
        HttpRequest("POST", "https://index.example/run", {"authorization": "Bearer x"})
    )
    assert response.status == 403
    assert "INDEX_RUN_TOKEN" in body(response)["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/status", 405), ("GET", "/run", 405), ("GET", "/", 404), ("DELETE", "/x", 404)],
)
async def test_unknown_routes_and_methods_get_json_errors(method, path, status):
    response = await service().handle(HttpRequest(method, "https://index.example" + path))
    assert response.status == status and "error" in body(response)


async def test_a_misconfigured_worker_answers_503_naming_the_variable_not_its_value():
    broken = service(
        {
            "SOURCE_S3_BUCKET": "pytorch",
            "S3_ENDPOINT_URL": "ftp://AKIDVALUE:hunter2@x",
            "S3_ACCESS_KEY_ID": "AKID",
        }
    )
    for request in (
        HttpRequest("GET", "https://index.example/status"),
        HttpRequest("POST", "https://index.example/run", {"authorization": "Bearer x"}),
    ):
        response = await broken.handle(request)
        assert response.status == 503
        assert body(response)["variables"] == ["S3_ENDPOINT_URL", "S3_SECRET_ACCESS_KEY"]
        assert "hunter2" not in response.body.decode() and "AKIDVALUE" not in response.body.decode()
    with pytest.raises(ConfigError) as refused:
        await broken.run()
    assert refused.value.variables == ("S3_ENDPOINT_URL", "S3_SECRET_ACCESS_KEY")


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
        (
            {"SOURCE_S3_BUCKET": "b", "INDEX_STOP_METADATA_AFTER_SECONDS": "-1"},
            "INDEX_STOP_METADATA_AFTER_SECONDS",
        ),
        (
            {"SOURCE_S3_BUCKET": "b", "INDEX_STOP_METADATA_AFTER_SECONDS": "nan"},
            "INDEX_STOP_METADATA_AFTER_SECONDS",
        ),
        (
            {"SOURCE_S3_BUCKET": "b", "INDEX_STOP_METADATA_AFTER_SECONDS": "inf"},
            "INDEX_STOP_METADATA_AFTER_SECONDS",
        ),
        ({"SOURCE_S3_BUCKET": " \t "}, "SOURCE_S3_BUCKET"),
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
            "NIGHTLY_KEEP": "30",
            "INDEX_STOP_METADATA_AFTER_SECONDS": "25",
        }
    )
    assert config.region == "us-east-1" and config.endpoint is None
    assert config.credentials.keys is not None
    assert config.credentials.keys.access_key_id == "AKID"
    assert config.build.prefixes == ("whl", "whl/nightly")
    assert config.build.nightly_keep == 30
    assert config.build.stop_metadata_after == 25.0
    assert config.build.warn_after == (20.0, 25.0)
    assert config.run_token is None
