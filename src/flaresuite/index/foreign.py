"""Pages this builder did not write.

PyTorch mirrors dependency indexes whose pages link to other hosts, e.g.
``whl/cu121/nvidia-cudnn-cu12/index.html`` pointing at files.pythonhosted.org. Its generator
never overwrites a page that holds external links (test-infra#8115) and lists such a project as
*index-only*. Here a page counts as someone else's when its ETag is not one this builder wrote;
it is then read once (per ETag) and judged by its links.
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
