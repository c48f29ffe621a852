"""Both swarm pages wait before reconnecting by one formula, exponential backoff with full
jitter (docs/swarm.md, "Join from a browser"): the dashboard and the join page include the
same script, run here under the lane's Node 22."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flaresuite.swarm.templates import render_dashboard, render_join
from flaresuite.swarm.templates.reconnect import RECONNECT_JS

NODE = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "node"


@pytest.mark.parametrize("render", [render_dashboard, render_join])
def test_each_page_waits_by_the_one_shared_formula(render):
    page = render("lab")
    assert page.count(RECONNECT_JS.strip()) == 1
    assert page.count("Math.pow(2, attempt)") == 1, "no second formula beside it"
    assert page.count("reconnectDelay(attempt)") == 2, "defined once, and used"


@pytest.mark.skipif(not NODE.exists(), reason="needs the lane's Node 22 (scripts/setup_lane.sh)")
def test_the_wait_is_drawn_from_zero_up_to_a_cap_doubling_from_half_a_second_to_30_s():
    draws = [0.0, 0.5, 0.999]
    script = (
        RECONNECT_JS + f"\nvar waits = {json.dumps(draws)}.map(function (draw) {{\n"
        "  Math.random = function () { return draw; };\n"
        "  var row = [];\n"
        "  for (var attempt = 0; attempt < 12; attempt++) row.push(reconnectDelay(attempt));\n"
        "  return row;\n"
        "});\n"
        "console.log(JSON.stringify(waits));\n"
    )
    output = subprocess.run(
        [str(NODE), "-e", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    caps = [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30]
    waits = json.loads(output)
    for draw, row in zip(draws, waits, strict=True):
        assert row == pytest.approx([draw * cap * 1000 for cap in caps])
