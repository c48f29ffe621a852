"""When a swarm page's socket drops, how long it waits before reconnecting: one formula,
rendered into both pages (the dashboard and the join page), so they cannot drift apart.

Exponential backoff with full jitter: the ``attempt``-th wait is drawn uniformly between 0 and
a cap that doubles from 0.5 s up to 30 s. A deploy drops every page of a swarm at once; drawn
over the whole interval, their reconnects spread out instead of arriving in waves (the same
policy as the suite's server-side retries, ``flaresuite.retry.Backoff``). A page resets
``attempt`` when its socket is welcomed.
"""

RECONNECT_JS = r"""  // Exponential backoff with full jitter (flaresuite.swarm.templates.reconnect).
  function reconnectDelay(attempt) {
    return Math.random() * Math.min(30000, 500 * Math.pow(2, attempt));
  }
"""
