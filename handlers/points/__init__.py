"""社群积分 (community points): a programme scoped to chosen customer groups, an append-only
ledger with lots, daily sign-in with tiers, 完善信息, expiry, zeroing on leaving, rewards and
redemption; the customer page `/p/`, the console and the sidebar block."""

from __future__ import annotations

from handlers.points import (  # noqa: F401  (each module decorates the router)
    admin,
    demo,
    expiry,
    follows,
    imports,
    page,
    redeem,
    rules,
    stats,
)
from handlers.points.router import PointsSettings, router

__all__ = ["PointsSettings", "router"]
