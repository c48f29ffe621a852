"""Which identity the settings describe, and the mistakes refused before any request."""

from __future__ import annotations

import pytest

from flaresuite.config import EnvReader
from flaresuite.errors import ConfigError
from flaresuite.s3.credentials import Credentials, CredentialSettings, read_credentials
from flaresuite.s3.sts import credential_source


def settings(env: dict[str, str]) -> CredentialSettings:
    reader = EnvReader(env)
    found = read_credentials(reader)
    reader.check()
    return found


def test_no_key_means_anonymous_and_a_blank_key_is_no_key():
    assert settings({}).keys is None
    assert settings({"S3_ACCESS_KEY_ID": " ", "S3_SECRET_ACCESS_KEY": "\t"}).keys is None


def test_a_key_pair_without_a_role_signs_directly():
    found = settings({"S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "SK"})
    assert credential_source(found, fetch=None, region="us-east-1") == Credentials("AK", "SK")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"S3_ACCESS_KEY_ID": "AK"}, "S3_SECRET_ACCESS_KEY"),
        ({"S3_SECRET_ACCESS_KEY": "SK"}, "S3_ACCESS_KEY_ID"),
        ({"S3_SESSION_TOKEN": "T"}, "S3_SESSION_TOKEN"),
        ({"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/reader"}, "AWS_ROLE_ARN"),
        ({"AWS_ROLE_ARN": "reader"}, "AWS_ROLE_ARN"),
        (
            {"S3_ACCESS_KEY_ID": "A", "S3_SECRET_ACCESS_KEY": "S", "AWS_ROLE_SESSION_NAME": "a b"},
            "AWS_ROLE_SESSION_NAME",
        ),
        ({"STS_ENDPOINT_URL": "https://user:pw@sts.example"}, "STS_ENDPOINT_URL"),
    ],
)
def test_an_inconsistent_identity_names_the_variable_and_never_a_value(env, variable):
    with pytest.raises(ConfigError) as refused:
        settings(env)

    assert variable in refused.value.variables
    assert not any(value in str(refused.value) for value in ("AK", "SK", "pw"))


def test_the_key_pair_helper_refuses_half_a_pair():
    with pytest.raises(ConfigError) as refused:
        Credentials.from_env({"S3_ACCESS_KEY_ID": "AK"})
    assert refused.value.variables == ("S3_SECRET_ACCESS_KEY",)


def test_secrets_never_appear_in_reprs():
    shown = repr(Credentials("AKID", "very-secret", "session-secret", expires_at=1.0))
    assert "AKID" in shown and "secret" not in shown
