"""The swarm's pages, rendered with jinja2 (autoescaping on).

The templates live in Python modules as strings because wrangler bundles Python modules, not
package data. Each page is static apart from the swarm id: the dashboard's data arrives over its
own WebSocket (``role=observer``) and the join page is itself a device, so rendering costs
nothing per update.
"""

from __future__ import annotations

import jinja2

from flaresuite.swarm.templates.dashboard import DASHBOARD
from flaresuite.swarm.templates.join import JOIN

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_DASHBOARD = _ENVIRONMENT.from_string(DASHBOARD)
_JOIN = _ENVIRONMENT.from_string(JOIN)


def render_dashboard(swarm_id: str) -> str:
    return _DASHBOARD.render(swarm_id=swarm_id)


def render_join(swarm_id: str) -> str:
    return _JOIN.render(swarm_id=swarm_id)
