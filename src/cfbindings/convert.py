"""JS values as Python values, and a Worker's ``env`` as a mapping of its vars and secrets."""

from __future__ import annotations

from collections.abc import Mapping

import js
from pyodide.ffi import jsnull, to_js


def field(value, name: str):
    """``value.name`` for a JS object or ``value[name]`` for a converted dict; JS null and
    undefined read as ``None``."""
    found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
    return None if found is jsnull else found


def as_bytes(buffer) -> bytes:
    """An ArrayBuffer arrives as a JsProxy (raw binding) or a memoryview (after the SDK's
    ``to_py``)."""
    if hasattr(buffer, "to_bytes"):
        return buffer.to_bytes()
    return bytes(buffer)


def js_object(mapping: Mapping[str, object]):
    """A plain JS object (not a ``Map``, which is what ``to_js`` makes of a dict by default)."""
    return to_js(dict(mapping), dict_converter=js.Object.fromEntries)


def binding(env, name: str, adapter=lambda raw: raw):
    """The binding ``name`` of a Worker's ``env`` through ``adapter``, or ``None`` where the
    env lacks it: the core reports that as a configuration problem (503 naming it), not as an
    ``AttributeError`` and a 500."""
    found = getattr(env, name, None)
    return None if found is None else adapter(found)


class EnvVars:
    """The Worker's vars and secrets by name: the :class:`flaresuite.config.EnvSource` an
    :class:`~flaresuite.config.EnvReader` reads.

    Only strings and numbers are values; bindings (buckets, namespaces, queues) and absent
    names read as ``None``, so a config parser cannot mistake a binding for a setting."""

    def __init__(self, env) -> None:
        self._env = env

    def get(self, name: str, /) -> object:
        value = getattr(self._env, name, None)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return value
        return None
