"""Local secrets and vars, read from ``.dev.vars`` the way ``wrangler dev`` reads them.

wrangler (``getVarsForDev``): next to ``wrangler.toml``, ``.dev.vars.<env>`` is read when
``--env`` names an environment and the file exists, **instead of** ``.dev.vars``; the file is
dotenv (``NAME=value``, quotes, ``#`` comments, no ``${}`` expansion); its values override the
``[vars]`` of wrangler.toml and reach the Worker as secrets. ``pywrangler secret put`` sets
the deployed Worker's secrets and has no effect locally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from flaresuite.config import Setting


@dataclass(frozen=True)
class DevVars:
    path: Path | None
    """The file read, or None when there was none."""
    values: Mapping[str, str]


def read_dev_vars(directory: Path, env: str | None) -> DevVars:
    candidates = [directory / f".dev.vars.{env}"] if env else []
    candidates.append(directory / ".dev.vars")
    for path in candidates:
        if path.is_file():
            values = dotenv_values(path, interpolate=False)
            return DevVars(path, {k: v for k, v in values.items() if v is not None})
    return DevVars(None, {})


@dataclass(frozen=True)
class Missing:
    """Settings without a value, split the way a developer acts on them."""

    required: tuple[Setting, ...]
    optional_secrets: tuple[Setting, ...]


def missing_settings(settings: Iterable[Setting], values: Mapping[str, object]) -> Missing:
    """Settings that are unset in ``values`` (blank counts as unset, as ``EnvReader`` reads)."""

    def unset(setting: Setting) -> bool:
        value = values.get(setting.name)
        return value is None or (isinstance(value, str) and not value.strip())

    absent = [s for s in settings if unset(s)]
    return Missing(
        required=tuple(s for s in absent if s.required),
        optional_secrets=tuple(s for s in absent if s.secret and not s.required),
    )
