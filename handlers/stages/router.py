"""The stages feature's router and its pages; the modules of handlers/stages decorate it."""

from __future__ import annotations

from bot.auth_types import Role
from bot.router import Router

router = Router("stages")

router.page("admin", "客户阶段", "/static/stages/admin.js", role=Role.DEPT_ADMIN)
router.page("profile", "客户阶段", "/static/stages/profile.js", order=20)
