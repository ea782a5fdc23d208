"""The leaderboard's router and pages; the modules of handlers/leaderboard decorate it."""

from __future__ import annotations

from bot.auth_types import Role
from bot.router import Router

router = Router("leaderboard")
router.page("admin", "拉新排行榜", "/static/leaderboard/admin.js", role=Role.DEPT_ADMIN)
router.page("sidebar", "拉新排行榜", "/static/leaderboard/sidebar.js")
router.page("profile", "拉新排行榜", "/static/leaderboard/profile.js")
