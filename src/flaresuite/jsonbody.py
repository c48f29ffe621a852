"""The one JSON guard every Worker puts in front of ``json.loads``: request bodies and
WebSocket frames alike.

Checks run before anything is parsed, because on Pyodide a deeply nested value exhausts the
WebAssembly stack and kills the whole Worker (``RangeError: Maximum call stack size
exceeded``), long before Python could raise ``RecursionError``:

* size, in bytes, against the caller's limit (413);
* UTF-8 only (RFC 8259 section 8.1): a byte-order mark or UTF-16/32 text is refused (400), so a
  body can never mean one thing to this guard and another to a lenient decoder;
* nesting depth at most :data:`MAX_DEPTH` arrays and objects, counted by a linear scan that
  skips strings (400);

then the parse itself refuses what RFC 8259 leaves ambiguous or Python alone accepts:

* duplicate member names (``{"dryRun": true, "dryRun": false}`` must not pick one silently);
* ``NaN``, ``Infinity`` and ``-Infinity``;
* integers too long to convert (Python's ``int_max_str_digits``).

Every refusal is a :class:`BadJson`, whose message never quotes the input.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flaresuite.errors import BadInput

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused. No request or frame of the suite
needs more than 4; 64 leaves room and stays far from any interpreter's stack."""

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class BadJson(BadInput):
    """A body or frame that is not acceptable JSON; ``status`` is 400 or 413."""


def parse_json(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``data``, or :class:`BadJson`.

    ``str`` input (a WebSocket text frame) is measured as UTF-8; a lone surrogate in it, which
    no UTF-8 text can hold, is refused.
    """
    if isinstance(data, str):
        try:
            encoded = data.encode("utf-8")
        except UnicodeEncodeError:
            raise BadJson("text is not valid Unicode (lone surrogate)") from None
    else:
        encoded = bytes(data)
    if len(encoded) > max_bytes:
        raise BadJson(f"body is {len(encoded)} bytes; the limit is {max_bytes}", status=413)
    if encoded.startswith(_BOMS):
        raise BadJson("body must be UTF-8 JSON without a byte-order mark")
    try:
        text = encoded.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("body must be UTF-8 JSON") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise BadJson(f"JSON is nested {depth} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except _Refused as refused:
        raise BadJson(str(refused)) from None
    except ValueError as error:  # JSONDecodeError, and int conversion past the digit limit
        raise BadJson(f"body is not valid JSON ({_reason(error)})") from None


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``text``, ignoring brackets inside strings.

    It does not validate: it only bounds what the parser will recurse into, so malformed text
    gets a depth too and is then refused by the parser. Strings are removed by one regular
    expression first (an unterminated one runs to the end), which keeps a 1 MiB body to a few
    milliseconds."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


_STRINGS = re.compile(r'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class _Refused(ValueError):
    pass


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _Refused("an object names the same member more than once")
    return document


def _no_constant(name: str) -> None:
    raise _Refused(f"{name} is not a JSON number")


def _reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return "a number is too long"
