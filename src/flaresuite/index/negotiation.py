"""PEP 691 content negotiation: which representation of a simple-index page to serve.

Clients list the media types they accept with quality values (RFC 9110 section 12.5.1), e.g.
pip's ``application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1,
text/html; q=0.01``. The server answers with the acceptable type of highest quality, preferring
JSON on a tie, and with HTML when the client sends no ``Accept`` at all; nothing acceptable is
``406 Not Acceptable``. Used by ``flaresuite index serve``; a front end for R2 could use it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from flaresuite.index.pages import HTML, SIMPLE_JSON

SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"
_LATEST = {
    "application/vnd.pypi.simple.latest+json": SIMPLE_JSON,
    "application/vnd.pypi.simple.latest+html": SIMPLE_HTML,
}
_OFFERS = (SIMPLE_JSON, SIMPLE_HTML, "text/html")
"""Our representations, best first: ties go to JSON."""


@dataclass(frozen=True, slots=True)
class Representation:
    json: bool
    content_type: str
    """What the response says it is: the type the client asked for."""


def negotiate(accept: str | None) -> Representation | None:
    """The representation to serve for an ``Accept`` header, or ``None`` (406)."""
    if accept is None or not accept.strip():
        return Representation(False, HTML)
    best: tuple[float, int, str] | None = None
    for item in accept.split(","):
        media, _, parameters = item.partition(";")
        media = _LATEST.get(media.strip().lower(), media.strip().lower())
        quality = _quality(parameters)
        for rank, offer in enumerate(_OFFERS):
            if quality > 0 and _matches(media, offer):
                candidate = (quality, -rank, offer)
                if best is None or candidate > best:
                    best = candidate
    if best is None:
        return None
    offer = best[2]
    if offer == SIMPLE_JSON:
        return Representation(True, SIMPLE_JSON)
    return Representation(False, SIMPLE_HTML if offer == SIMPLE_HTML else HTML)


def _matches(media: str, offer: str) -> bool:
    if media in ("*/*", offer):
        return True
    kind, _, sub = media.partition("/")
    return sub == "*" and offer.startswith(kind + "/")


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
