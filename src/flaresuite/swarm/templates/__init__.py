"""The swarm's pages, rendered with jinja2 (autoescaping on).

The templates live in Python modules as strings because wrangler bundles Python modules, not
package data; script both pages share (:mod:`.reconnect`) is included into each by name. Each
page is static apart from the swarm id: the dashboard's data arrives over its
own WebSocket (``role=observer``) and the join page is itself a device, so rendering costs
nothing per update.
"""

from __future__ import annotations

import jinja2

from flaresuite.swarm.templates.dashboard import DASHBOARD
from flaresuite.swarm.templates.join import JOIN
from flaresuite.swarm.templates.reconnect import RECONNECT_JS

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.DictLoader(
        {"dashboard.html": DASHBOARD, "join.html": JOIN, "reconnect.js": RECONNECT_JS}
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_DASHBOARD = _ENVIRONMENT.get_template("dashboard.html")
_JOIN = _ENVIRONMENT.get_template("join.html")


def render_dashboard(swarm_id: str) -> str:
    return _DASHBOARD.render(swarm_id=swarm_id)


def render_join(swarm_id: str) -> str:
    return _JOIN.render(swarm_id=swarm_id)
