"""The SOP tile on the console home: today's moments tasks posted out of those sent, scoped
like the data (a department admin counts their departments' staff); shown once a plan exists."""

from __future__ import annotations

from bot.auth import scope_userids
from bot.auth_types import Principal
from bot.deps import Deps
from bot.home import today
from bot.router_types import Tile
from handlers.sop.router import router
from storage.sop import SopPlan, SopTask, TaskState


@router.tile
async def sop_tiles(deps: Deps, user: Principal) -> list[Tile]:
    if not await SopPlan.filter(deleted=False).exists():
        return []
    start, end = today(deps)
    tasks = SopTask.filter(due_at__gte=start, due_at__lt=end)
    if (scope := await scope_userids(user)) is not None:
        tasks = tasks.filter(userid__in=sorted(scope))
    total = await tasks.count()
    posted = await tasks.filter(state=TaskState.POSTED).count()
    return [Tile("今日朋友圈已发布", f"{posted} / {total}", link="#朋友圈SOP", order=45)]
