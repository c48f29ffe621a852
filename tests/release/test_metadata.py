"""The artifact ConfigMap: what downstream deployment reads to find a bundle."""

from __future__ import annotations

import pytest
import yaml

from flaresuite_host.release.errors import ReleaseSetupError
from flaresuite_host.release.fingerprint import MAX_BUNDLE_BYTES, Fingerprint
from flaresuite_host.release.location import ArtifactLocation
from flaresuite_host.release.metadata import artifact_config_map, owner_label, to_yaml

BUNDLE = Fingerprint(sha256="9a3b" * 16, size=245678)
LOCATION = ArtifactLocation("worker-scripts", "index/abc123def456.tar.gz")


def config_map(**overrides) -> dict:
    arguments = dict(name="index-artifact-metadata", location=LOCATION, bundle=BUNDLE)
    arguments.update(overrides)
    return yaml.safe_load(to_yaml(artifact_config_map(**arguments)))


def test_the_config_map_records_bucket_path_hash_and_size_as_strings() -> None:
    manifest = config_map(
        owner=owner_label("planton.cloud/service-id", "svc-abc123"),
        namespace="planton-cloud-pipelines",
    )
    assert manifest == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "index-artifact-metadata",
            "namespace": "planton-cloud-pipelines",
            "labels": {
                "app.kubernetes.io/managed-by": "flaresuite",
                "planton.cloud/service-id": "svc-abc123",
            },
        },
        "data": {
            "bucket": "worker-scripts",
            "path": "index/abc123def456.tar.gz",
            "content-hash": "9a3b" * 16,
            "size-bytes": "245678",
        },
    }


def test_without_an_owner_label_only_managed_by_is_set() -> None:
    manifest = config_map(owner=owner_label("", ""), managed_by="planton-cloud")
    assert manifest["metadata"] == {
        "name": "index-artifact-metadata",
        "labels": {"app.kubernetes.io/managed-by": "planton-cloud"},
    }


def test_the_yaml_is_block_style_in_manifest_order() -> None:
    text = to_yaml(artifact_config_map(name="m", location=LOCATION, bundle=BUNDLE))
    assert text.splitlines()[:3] == ["apiVersion: v1", "kind: ConfigMap", "metadata:"]
    assert "size-bytes: '245678'" in text


def test_a_bundle_of_exactly_10_mb_is_accepted_and_one_byte_more_refused() -> None:
    at_limit = Fingerprint(sha256="0" * 64, size=MAX_BUNDLE_BYTES)
    assert config_map(bundle=at_limit)["data"]["size-bytes"] == str(MAX_BUNDLE_BYTES)
    with pytest.raises(
        ReleaseSetupError, match="10485761 bytes, over Cloudflare's Worker size limit of 10 MB"
    ):
        config_map(bundle=Fingerprint(sha256="0" * 64, size=MAX_BUNDLE_BYTES + 1))


@pytest.mark.parametrize("key, value", [("planton.cloud/service-id", ""), ("", "svc-1")])
def test_an_owner_label_needs_both_key_and_value(key: str, value: str) -> None:
    with pytest.raises(
        ReleaseSetupError, match="Either provide both the owner label key and value"
    ):
        owner_label(key, value)


@pytest.mark.parametrize(
    "key",
    [
        "-bad",
        "Bad.Domain/name",
        "a/b/c",
        "example.com/",
        "x" * 64,
        "example.com/-name",
    ],
)
def test_an_invalid_owner_label_key_is_refused(key: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid label key"):
        owner_label(key, "v")


@pytest.mark.parametrize("value", ["has space", "-leading", "x" * 64, "trailing."])
def test_an_invalid_owner_label_value_is_refused(value: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid value"):
        owner_label("planton.cloud/service-id", value)


def test_the_owner_label_cannot_replace_managed_by() -> None:
    with pytest.raises(ReleaseSetupError, match=r"cannot be app\.kubernetes\.io/managed-by"):
        owner_label("app.kubernetes.io/managed-by", "someone")


@pytest.mark.parametrize("name", ["Upper", "-x", "under_score", "x" * 254, ""])
def test_an_invalid_config_map_name_is_refused(name: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid ConfigMap name"):
        config_map(name=name)


@pytest.mark.parametrize("namespace", ["dotted.ns", "Upper", "x" * 64])
def test_an_invalid_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid namespace"):
        config_map(namespace=namespace)


@pytest.mark.parametrize("bucket", ["ab", "Upper", "-lead", "trail-", "a..b", "x" * 64])
def test_an_invalid_bucket_name_is_refused(bucket: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid bucket name"):
        ArtifactLocation(bucket, "k")


@pytest.mark.parametrize("key", ["", "/rooted", "x" * 1025, "index/\udcff.tar.gz"])
def test_an_invalid_object_key_is_refused(key: str) -> None:
    with pytest.raises(ReleaseSetupError, match="invalid object key"):
        ArtifactLocation("bucket", key)
