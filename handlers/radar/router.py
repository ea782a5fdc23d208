"""The radar feature's router, its settings section and its pages; the modules of
handlers/radar decorate the router."""

from __future__ import annotations

from pydantic import Field

from bot.auth_types import Role
from bot.router import Router
from bot.settings import FeatureSection

router = Router("radar")


@router.settings
class RadarSettings(FeatureSection):
    """`[radar]` in the config file, or SCRMBOT_RADAR__<KEY>."""

    # Landing-page opens per minute per visitor (or per IP for a browser without our cookie);
    # 0 = no limit. Generous: a phone behind carrier NAT shares its IP with many others.
    landing_per_minute: int = Field(120, ge=0)
    # Opens per minute per client address from browsers without our cookie (each becomes a new
    # visitor). Sized for carrier NAT and company proxies, which put thousands of phones behind
    # one address; 0 = no limit.
    new_visitors_per_minute: int = Field(3000, ge=0)


router.page("admin", "智能雷达", "/static/radar/admin.js", role=Role.ADMIN)
router.page("toolbar", "智能雷达", "/static/radar/toolbar.js")
router.page("sidebar", "雷达数据", "/static/radar/sidebar.js")
router.page("profile", "雷达访问", "/static/radar/profile.js")
