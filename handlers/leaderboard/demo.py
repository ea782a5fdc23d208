"""Demo data: a running activity over the demo corp's staff (facts already synced)."""

from __future__ import annotations

from datetime import timedelta

from bot.deps import Deps
from handlers.leaderboard import counting, router
from handlers.leaderboard.activities import set_members, sync_participants
from storage.directory import Staff
from storage.leaderboard import Activity


@router.demo
async def seed(deps: Deps) -> None:
    if await Activity.filter(name="春季拉新冲刺").exists():
        return
    now = deps.now()
    staff = [str(u) for u in await Staff.filter(status=1).values_list("userid", flat=True)]
    activity = await Activity.create(
        name="春季拉新冲刺",
        description="活动期间添加的新客户越多排名越高，前 3 名有奖励。",
        start_at=now - timedelta(days=3),
        end_at=now + timedelta(days=4),
        top_n=3,
        started_done=True,
        created_by="",
    )
    await set_members(activity.id, staff, [])
    await sync_participants(deps.redis, activity)
    await counting.rebuild(deps.redis, activity)
