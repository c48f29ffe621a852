"""Pages this builder did not write.

PyTorch mirrors dependency indexes whose pages link to other hosts, e.g.
``whl/cu121/nvidia-cudnn-cu12/index.html`` pointing at files.pythonhosted.org. Its generator
never overwrites a page that holds external links (test-infra#8115) and lists such a project as
*index-only*. Such pages are found in two places, and judged the same way, by their links:

* in the main destination bucket: a page whose ETag is not one this builder wrote is read once
  (per ETag); with external links it is never overwritten;
* in the source bucket, next to the wheels (PyTorch keeps them there): a sub-directory
  ``<dir>/<project>/`` of an indexed directory holding ``index.html`` is read when its
  directory's listing changes; with external links the page is published as it is.

A page without external links points at files of our own bucket: it is the output of a
generator like this one (the reference writes its pages beside the wheels), never a mirror, and
the page built from the files themselves is the better one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_ABSOLUTE_HREF = re.compile(rb"""href\s*=\s*["']?\s*(?:https?:)?//([^/"'\s>?#]+)""", re.IGNORECASE)


def holds_external_links(body: bytes, own_base_url: str = "") -> bool:
    """Whether an HTML page links to a host other than the one files are served from
    (``own_base_url``'s; root-relative links are always our own)."""
    own_host = (urlsplit(own_base_url).netloc or "").lower().encode()
    return any(host.lower() != own_host for host in _ABSOLUTE_HREF.findall(body))
