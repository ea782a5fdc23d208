"""The full recomputation after an edit, run as a job in the worker (not in the admin's
request), its reads at the lowest CPU priority as the data tables' are."""

from __future__ import annotations

from typing import Any

from handlers.leaderboard import sql
from handlers.leaderboard.counting import rebuild
from handlers.leaderboard.notify import check_all_zones
from handlers.leaderboard.router import router
from storage.leaderboard import Activity


@router.job
async def leaderboard_rebuild(ctx: dict[str, Any], activity_id: int, cutoff_moved: bool) -> None:
    deps = ctx["deps"]
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is None:
        return
    with sql.lowest_priority():
        await rebuild(deps.redis, activity)
    if cutoff_moved:
        await check_all_zones(deps, activity)
