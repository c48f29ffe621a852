""".dev.vars.example lists every var and secret of every Worker, in the section of the file
that Worker reads, and leaves uncommented exactly the required ones wrangler.toml does not set
(what a developer must fill in)."""

from __future__ import annotations

import importlib
import re

import pytest

from flaresuite_host.dev.wrangler import worker_spec
from tests.dev.devserver import ROOT

EXAMPLE = ROOT / ".dev.vars.example"
SECTION = re.compile(r"^# --- .+: (\.dev\.vars(?:\.[\w-]+)?) ---$")
ENTRY = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=")
AREAS = {
    "index": (None, ".dev.vars"),
    "purge": ("delete-proxy", ".dev.vars.delete-proxy"),
    "glean": ("glean", ".dev.vars.glean"),
    "swarm": ("swarm", ".dev.vars.swarm"),
}
"""Each Worker's config module (``flaresuite.<area>.config``): its wrangler env and the file
it reads."""


def sections() -> dict[str, dict[str, bool]]:
    """File name → {setting name: required (uncommented)}."""
    found: dict[str, dict[str, bool]] = {}
    current = None
    for line in EXAMPLE.read_text().splitlines():
        if header := SECTION.match(line):
            current = found.setdefault(header.group(1), {})
        elif (entry := ENTRY.match(line)) and current is not None:
            current[entry.group(2)] = entry.group(1) is None
    return found


@pytest.mark.parametrize("area", AREAS)
def test_each_worker_s_section_lists_exactly_its_settings(area):
    settings = getattr(importlib.import_module(f"flaresuite.{area}.config"), "SETTINGS", None)
    if settings is None:
        pytest.skip(f"flaresuite.{area}.config declares no SETTINGS yet")

    env, file = AREAS[area]
    in_toml = worker_spec(ROOT / "wrangler.toml", env).vars

    listed = sections()[file]

    assert listed == {s.name: s.required and s.name not in in_toml for s in settings}


def test_every_section_belongs_to_a_worker():
    assert set(sections()) == {file for _, file in AREAS.values()}
