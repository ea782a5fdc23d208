"""拉新排行榜 — the staff referral leaderboard (spec/leaderboard.md).

Counting lives in `counting`, the editing rules in `activities`, notices in `notify` and
`schedule`, the domain-event subscribers in `listeners`, HTTP views in `views` and `data`.
"""

from __future__ import annotations

from handlers.leaderboard import (  # noqa: F401  (each module decorates the router)
    data,
    demo,
    groups,
    home,
    listeners,
    options,
    rebuild,
    results,
    schedule,
    talk,
    views,
)
from handlers.leaderboard.router import router

__all__ = ["router"]
