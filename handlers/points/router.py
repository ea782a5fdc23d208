"""The points feature's router, its settings section and its pages; the modules of
handlers/points decorate the router."""

from __future__ import annotations

from pydantic import Field

from bot.auth_types import Role
from bot.router import Router
from bot.settings import FeatureSection

router = Router("points")


@router.settings
class PointsSettings(FeatureSection):
    """`[points]` in the config file, or SCRMBOT_POINTS__<KEY>."""

    # Customer-page actions (sign-in, redeem, profile) per minute per visitor; 0 = no limit.
    actions_per_minute: int = Field(30, ge=0)


router.page("admin", "社群积分", "/static/points/admin.js", role=Role.ADMIN)
router.page("profile", "社群积分", "/static/points/profile.js")
