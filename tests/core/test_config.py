"""The one way every Worker reads its vars and secrets: every problem at once, blank means
unset, and never a value in a message."""

from __future__ import annotations

import pytest

from flaresuite.config import EnvReader
from flaresuite.errors import ConfigError, FlaresuiteError, Problem
from flaresuite.http import misconfigured


def test_every_problem_is_reported_at_once_under_the_suite_root():
    reader = EnvReader({"PAGE_SIZE": "lots", "TIMEOUT": "nan"})
    reader.text("TOKEN", required=True)
    reader.integer("PAGE_SIZE", 500, minimum=1)
    reader.number("TIMEOUT", 60.0, positive=True)
    with pytest.raises(FlaresuiteError) as refused:
        reader.check()
    assert isinstance(refused.value, ConfigError)
    assert refused.value.variables == ("TOKEN", "PAGE_SIZE", "TIMEOUT")


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", None])
def test_a_blank_value_is_unset_so_a_blank_secret_fails_closed(blank):
    reader = EnvReader({"TOKEN": blank})
    assert reader.text("TOKEN", required=True) is None
    assert not reader.is_set("TOKEN")
    with pytest.raises(ConfigError, match="TOKEN: is not set"):
        reader.check()


def test_values_are_stripped_and_numbers_from_toml_read_as_text():
    reader = EnvReader({"NAME": "  wiki ", "KEEP": 30, "RATIO": 0.5})
    assert reader.text("NAME") == "wiki"
    assert reader.integer("KEEP", 60, minimum=1) == 30
    assert reader.number("RATIO", 1.0, maximum=1.0) == 0.5
    reader.check()


@pytest.mark.parametrize("value", ["0", "-3", "1_000", "²", "7.5", "99999999999999999999999"])
def test_integers_outside_the_range_or_not_plain_digits_are_problems(value):
    reader = EnvReader({"KEEP": value})
    assert reader.integer("KEEP", 60, minimum=1, maximum=10_000) == 60
    assert [p.variable for p in reader.problems] == ["KEEP"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "x"])
def test_positive_numbers_refuse_non_finite_and_non_positive_values(value):
    reader = EnvReader({"SECONDS": value})
    reader.number("SECONDS", 40.0, positive=True)
    assert [p.variable for p in reader.problems] == ["SECONDS"]


def test_urls_need_a_scheme_and_host_and_must_not_carry_credentials():
    reader = EnvReader(
        {
            "GOOD": "https://api.example/v1/",
            "NO_HOST": "https://",
            "FTP": "ftp://files.example",
            "CREDENTIALS": "https://user:hunter2@api.example",
            "PORT": "https://api.example:99999",
        }
    )
    assert reader.url("GOOD") == "https://api.example/v1"
    for name in ("NO_HOST", "FTP", "CREDENTIALS", "PORT"):
        assert reader.url(name) is None
    assert [p.variable for p in reader.problems] == ["NO_HOST", "FTP", "CREDENTIALS", "PORT"]
    assert "hunter2" not in "; ".join(str(p) for p in reader.problems)


def test_booleans_choices_and_lists():
    reader = EnvReader({"ON": "Yes", "MODE": "fast", "BAD": "maybe", "LIST": " a, b,,a ,c"})
    assert reader.boolean("ON", False) is True
    assert reader.choice("MODE", ("fast", "slow"), "slow") == "fast"
    assert reader.boolean("BAD", True) is True
    assert reader.items("LIST") == ("a", "b", "c")
    assert [p.variable for p in reader.problems] == ["BAD"]


def test_a_misconfigured_worker_answers_503_naming_variables_only():
    error = ConfigError([Problem("S3_ENDPOINT_URL", "must be a URL")])
    response = misconfigured(error)
    assert response.status == 503
    assert response.headers["cache-control"] == "no-store"
    assert b"S3_ENDPOINT_URL" in response.body and b"must be a URL" not in response.body
