"""查看群聊 for the group metric: the activity's groups with their members and the joins they
brought in, and one group's members and joins (every state of the activity)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok
from handlers.leaderboard import access, counting, sql
from handlers.leaderboard.notify import names_of
from handlers.leaderboard.router import router
from storage.facts import Customer, CustomerGroup, GroupMember
from storage.leaderboard import Activity, Metric

BASE = "/api/leaderboard/activities/{id}/groups"


async def _joins(activity: Activity, chat_id: str | None = None) -> list[tuple[Any, ...]]:
    """Credited joins (inviter, member, at, chat) inside the window, optionally of one group."""
    query, params = counting.credited_sql(activity)
    if chat_id is not None:
        query = f"SELECT * FROM ({query}) j WHERE j.chat_id = ?"
        params = [*params, chat_id]
    return await sql.fetch(query, params)


@router.get(BASE, role=Role.STAFF)
async def groups(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx)
    if activity.metric != Metric.GROUP_JOINS:
        return json_ok({"items": []})
    chats = [str(c) for c in activity.chat_ids or []]
    rows = await CustomerGroup.filter(chat_id__in=chats).values(
        "chat_id", "name", "owner", "status"
    )
    assert ctx.user is not None
    rows = await access.visible_chats(ctx.user, rows)  # a dept admin: their departments' only
    members: dict[str, int] = {}
    for chat, kind in await GroupMember.filter(chat_id__in=chats).values_list(
        "chat_id", "member_type"
    ):
        members[chat] = members.get(chat, 0) + (kind == 2)
    joins: dict[str, int] = {}
    for row in await _joins(activity):
        joins[row[3]] = joins.get(row[3], 0) + 1
    owners = await names_of([r["owner"] for r in rows if r["owner"]])
    items = [
        r
        | {
            "owner_name": owners.get(r["owner"], r["owner"]),
            "customers": members.get(r["chat_id"], 0),
            "joins": joins.get(r["chat_id"], 0),
        }
        for r in rows
    ]
    return json_ok({"items": items})


@router.get(BASE + "/{chat_id}", role=Role.STAFF)
async def group_detail(ctx: RequestContext) -> web.StreamResponse:
    """One activity group: its customers now, and the joins the activity credited."""
    activity = await access.load(ctx)
    chat_id = ctx.request.match_info["chat_id"]
    if activity.metric != Metric.GROUP_JOINS or chat_id not in (activity.chat_ids or []):
        raise ApiError(404, "该群聊不在此活动中")
    group = await CustomerGroup.get_or_none(chat_id=chat_id)
    assert ctx.user is not None
    if group and not await access.visible_chats(ctx.user, [{"owner": group.owner}]):
        raise ApiError(404, "该群聊不在此活动中")
    current = await GroupMember.filter(chat_id=chat_id, member_type=2).order_by("join_time")
    joins = await _joins(activity, chat_id)
    ids = {m.member_id for m in current} | {str(j[1]) for j in joins}
    known = dict(
        await Customer.filter(external_userid__in=ids).values_list("external_userid", "name")
    )
    staff = await names_of(
        list({m.invitor for m in current if m.invitor} | {str(j[0]) for j in joins})
    )

    nicknames = {m.member_id: m.name for m in current}

    def name(member_id: str, fallback: str = "") -> str:
        return str(known.get(member_id) or fallback or member_id)

    return json_ok(
        {
            "chat_id": chat_id,
            "name": group.name if group else chat_id,
            "members": [
                {
                    "external_userid": m.member_id,
                    "name": name(m.member_id, m.name),
                    "join_time": m.join_time,
                    "join_scene": m.join_scene,
                    "invitor_name": staff.get(m.invitor, "") if m.invitor else "",
                }
                for m in current
            ],
            "joins": [
                {
                    "external_userid": str(j[1]),
                    "name": name(str(j[1]), nicknames.get(str(j[1]), "")),
                    "at": sql.to_dt(j[2]),
                    "credited_name": staff.get(str(j[0]), str(j[0])),
                }
                for j in joins
            ],
        }
    )
