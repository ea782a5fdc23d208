"""Picker options for the console form that no other feature serves: the departments a
person may choose participants from."""

from __future__ import annotations

from aiohttp import web

from bot.auth_types import Role
from bot.http import RequestContext, json_ok
from handlers.facts import department_tree
from handlers.leaderboard.router import router
from storage.directory import Department


@router.get("/api/leaderboard/departments", role=Role.DEPT_ADMIN)
async def departments(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    query = Department.filter(deleted=False)
    if not ctx.user.sees_all:
        query = query.filter(id__in=sorted(await department_tree(ctx.user.departments)))
    rows = await query.order_by("parent_id", "order", "id").values("id", "name", "parent_id")
    return json_ok({"items": rows})
