"""The fission feature's router and pages; the modules of handlers/fission decorate it."""

from __future__ import annotations

from pydantic import Field

from bot.auth_types import Role
from bot.router import Router
from bot.settings import FeatureSection

router = Router("fission")


@router.settings
class FissionSettings(FeatureSection):
    """`[fission]` in the config file, or SCRMBOT_FISSION__<KEY>."""

    page_per_minute: int = Field(60, ge=0, le=10_000)
    poster_bg_max_bytes: int = Field(3_000_000, ge=10_000, le=20_000_000)


router.page("admin", "裂变活动", "/static/fission/admin.js", role=Role.DEPT_ADMIN)
router.page("sidebar", "裂变活动", "/static/fission/sidebar.js")
