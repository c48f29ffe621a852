"""Pages this builder did not write, and which of them are someone else's.

PyTorch mirrors dependency indexes whose pages link to other hosts, e.g.
``whl/cu121/nvidia-cudnn-cu12/index.html`` pointing at files.pythonhosted.org. Its generator
never overwrites such a page (test-infra#8115) and lists such a project as *index-only*. The
same bucket also holds the generator's own pages (``whl/cu121/torch/index.html``), some with
absolute links to the hosts that serve this bucket (``https://download-r2.pytorch.org/whl/…``,
written by ``manage_v2.py``): those are pages like ours, built from the same files, and ours
replace them.

The rule: a link is **external** when its ``href`` is an absolute URL (``http://``,
``https://`` or scheme-relative ``//``) whose host is not one of :class:`FileHosts`: the host
of ``FILE_BASE_URL`` and the hosts ``FILE_HOSTS`` names (by default the ones PyTorch serves this
bucket from). Root-relative and relative links are always this bucket's. A page *holds
external links* when at least one of its links is external. Such pages are found in two places,
and judged the same way:

* in the main destination bucket: a page whose ETag is not one this builder wrote is read once
  (per ETag and set of file hosts); with external links it is never overwritten;
* in the source bucket, next to the wheels (PyTorch keeps them there): a sub-directory
  ``<dir>/<project>/`` of an indexed directory holding ``index.html`` is read when its
  directory's listing changes; with external links the page is published as it is.

A page without external links points at files of this bucket: it is the output of a generator
like this one, never a mirror, and the page built from the files themselves is the better one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_FILE_HOSTS = (
    "download.pytorch.org",
    "download-r2.pytorch.org",
    "d21usjoq99fcb9.cloudfront.net",
)
"""Where PyTorch serves its bucket's files: download.pytorch.org, its R2 mirror (the absolute
base ``manage_v2.py`` writes for foundation packages) and the CloudFront distribution behind it
(the base of its R2 pages for other packages)."""

_ABSOLUTE_HREF = re.compile(
    rb"""href\s*=\s*["']?\s*(?:https?:)?//([^/"'\s>?#\\]+)""", re.IGNORECASE
)
"""The authority (``user@host:port``) of every absolute or scheme-relative link."""
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def parse_host(text: str) -> str:
    """A host name as ``FILE_HOSTS`` gives it (``Download.PyTorch.org``), lower-cased. Raises
    ``ValueError`` for anything but a DNS name or an IPv4 address (no scheme, port or path)."""
    host = text.strip().lower().rstrip(".")
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"not a host name: {text!r} (expected e.g. download.pytorch.org)")
    return host


def _hostname(authority: bytes) -> str:
    """The host of a link's authority, as :func:`parse_host` spells it: no user information,
    no port, lower case, no trailing dot."""
    host = authority.rpartition(b"@")[2]
    if host.startswith(b"["):  # an IPv6 literal: never one of ours
        return host.partition(b"]")[0].decode("ascii", "replace") + "]"
    return host.partition(b":")[0].decode("ascii", "replace").lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class FileHosts:
    """The hosts that serve this bucket's files; a link to any other host is external."""

    names: frozenset[str]

    @classmethod
    def of(cls, file_base_url: str, hosts: Iterable[str]) -> FileHosts:
        names = set(hosts)
        base_host = urlsplit(file_base_url).hostname
        if base_host:
            names.add(base_host.rstrip("."))
        return cls(frozenset(names))

    @property
    def signature(self) -> str:
        """Changes whenever the rule does: verdicts reached under other hosts are void."""
        joined = ",".join(sorted(self.names)).encode()
        return hashlib.sha256(joined).hexdigest()[:16]

    def holds_external_links(self, body: bytes) -> bool:
        """Whether an HTML page links to a host other than these (root-relative and relative
        links are always this bucket's)."""
        return any(
            _hostname(authority) not in self.names for authority in _ABSOLUTE_HREF.findall(body)
        )
