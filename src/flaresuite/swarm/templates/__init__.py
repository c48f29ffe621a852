"""The swarm dashboard, rendered with jinja2 (autoescaping on).

The template lives in :mod:`.dashboard` as a Python string because wrangler bundles Python
modules, not package data. The page is static apart from the swarm id; everything live arrives
over the dashboard's own WebSocket (``role=observer``), so rendering costs nothing per update.
"""

from __future__ import annotations

import jinja2

from flaresuite.swarm.templates.dashboard import DASHBOARD

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_DASHBOARD = _ENVIRONMENT.from_string(DASHBOARD)


def render_dashboard(swarm_id: str) -> str:
    return _DASHBOARD.render(swarm_id=swarm_id)
