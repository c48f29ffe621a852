"""Limits the delete proxy enforces, with where each one comes from.

R2's 1000-key limit on one ``delete`` call is :data:`flaresuite.ports.MAX_DELETE_KEYS`: every
bucket enforces it, not only this proxy.
"""

from __future__ import annotations

R2_MAX_LIST_LIMIT = 1000
"""R2 ``list({limit})``: default and maximum 1000 objects per page."""

R2_MAX_KEY_BYTES = 1024
"""R2 object keys are at most 1024 bytes of UTF-8
(https://developers.cloudflare.com/r2/platform/limits/)."""

MAX_KEYS_PER_REQUEST = 10_000
"""Keys one ``POST /delete`` may name: ten R2 delete calls, far inside a Worker's subrequest
budget (1000 on Paid plans), with room for the list calls that find which keys existed."""

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); larger bodies get 413 before any parsing."""
