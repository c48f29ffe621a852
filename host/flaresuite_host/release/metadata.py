"""``flaresuite release metadata``: the ConfigMap that tells deployments where a bundle is.

Downstream deployment reads ``bucket``, ``path``, ``content-hash`` (sha256, hex) and
``size-bytes`` from it, and finds it by its labels: ``app.kubernetes.io/managed-by``
(https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/) and an
optional owner label. Names and labels are checked against Kubernetes' syntax here, so a bad
value fails the build instead of ``kubectl apply``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from flaresuite_host.release.errors import ReleaseSetupError
from flaresuite_host.release.fingerprint import Fingerprint, check_size
from flaresuite_host.release.location import ArtifactLocation

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
DEFAULT_MANAGED_BY = "flaresuite"

# https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ and
# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = re.compile(rf"{DNS_LABEL}(?:\.{DNS_LABEL})*\Z")
NAMESPACE = re.compile(rf"{DNS_LABEL}\Z")
LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
MAX_SUBDOMAIN = 253
MAX_LABEL = 63


@dataclass(frozen=True, slots=True)
class Label:
    key: str
    value: str

    def __post_init__(self) -> None:
        prefix, slash, name = self.key.rpartition("/")
        if not (
            LABEL_NAME.match(name)
            and len(name) <= MAX_LABEL
            and (not slash or (DNS_SUBDOMAIN.match(prefix) and len(prefix) <= MAX_SUBDOMAIN))
        ):
            raise ReleaseSetupError(
                f"invalid label key {self.key!r}: an optional DNS subdomain prefix and '/', "
                f"then a name of at most {MAX_LABEL} letters, digits, '-', '_' or '.'"
            )
        if self.value and not (LABEL_NAME.match(self.value) and len(self.value) <= MAX_LABEL):
            raise ReleaseSetupError(
                f"invalid value {self.value!r} for label {self.key}: at most {MAX_LABEL} "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            )


def owner_label(key: str, value: str) -> Label | None:
    """The optional owner label: both parts or neither (the pipeline passes empty strings)."""
    if not key and not value:
        return None
    if not key or not value:
        raise ReleaseSetupError(
            "Either provide both the owner label key and value, or neither "
            f"(got key {key!r}, value {value!r})"
        )
    if key == MANAGED_BY_LABEL:
        raise ReleaseSetupError(f"the owner label cannot be {MANAGED_BY_LABEL}: it is set already")
    return Label(key, value)


def artifact_config_map(
    *,
    name: str,
    location: ArtifactLocation,
    bundle: Fingerprint,
    owner: Label | None = None,
    managed_by: str = DEFAULT_MANAGED_BY,
    namespace: str | None = None,
) -> dict[str, object]:
    """Returns the ConfigMap manifest; refuses a bundle Cloudflare would refuse."""
    if not (DNS_SUBDOMAIN.match(name) and len(name) <= MAX_SUBDOMAIN):
        raise ReleaseSetupError(
            f"invalid ConfigMap name {name!r}: lower-case letters, digits, '-' and '.', "
            f"at most {MAX_SUBDOMAIN} characters, starting and ending with a letter or digit"
        )
    if namespace is not None and not (NAMESPACE.match(namespace) and len(namespace) <= MAX_LABEL):
        raise ReleaseSetupError(
            f"invalid namespace {namespace!r}: at most {MAX_LABEL} lower-case letters, digits "
            "and '-', starting and ending with a letter or digit"
        )
    check_size(bundle, f"the bundle for s3://{location.bucket}/{location.key}")
    labels = [Label(MANAGED_BY_LABEL, managed_by), *([owner] if owner else [])]
    metadata: dict[str, object] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = {label.key: label.value for label in labels}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        # ConfigMap data values are strings: the size is quoted, as Kubernetes requires.
        "data": {
            "bucket": location.bucket,
            "path": location.key,
            "content-hash": bundle.sha256,
            "size-bytes": str(bundle.size),
        },
    }


def to_yaml(manifest: dict[str, object]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
