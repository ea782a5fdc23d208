"""智能雷达 (smart radar): tracked content links sent from the chat toolbar.

Admins manage groups and radars; staff send a radar as a share with a signed token; the
public landing page `/r/<token>` records visits, forwarding levels and heartbeats; the worker
tags, writes the timeline, alerts the staff member and publishes `RadarVisited`; the console
shows the analytics.
"""

from __future__ import annotations

from handlers.radar import (  # noqa: F401  (each module decorates the router)
    admin,
    batch,
    buttons,
    demo,
    followup,
    home,
    landing,
    lead,
    live,
    stats,
    talk,
    toolbar,
)
from handlers.radar.router import RadarSettings, router

__all__ = ["RadarSettings", "router"]
