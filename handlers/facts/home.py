"""The facts tiles on the console home: today's new customers, losses and group joins, in
the person's own scope (staff: their own customers; dept admins: their departments)."""

from __future__ import annotations

from bot.auth import scope_userids
from bot.auth_types import Principal
from bot.deps import Deps
from bot.home import today
from bot.router_types import Tile
from handlers.facts.router import router
from storage.facts import CustomerGroup, FollowEvent, GroupMembershipEvent

EXTERNAL = 2


@router.tile
async def facts_tiles(deps: Deps, user: Principal) -> list[Tile]:
    start, end = today(deps)
    scope = await scope_userids(user)
    follows = FollowEvent.filter(at__gte=start, at__lt=end)
    joins = GroupMembershipEvent.filter(
        at__gte=start, at__lt=end, kind="join", member_type=EXTERNAL
    )
    if scope is not None:
        follows = follows.filter(userid__in=sorted(scope))
        owned = CustomerGroup.filter(owner__in=sorted(scope)).values_list("chat_id", flat=True)
        joins = joins.filter(chat_id__in=list(await owned))
    added = await follows.filter(kind="add").distinct().values_list("external_userid", flat=True)
    lost = await follows.filter(kind="end").distinct().values_list("external_userid", flat=True)
    link = "#客户管理"
    return [
        Tile("今日新增客户", len(set(added)), link=link, order=10),
        Tile("今日流失客户", len(set(lost)), link=link, order=11, alert=bool(lost)),
        Tile("今日入群人数", await joins.count(), link=link, order=20),
    ]
