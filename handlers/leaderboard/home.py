"""The leaderboard tile on the console home: activities running now."""

from __future__ import annotations

from bot.auth_types import Principal
from bot.deps import Deps
from bot.router_types import Tile
from handlers.leaderboard.router import router
from storage.leaderboard import Activity


@router.tile
async def leaderboard_tiles(deps: Deps, user: Principal) -> list[Tile]:
    now = deps.now()
    running = await Activity.filter(deleted=False, start_at__lte=now, end_at__gt=now).count()
    return [Tile("进行中的排行榜活动", running, link="#拉新排行榜", order=40)]
