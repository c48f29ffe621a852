"""What may be shown of a URL or of a caller's rejected value, in any error or log line.

Every error message and log line in the suite that names a URL passes it through
:func:`redact_url`; every log line that mentions a value a caller sent and validation refused
uses :func:`describe_rejected`. Secrets hide in both: an API key in a query string
(``?apikey=...``), a password in the userinfo, a bearer token pasted where an object key was
expected.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: scheme, host, port and path only.

    A URL that cannot be parsed is replaced entirely, since its parts cannot be told apart.
    A removed query is marked, so a reader knows the request had one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.hostname:
        # A relative reference or garbage: only the path is certainly not a credential.
        return REDACTED if parts.query or "@" in url else parts.path or REDACTED
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    redacted = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return f"{redacted}?{REDACTED}" if parts.query else redacted


def describe_rejected(value: object) -> str:
    """A fixed-shape description of a refused value: its type and size, never its content.

    An oversized object key or a malformed header may be the caller's token pasted in the
    wrong place, so not even a prefix of it is logged."""
    if isinstance(value, (str, bytes)):
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"<{type(value).__name__}, {len(value)} {unit}>"
    return f"<{type(value).__name__}>"
