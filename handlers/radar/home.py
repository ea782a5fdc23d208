"""The radar tile on the console home: visits today (the person's scope: staff count the
visits of their own shares)."""

from __future__ import annotations

from bot.auth import scope_userids
from bot.auth_types import Principal
from bot.deps import Deps
from bot.home import today
from bot.router_types import Tile
from handlers.radar.router import router
from storage.radar import Visit


@router.tile
async def radar_tiles(deps: Deps, user: Principal) -> list[Tile]:
    start, end = today(deps)
    visits = Visit.filter(started_at__gte=start, started_at__lt=end)
    scope = await scope_userids(user)
    if scope is not None:
        visits = visits.filter(root_userid__in=sorted(scope))
    total = await visits.count()
    visitors = len(set(await visits.values_list("visitor_id", flat=True)))
    return [Tile("今日雷达访问", total, note=f"访客 {visitors} 人", link="#智能雷达", order=30)]
