"""The stages tile on the console home: today's stage moves (in the person's scope), and
how many of them the rules made."""

from __future__ import annotations

from bot.auth import scope_userids
from bot.auth_types import Principal
from bot.deps import Deps
from bot.home import today
from bot.router_types import Tile
from handlers.stages.router import router
from storage.stages import Journey, MoveBy, StageTransition


@router.tile
async def stage_tiles(deps: Deps, user: Principal) -> list[Tile]:
    if not await Journey.filter(deleted=False).exists():
        return []
    start, end = today(deps)
    moves = StageTransition.filter(at__gte=start, at__lt=end)
    scope = await scope_userids(user)
    if scope is not None:
        moves = moves.filter(userid__in=sorted(scope))
    total = await moves.count()
    by_rule = await moves.filter(by=MoveBy.RULE.value).count()
    return [Tile("今日阶段变更", total, note=f"规则自动 {by_rule} 次", link="#客户阶段", order=45)]
