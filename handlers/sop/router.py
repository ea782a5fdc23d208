"""朋友圈SOP's router and pages; the modules of handlers/sop decorate it."""

from __future__ import annotations

from pydantic import Field

from bot.auth_types import Role
from bot.router import Router
from bot.settings import FeatureSection

router = Router("sop")


@router.settings
class SopSettings(FeatureSection):
    """`[sop]` in the config file, or SCRMBOT_SOP__<KEY>."""

    tasks_per_minute: int = Field(
        8, ge=1, le=10, title="每分钟创建的企业朋友圈任务数（企业微信上限 10）"
    )
    alert_window_minutes: int = Field(30, ge=1, le=1440, title="点击提醒合并时间（分钟）")
    plan_days: int = Field(35, ge=7, le=120, title="提前排好的运行天数")


router.page("admin", "朋友圈SOP", "/static/sop/admin.js", role=Role.DEPT_ADMIN)
router.page("sidebar", "朋友圈任务", "/static/sop/sidebar.js")
