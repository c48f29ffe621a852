"""Settings from Worker vars and secrets: every problem named at once, no secret echoed."""

from __future__ import annotations

import pytest

from flaresuite.errors import ConfigError
from flaresuite.glean.config import SETTINGS, parse_config
from flaresuite.glean.modes import (
    InvalidMode,
    Mode,
    UnknownCron,
    mode_for_cron,
    parse_mode,
)

DIRECT = {
    "GLEAN_TRIGGER_TOKEN": "t",
    "GLEAN_INSTANCE": "acme",
    "GLEAN_INDEXING_API_TOKEN": "g",
    "GLEAN_DATASOURCE": "wiki",
    "DOCUMENT_SOURCE_URL": "https://source.example.com/docs/",
}
BACKEND = {
    "GLEAN_TRIGGER_TOKEN": "t",
    "GLEAN_INSTANCE": "acme",
    "CONNECTOR_API_URL": "https://connector.example.com",
    "CONNECTOR_API_TOKEN": "b",
}


def errors_of(env: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(env)
    return tuple(str(problem) for problem in caught.value.problems)


def test_direct_mode_defaults():
    config = parse_config(DIRECT)

    assert config.backend is None
    assert config.direct.glean_url == "https://acme-be.glean.com"
    assert config.direct.source_url == "https://source.example.com/docs"
    assert config.direct.source_token is None and config.direct.source_page_size == 500
    assert config.direct.source_max_pages == 10_000
    assert config.schedule == {Mode.FULL: "0 2 * * *", Mode.INCREMENTAL: "0 * * * *"}
    assert (config.lock_ttl, config.full_lock_wait) == (3600, 600)


def test_glean_server_url_wins_over_the_instance():
    config = parse_config({**DIRECT, "GLEAN_SERVER_URL": "https://acme-be.glean.com/"})
    assert config.direct.glean_url == "https://acme-be.glean.com"


def test_orchestrator_mode():
    config = parse_config({**BACKEND, "CONNECTOR_API_TIMEOUT": "120"})

    assert config.direct is None
    assert (config.backend.url, config.backend.glean_instance, config.backend.timeout) == (
        "https://connector.example.com",
        "acme",
        120.0,
    )


def test_every_problem_is_reported_together():
    assert errors_of(
        {"CONNECTOR_API_URL": "ftp://x", "GLEAN_LOCK_TTL": "30", "GLEAN_FULL_CRON": "0 * * * *"}
    ) == (
        "GLEAN_TRIGGER_TOKEN: is not set (a secret): POST /trigger needs it",
        "GLEAN_FULL_CRON: must differ from GLEAN_INCREMENTAL_CRON",
        "GLEAN_LOCK_TTL: must be a whole number of at least 60",
        "CONNECTOR_API_URL: must be a https/http URL with a host",
        "CONNECTOR_API_TOKEN: is not set (a secret): the backend needs it",
        "GLEAN_INSTANCE: is not set: the backend is told which instance to index",
    )


def test_direct_mode_needs_glean_credentials_and_a_datasource():
    assert errors_of({"GLEAN_TRIGGER_TOKEN": "t", "DOCUMENT_SOURCE_URL": "https://s.example"}) == (
        "GLEAN_SERVER_URL: is not set, nor is GLEAN_INSTANCE: direct mode needs one",
        "GLEAN_INDEXING_API_TOKEN: is not set (a secret): Glean needs it",
        "GLEAN_DATASOURCE: is not set: direct mode indexes into one datasource",
    )


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("GLEAN_INSTANCE", "acme.glean.com/x", "GLEAN_INSTANCE: must be an instance name"),
        ("DOCUMENT_SOURCE_PAGE_SIZE", "0", "DOCUMENT_SOURCE_PAGE_SIZE: must be a whole number of"),
        ("DOCUMENT_SOURCE_MAX_PAGES", "0", "DOCUMENT_SOURCE_MAX_PAGES: must be a whole number of"),
        ("DOCUMENT_SOURCE_MAX_PAGES", "1e4", "DOCUMENT_SOURCE_MAX_PAGES: must be a whole number"),
        (
            "GLEAN_FULL_LOCK_WAIT",
            "ten",
            "GLEAN_FULL_LOCK_WAIT: must be a whole number of at least 0",
        ),
        ("GLEAN_SERVER_URL", "acme-be.glean.com", "GLEAN_SERVER_URL: must be a https/http URL"),
        ("DOCUMENT_SOURCE_URL", "https://u:p@s.example", "DOCUMENT_SOURCE_URL: must not contain"),
    ],
)
def test_malformed_values_are_named_without_their_value(name, value, error):
    errors = errors_of({**DIRECT, name: value})

    assert any(error in e for e in errors)
    assert not any(value in e for e in errors)


def test_both_modes_at_once_is_ambiguous():
    assert errors_of({**DIRECT, **BACKEND}) == (
        "CONNECTOR_API_URL: set CONNECTOR_API_URL or DOCUMENT_SOURCE_URL, not both",
        "DOCUMENT_SOURCE_URL: set CONNECTOR_API_URL or DOCUMENT_SOURCE_URL, not both",
    )


def test_neither_mode_names_both_variables():
    with pytest.raises(ConfigError) as caught:
        parse_config({"GLEAN_TRIGGER_TOKEN": "t"})

    assert caught.value.variables == ("CONNECTOR_API_URL", "DOCUMENT_SOURCE_URL")


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_a_whitespace_only_secret_is_unset(blank):
    """A secret of spaces would let any caller presenting spaces in (12.6): fail closed."""
    assert "GLEAN_TRIGGER_TOKEN: is not set (a secret): POST /trigger needs it" in errors_of(
        {**DIRECT, "GLEAN_TRIGGER_TOKEN": blank}
    )
    assert "GLEAN_INDEXING_API_TOKEN: is not set (a secret): Glean needs it" in errors_of(
        {**DIRECT, "GLEAN_INDEXING_API_TOKEN": blank}
    )


def test_settings_list_every_variable_the_parser_reads():
    read: list[str] = []

    class Recording(dict):
        def get(self, name, default=None):
            read.append(name)
            return super().get(name, default)

    parse_config(Recording(DIRECT))
    parse_config(Recording(BACKEND))
    parse_config(Recording({**DIRECT, "GLEAN_SERVER_URL": "https://acme-be.glean.com"}))

    names = [setting.name for setting in SETTINGS]
    assert set(read) == set(names) and len(names) == len(set(names))
    assert {s.name for s in SETTINGS if s.secret} == {
        "GLEAN_TRIGGER_TOKEN",
        "GLEAN_INDEXING_API_TOKEN",
        "CONNECTOR_API_TOKEN",
        "DOCUMENT_SOURCE_TOKEN",
    }


def test_no_secret_ever_appears_in_an_error():
    env = {
        "GLEAN_TRIGGER_TOKEN": "trig-secret",
        "GLEAN_INDEXING_API_TOKEN": "glean-secret",
        "CONNECTOR_API_TOKEN": "backend-secret",
        "DOCUMENT_SOURCE_TOKEN": "source-secret",
        "GLEAN_LOCK_TTL": "x",
    }
    text = " ".join(errors_of(env))
    assert not any(
        secret in text
        for secret in ("trig-secret", "glean-secret", "backend-secret", "source-secret")
    )


def test_the_error_is_the_suites_config_error():
    with pytest.raises(ConfigError):
        parse_config({})


@pytest.mark.parametrize("value", ["FULL", "INCREMENTAL"])
def test_a_mode_is_exactly_its_name(value):
    assert parse_mode(value) is Mode(value)


@pytest.mark.parametrize("value", [None, "", "full", "Full", " FULL", "DELTA", 1, True])
def test_anything_else_is_not_a_mode(value):
    with pytest.raises(InvalidMode):
        parse_mode(value)


def test_crons_map_to_modes_by_expression_ignoring_spacing():
    schedule = {Mode.FULL: "0 2 * * *", Mode.INCREMENTAL: "0 * * * *"}
    assert mode_for_cron("0 2 * * *", schedule) is Mode.FULL
    assert mode_for_cron("0  *  * * *", schedule) is Mode.INCREMENTAL
    with pytest.raises(UnknownCron):
        mode_for_cron("*/5 * * * *", schedule)


def test_the_lock_must_outlive_every_backend_attempt():
    assert errors_of({**BACKEND, "CONNECTOR_API_TIMEOUT": "3600"}) == (
        "GLEAN_LOCK_TTL: must be more than twice CONNECTOR_API_TIMEOUT",
    )
    assert errors_of({**BACKEND, "CONNECTOR_API_TIMEOUT": "1800"}) == (
        "GLEAN_LOCK_TTL: must be more than twice CONNECTOR_API_TIMEOUT",
    )
    parse_config({**BACKEND, "CONNECTOR_API_TIMEOUT": "1800", "GLEAN_LOCK_TTL": "3601"})


def test_in_direct_mode_the_lock_must_outlive_any_one_request():
    assert errors_of({**DIRECT, "GLEAN_LOCK_TTL": "120"}) == (
        "GLEAN_LOCK_TTL: must be more than twice the 60 s a request to Glean or the "
        "source may take",
    )
    parse_config({**DIRECT, "GLEAN_LOCK_TTL": "121"})
