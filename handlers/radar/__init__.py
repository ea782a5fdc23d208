"""智能雷达 (smart radar): tracked content links sent from the chat toolbar.

Admins manage groups and radars; staff send a radar as a share with a signed token; the
public landing page `/r/<token>` records visits, forwarding levels and heartbeats; the worker
tags, writes the timeline and alerts the staff member; the console shows the analytics.
"""

from __future__ import annotations

from bot.auth_types import Role
from bot.router import Router
from handlers.radar import admin, demo, followup, landing, lead, live, stats, toolbar

router = Router("radar")
router.page("admin", "智能雷达", "/static/radar/admin.js", role=Role.ADMIN)
router.page("toolbar", "智能雷达", "/static/radar/toolbar.js")
router.page("sidebar", "雷达数据", "/static/radar/sidebar.js")
router.page("profile", "雷达访问", "/static/radar/profile.js")
for module in (admin, toolbar, landing, followup, lead, stats, live, demo):
    module.register(router)

__all__ = ["router"]
