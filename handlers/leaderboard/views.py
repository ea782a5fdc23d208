"""Activity API for the console and the sidebar: list, create, edit (per-state rules), copy,
delete, live ranking, the customers or groups behind a count."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, page_params, read_json, scope_userids
from handlers.facts import check_picks_in_scope
from handlers.leaderboard import access, activities, counting
from handlers.leaderboard.activities import ActivityPatch, state_of
from handlers.leaderboard.notify import names_of
from handlers.leaderboard.router import router
from handlers.leaderboard.schedule import plan_runs
from storage.facts import Customer
from storage.leaderboard import Activity, ActivityState, Participant, Team

BASE = "/api/leaderboard/activities"


def serialize(ctx: RequestContext, activity: Activity, lists: dict[str, Any]) -> dict[str, Any]:
    fields = sorted(activities.SIMPLE_FIELDS)
    data: dict[str, Any] = {name: getattr(activity, name) for name in fields}
    teams = [
        {"name": n, "department_id": None if d < 0 else d, "userids": m}
        for n, d, m in lists["teams"]
    ]
    data |= {
        "id": activity.id,
        "state": state_of(activity, ctx.deps.now()).value,
        "created_by": activity.created_by,
        "draft": activity.draft,
        "userids": lists["userids"],
        "department_ids": lists["department_ids"],
        "teams": teams,
    }
    return data


@router.get(BASE, role=Role.STAFF)
async def list_activities(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    tab = ctx.request.query.get("tab", "mine")
    if tab not in ("mine", "all"):
        raise ApiError(400, "参数 tab 只能是 mine 或 all", "tab")
    if tab == "all" and ctx.user.role < Role.DEPT_ADMIN:
        raise ApiError(403, "只有管理员和部门管理员可以查看全部活动", "tab")
    state = ctx.request.query.get("state", "")
    if state and state not in {s.value for s in ActivityState}:
        raise ApiError(400, "参数 state 只能是 not_started、running 或 ended", "state")
    page, size = page_params(ctx.request)
    query = Activity.filter(deleted=False).order_by("-start_at", "-id")
    if name := ctx.request.query.get("q", "").strip():
        query = query.filter(name__icontains=name)
    if tab == "mine":
        mine = Participant.filter(userid=ctx.user.userid).values_list("activity_id", flat=True)
        query = query.filter(id__in=list(await mine), draft=False)
    scope = None if tab == "mine" else await scope_userids(ctx.user)
    now = ctx.deps.now()
    found = []
    for activity in await query:
        if state and state_of(activity, now).value != state:
            continue
        if tab == "all" and not await access.manages(ctx.user, activity, scope):
            continue
        found.append(activity)
    rows = found[(page - 1) * size : page * size]
    items = [serialize(ctx, a, await access.current_lists(a.id)) for a in rows]
    return json_ok({"items": items, "total": len(found), "page": page, "size": size})


@router.post(BASE, role=Role.DEPT_ADMIN)
async def create_activity(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    patch = await read_json(ctx.request, ActivityPatch)
    for required in ("name", "start_at", "end_at"):
        if getattr(patch, required) is None:
            label = activities.FIELD_LABELS[required]
            raise ApiError(400, f"请填写{label}", required)
    await check_picks_in_scope(ctx.user, patch.userids or [], patch.department_ids or [])
    await access.check_chats_in_scope(ctx.user, patch.chat_ids or [])
    assert patch.end_at is not None
    activities.check_not_past(patch.end_at, ctx.deps.now())
    await activities.check_has_participants(patch.userids or [], patch.department_ids or [])
    activity = Activity(created_by=ctx.user.userid)
    activities.apply_fields(activity, patch)
    await activity.save()
    await _save_lists(ctx, activity, patch)
    await plan_runs(ctx.deps, activity)
    return json_ok(serialize(ctx, activity, await access.current_lists(activity.id)), 201)


async def _save_lists(ctx: RequestContext, activity: Activity, patch: ActivityPatch) -> None:
    if patch.userids is not None or patch.department_ids is not None:
        current = await access.current_lists(activity.id)
        await activities.set_members(
            activity.id,
            patch.userids if patch.userids is not None else current["userids"],
            patch.department_ids if patch.department_ids is not None else current["department_ids"],
        )
        await activities.sync_participants(ctx.deps.redis, activity)
    if patch.teams is not None:
        await activities.set_teams(activity.id, patch.teams)


@router.get(BASE + "/{id}", role=Role.STAFF)
async def get_activity(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx)
    return json_ok(serialize(ctx, activity, await access.current_lists(activity.id)))


@router.post(BASE + "/{id}", role=Role.DEPT_ADMIN)
async def update_activity(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    activity = await access.load(ctx, manage=True)
    patch = await read_json(ctx.request, ActivityPatch)
    lists = await access.current_lists(activity.id)
    activities.check_edit(activity, patch, ctx.deps.now(), lists)
    await check_picks_in_scope(ctx.user, patch.userids or [], patch.department_ids or [])
    await access.check_chats_in_scope(ctx.user, patch.chat_ids or [])
    if {"userids", "department_ids"} & patch.model_fields_set or activity.draft:
        await activities.check_has_participants(
            lists["userids"] if patch.userids is None else patch.userids,
            lists["department_ids"] if patch.department_ids is None else patch.department_ids,
        )
    if activity.draft and {"start_at", "end_at"} <= patch.model_fields_set:
        activity.draft = False  # the admin has set the copy's dates: it is a real activity now
    activities.apply_fields(activity, patch)
    await activity.save()
    await _save_lists(ctx, activity, patch)
    if state_of(activity, ctx.deps.now()) is ActivityState.RUNNING:
        # The end or the people may change what counts, 上榜名次 who is on the list: a full
        # recomputation, in a job so the web process keeps answering callbacks meanwhile.
        cutoff_moved = "top_n" in patch.model_fields_set
        job_id = f"lb-rebuild:{activity.id}:{uuid.uuid4().hex}"
        await ctx.deps.queue.enqueue(
            "leaderboard_rebuild", activity.id, cutoff_moved, job_id=job_id
        )
    await plan_runs(ctx.deps, activity)  # times or reminders may have changed
    return json_ok(serialize(ctx, activity, await access.current_lists(activity.id)))


@router.post(BASE + "/{id}/copy", role=Role.DEPT_ADMIN)
async def copy_activity(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    source = await access.load(ctx, manage=True)
    lists = await access.current_lists(source.id)
    copy = Activity(**activities.copy_fields(source), created_by=ctx.user.userid)
    copy.name = f"{source.name}（副本）"[:64]
    await copy.save()
    await activities.set_members(copy.id, lists["userids"], lists["department_ids"])
    await activities.sync_participants(None, copy)
    for team in await Team.filter(activity_id=source.id):
        await Team.create(
            activity_id=copy.id,
            name=team.name,
            department_id=team.department_id,
            members=team.members,
        )
    await activities.assign_teams(copy.id)
    await plan_runs(ctx.deps, copy)
    return json_ok(serialize(ctx, copy, await access.current_lists(copy.id)), 201)


@router.post(BASE + "/{id}/delete", role=Role.DEPT_ADMIN)
async def delete_activity(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    activity.deleted = True
    await activity.save(update_fields=["deleted"])
    await plan_runs(ctx.deps, activity)  # cancels its future runs
    keys = (counting.zkey, counting.counts_key, counting.teams_key, counting.team_sizes_key)
    await ctx.deps.redis.delete(*(key(activity.id) for key in keys), f"lb:{activity.id}:zone")
    return json_ok({"deleted": activity.id})


@router.get(BASE + "/{id}/ranking", role=Role.STAFF)
async def ranking(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    activity = await access.load(ctx)
    if state_of(activity, ctx.deps.now()) is ActivityState.NOT_STARTED:
        return json_ok({"rows": [], "me": None, "total": 0, "teams": []})
    page, size = page_params(ctx.request, default_size=50)
    rows = await counting.live_page(ctx.deps.redis, activity, (page - 1) * size, size)
    me = await counting.live_rank(ctx.deps.redis, activity, ctx.user.userid)
    uids = [r.userid for r in rows] + ([me.userid] if me else [])
    names = await names_of(uids)
    return json_ok(
        {
            "rows": [_rank_json(r, names, activity, ctx.user.userid) for r in rows],
            "me": _rank_json(me, names, activity, ctx.user.userid) if me else None,
            "total": await counting.live_size(ctx.deps.redis, activity),
            "teams": await team_ranking(ctx, activity),
        }
    )


def _rank_json(
    row: counting.RankRow, names: dict[str, str], activity: Activity, me: str
) -> dict[str, Any]:
    return {
        "rank": row.rank,
        "userid": row.userid,
        "name": names.get(row.userid, row.userid),
        "count": row.count,
        "on_list": row.count > 0 and row.rank <= activity.top_n,
        "me": row.userid == me,
    }


async def team_ranking(ctx: RequestContext, activity: Activity) -> list[dict[str, Any]]:
    """From the team totals kept beside the live ranking (no pass over the participants)."""
    names = dict(await Team.filter(activity_id=activity.id).values_list("id", "name"))
    if not names:
        return []
    found = await counting.team_totals(ctx.deps.redis, activity)
    ordered = sorted((t for t in found if t[0] in names), key=lambda t: (-t[1], t[0]))
    return [
        {"rank": i + 1, "team_id": tid, "name": names[tid], "count": total, "members": size}
        for i, (tid, total, size) in enumerate(ordered)
    ]


@router.get(BASE + "/{id}/customers", role=Role.STAFF)
async def customers(ctx: RequestContext) -> web.StreamResponse:
    """The customers behind one participant's count (staff: their own only)."""
    assert ctx.user is not None
    activity = await access.load(ctx)
    userid = ctx.request.query.get("userid", ctx.user.userid)
    if userid != ctx.user.userid and not await access.manages(ctx.user, activity):
        raise ApiError(403, "只能查看自己邀请的客户", "userid")
    facts = await counting.credited_facts(activity, userid)
    ids = list(dict.fromkeys(f[1] for f in facts))
    names = dict(
        await Customer.filter(external_userid__in=ids).values_list("external_userid", "name")
    )
    items = [
        {
            "external_userid": f[1],
            "name": names.get(f[1], ""),
            "at": f[2],
            "chat_id": f[3] if len(f) > 3 else None,
            "profile_url": f"/sidebar?open=profile&external_userid={f[1]}",
        }
        for f in facts
    ]
    return json_ok({"items": items, "total": len(items)})
