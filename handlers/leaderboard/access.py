"""Who may see and manage an activity, and loading one for a request."""

from __future__ import annotations

from typing import Any

from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, path_id, scope_userids
from handlers.leaderboard.activities import list_values
from handlers.leaderboard.counting import participant_ids
from storage.facts import CustomerGroup
from storage.leaderboard import Activity, ActivityDepartment, Participant, Team


async def manages(user: Principal, activity: Activity, scope: set[str] | None = None) -> bool:
    """Admins: all. Department admins: activities whose participants are all in their
    departments (their own drafts with nobody in them too)."""
    if user.sees_all:
        return True
    if user.role is not Role.DEPT_ADMIN:
        return False
    scope = scope if scope is not None else await scope_userids(user) or set()
    members = set(await participant_ids(activity.id))
    if not members:
        return activity.created_by == user.userid
    return members <= scope


async def sees(user: Principal, activity: Activity, scope: set[str] | None = None) -> bool:
    if await manages(user, activity, scope):
        return True
    return await Participant.filter(activity_id=activity.id, userid=user.userid).exists()


def activity_id(ctx: RequestContext) -> int:
    return path_id(ctx.request, "id", "活动不存在")


async def load(ctx: RequestContext, *, manage: bool = False) -> Activity:
    assert ctx.user is not None
    activity = await Activity.get_or_none(id=activity_id(ctx), deleted=False)
    if activity is None:
        raise ApiError(404, "活动不存在或已删除")
    allowed = await (manages if manage else sees)(ctx.user, activity)
    if not allowed:
        raise ApiError(403, "没有权限查看或管理这个活动")
    return activity


async def check_chats_in_scope(user: Principal, chat_ids: list[str]) -> None:
    """A department admin may only pick customer groups owned by staff they manage (else the
    activity's group list would show them other departments' group names)."""
    if user.sees_all or not chat_ids:
        return
    scope = await scope_userids(user) or set()
    owners = dict(await CustomerGroup.filter(chat_id__in=chat_ids).values_list("chat_id", "owner"))
    outside = [c for c in chat_ids if owners.get(c) not in scope]
    if outside:
        raise ApiError(403, "所选群聊不在你管理的部门内", "chat_ids")


async def visible_chats(user: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The activity's groups a reader may name: a department admin only their departments'."""
    if user.role is not Role.DEPT_ADMIN:
        return rows
    scope = await scope_userids(user) or set()
    return [r for r in rows if r["owner"] in scope]


async def current_lists(activity_id: int) -> dict[str, Any]:
    picked = await Participant.filter(activity_id=activity_id, picked=True).values_list(
        "userid", flat=True
    )
    depts = await ActivityDepartment.filter(activity_id=activity_id).values_list(
        "department_id", flat=True
    )
    teams = await Team.filter(activity_id=activity_id).order_by("id")
    return list_values(picked, depts, [(t.name, t.department_id, t.members) for t in teams])
