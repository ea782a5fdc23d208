"""The 客户画像 block (every journey's stage of this customer, top journey first, history with
why each move happened, a change with a reason) and the console's batch set by filters.

Staff change their own relations; a department admin the relations of their departments'
staff; admins every relation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pydantic
from aiohttp import web

from bot.auth import scope_userids
from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, path_id, read_json
from handlers.stages.engine import BY_TEXT, Labels, move
from handlers.stages.journeys import managed
from handlers.stages.router import router
from storage.directory import Staff
from storage.facts import CorpTag, Customer, CustomerGroup, FollowRelation, FollowTag
from storage.stages import (
    Journey,
    MoveBy,
    Stage,
    StageCurrent,
    StageRadarView,
    StageTransition,
)

HISTORY = 50
BATCH_MAX = 10_000
LIST_MAX = 100


def _user(ctx: RequestContext) -> Principal:
    assert ctx.user is not None
    return ctx.user


async def may_change(user: Principal, userid: str) -> bool:
    """Whose relations this person may move: their own; a dept admin's departments; all."""
    if userid == user.userid:
        return True
    if user.role < Role.DEPT_ADMIN:
        return False
    scope = await scope_userids(user)
    return scope is None or userid in scope


async def _names(userids: set[str]) -> dict[str, str]:
    rows = await Staff.filter(userid__in=sorted(userids)).values_list("userid", "name")
    return {str(u): str(n) for u, n in rows}


async def explain(facts: dict[str, Any]) -> str:
    """The facts that satisfied a rule, in words: 「标签：高意向；在群：VIP群」."""
    parts = []
    for cond in facts.get("conditions", []) if isinstance(facts, dict) else []:
        kind = cond.get("type")
        if kind == "tags":
            names = await CorpTag.filter(tag_id__in=cond.get("tag_ids", [])).values_list(
                "name", flat=True
            )
            parts.append("标签：" + "、".join(str(n) for n in names or cond.get("tag_ids", [])))
        elif kind == "state":
            parts.append(f"添加渠道：{cond.get('state', '')}")
        elif kind == "group":
            names = await CustomerGroup.filter(chat_id__in=cond.get("chat_ids", [])).values_list(
                "name", flat=True
            )
            parts.append("在群：" + "、".join(str(n) for n in names or cond.get("chat_ids", [])))
        elif kind == "radar":
            titles = await StageRadarView.filter(
                radar_id__in=cond.get("radar_ids", [])
            ).values_list("title", flat=True)
            named = "、".join(sorted({str(t) for t in titles if t}))
            parts.append(f"查看雷达：{named}" if named else "查看了雷达")
        elif kind == "points":
            parts.append(f"积分 {cond.get('balance', 0)}（不少于 {cond.get('min', 0)}）")
        elif kind == "days_added":
            parts.append(f"添加满 {cond.get('days', 0)} 天")
    return "；".join(parts)


@router.get("/api/stages/profile", role=Role.STAFF)
async def profile(ctx: RequestContext) -> web.StreamResponse:
    user = _user(ctx)
    ext = ctx.request.query.get("external_userid", "").strip()[:64]
    if not ext:
        raise ApiError(400, "缺少客户 ID", "external_userid")
    scope = await scope_userids(user)
    rels = FollowRelation.filter(external_userid=ext, active=True)
    if scope is not None:
        rels = rels.filter(userid__in=sorted(scope))
    holders = [str(u) for u in await rels.values_list("userid", flat=True)]
    names = await _names(set(holders))
    out = []
    for journey in await Journey.filter(deleted=False).order_by("position", "id"):
        stages = await Stage.filter(journey_id=journey.id, deleted=False).order_by("position")
        members = [u for u in holders if not journey.members or u in journey.members]
        if not members:
            continue
        by_id = {s.id: s for s in stages}
        currents = {
            c.userid: c
            for c in await StageCurrent.filter(
                journey_id=journey.id, external_userid=ext, userid__in=members
            )
        }
        relations = []
        for uid in sorted(members, key=lambda u: (u != user.userid, u)):
            cur = currents.get(uid)
            stage = by_id.get(cur.stage_id) if cur and cur.stage_id else None
            relations.append(
                {
                    "userid": uid,
                    "name": names.get(uid, uid),
                    "mine": uid == user.userid,
                    "stage_id": stage.id if stage else None,
                    "stage_name": stage.name if stage else "未设置阶段",
                    "entered_at": cur.entered_at if cur else None,
                    "may_change": await may_change(user, uid),
                }
            )
        furthest = max(
            (r for r in relations if r["stage_id"]),
            key=lambda r: by_id[r["stage_id"]].position,
            default=None,
        )
        history = (
            await StageTransition.filter(
                journey_id=journey.id, external_userid=ext, userid__in=members
            )
            .order_by("-at", "-id")
            .limit(HISTORY)
        )
        who = await _names({h.created_by for h in history if h.created_by})
        out.append(
            {
                "id": journey.id,
                "name": journey.name,
                "stages": [{"id": s.id, "name": s.name} for s in stages],
                "relations": relations,
                "rollup": (
                    {"stage_name": furthest["stage_name"], "holder": furthest["name"]}
                    if furthest
                    else None
                ),
                "history": [
                    {
                        "at": h.at,
                        "userid": h.userid,
                        "staff": names.get(h.userid, h.userid),
                        "from": _stage_name(by_id, h.from_stage_id),
                        "to": _stage_name(by_id, h.to_stage_id),
                        "by": h.by,
                        "by_text": BY_TEXT.get(MoveBy(h.by), h.by),
                        "who": who.get(h.created_by, h.created_by),
                        "reason": h.reason,
                        "why": await explain(h.facts) if h.by == MoveBy.RULE else "",
                    }
                    for h in history
                ],
            }
        )
    return json_ok({"journeys": out})


def _stage_name(by_id: dict[int, Stage], stage_id: int | None) -> str:
    if stage_id is None:
        return "未设置阶段"
    stage = by_id.get(stage_id)
    return stage.name if stage else "已删除的阶段"


class MoveIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True, extra="forbid")

    journey_id: int = pydantic.Field(title="客户旅程")
    external_userid: str = pydantic.Field(min_length=1, max_length=64, title="客户")
    userid: str = pydantic.Field(min_length=1, max_length=64, title="跟进员工")
    stage_id: int | None = pydantic.Field(title="客户阶段")
    reason: str = pydantic.Field(min_length=1, max_length=200, title="变更原因")


async def _target(journey: Journey, stage_id: int | None) -> Stage | None:
    if stage_id is None:
        return None
    stage = await Stage.get_or_none(id=stage_id, journey_id=journey.id, deleted=False)
    if stage is None:
        raise ApiError(400, "该阶段不属于此客户旅程或已删除", "stage_id")
    return stage


@router.post("/api/stages/move", role=Role.STAFF)
async def move_one(ctx: RequestContext) -> web.StreamResponse:
    """A staff member sets the stage of one relation (back or forward), with a reason."""
    user = _user(ctx)
    body = await read_json(ctx.request, MoveIn)
    journey = await Journey.get_or_none(id=body.journey_id, deleted=False)
    if journey is None:
        raise ApiError(400, "找不到该客户旅程", "journey_id")
    stage = await _target(journey, body.stage_id)
    if not await may_change(user, body.userid):
        raise ApiError(403, "只能变更自己（或所管理部门成员）的客户阶段")
    if journey.members and body.userid not in journey.members:
        raise ApiError(400, "该员工不是此客户旅程的使用成员", "userid")
    if not await FollowRelation.exists(
        userid=body.userid, external_userid=body.external_userid, active=True
    ):
        raise ApiError(400, "该员工与此客户不是好友关系", "external_userid")
    row = await move(
        ctx.deps,
        journey_id=journey.id,
        userid=body.userid,
        external_userid=body.external_userid,
        to_stage_id=stage.id if stage else None,
        by=MoveBy.STAFF,
        key=f"staff:{uuid.uuid4().hex}",
        created_by=user.userid,
        reason=body.reason,
    )
    return json_ok({"moved": row is not None, "stage_id": stage.id if stage else None})


# --- batch set by filters (console) ----------------------------------------------------------


class FiltersIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True, extra="forbid")

    userids: list[str] = pydantic.Field(default_factory=list, max_length=500, title="员工")
    tag_ids: list[str] = pydantic.Field(default_factory=list, max_length=100, title="客户标签")
    name: str = pydantic.Field("", max_length=64, title="客户昵称")
    added_from: date | None = pydantic.Field(None, title="添加时间起")
    added_to: date | None = pydantic.Field(None, title="添加时间止")
    state: str = pydantic.Field("", max_length=64, title="添加渠道")
    stage: str = pydantic.Field("", max_length=20, title="当前阶段")  # "", "unset" or an id
    page: int = pydantic.Field(1, ge=1, le=100_000, title="页码")


class BatchIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True, extra="forbid")

    filters: FiltersIn = pydantic.Field(title="筛选条件")
    stage_id: int | None = pydantic.Field(title="设置为阶段")
    reason: str = pydantic.Field(min_length=1, max_length=200, title="变更原因")


async def matching(
    ctx: RequestContext, journey: Journey, f: FiltersIn
) -> list[tuple[str, str, int | None]]:
    """The relations the filters select: (userid, external_userid, current stage)."""
    tz = ctx.deps.settings.tz
    query = FollowRelation.filter(active=True)
    scope = await scope_userids(_user(ctx))
    userids = set(f.userids)
    if journey.members:
        userids = userids & set(journey.members) if userids else set(journey.members)
        if not userids:
            return []
    if scope is not None:
        userids = userids & scope if userids else scope
    if userids:
        query = query.filter(userid__in=sorted(userids))
    if f.state:
        query = query.filter(state=f.state)
    if f.added_from:
        start = datetime.combine(f.added_from, datetime.min.time(), tz).astimezone(UTC)
        query = query.filter(added_at__gte=start)
    if f.added_to:
        end = datetime.combine(f.added_to + timedelta(days=1), datetime.min.time(), tz)
        query = query.filter(added_at__lt=end.astimezone(UTC))
    if f.name:
        exts = await Customer.filter(name__icontains=f.name).values_list(
            "external_userid", flat=True
        )
        query = query.filter(external_userid__in=[str(e) for e in exts])
    pairs = [(str(u), str(e)) for u, e in await query.values_list("userid", "external_userid")]
    if f.tag_ids:
        tagged = set(
            await FollowTag.filter(tag_id__in=f.tag_ids).values_list("userid", "external_userid")
        )
        pairs = [p for p in pairs if p in tagged]
    current = {
        (str(u), str(e)): s
        for u, e, s in await StageCurrent.filter(journey_id=journey.id).values_list(
            "userid", "external_userid", "stage_id"
        )
    }
    rows = [(u, e, current.get((u, e))) for u, e in pairs]
    if f.stage == "unset":
        rows = [r for r in rows if r[2] is None]
    elif f.stage:
        if not f.stage.isdigit():
            raise ApiError(400, "当前阶段无效", "filters.stage")
        rows = [r for r in rows if r[2] == int(f.stage)]
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


@router.post("/api/stages/journeys/{id}/relations", role=Role.DEPT_ADMIN)
async def relations(ctx: RequestContext) -> web.StreamResponse:
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"))
    f = await read_json(ctx.request, FiltersIn)
    rows = await matching(ctx, journey, f)
    page = rows[(f.page - 1) * LIST_MAX : f.page * LIST_MAX]
    exts = sorted({e for _, e, _ in page})
    customers = dict(
        await Customer.filter(external_userid__in=exts).values_list("external_userid", "name")
    )
    staff = await _names({u for u, _, _ in page})
    stages = dict(await Stage.filter(journey_id=journey.id).values_list("id", "name"))
    unset = sum(1 for r in rows if r[2] is None)
    return json_ok(
        {
            "total": len(rows),
            "unset": unset,
            "items": [
                {
                    "userid": u,
                    "staff": staff.get(u, u),
                    "external_userid": e,
                    "name": customers.get(e, "") or e,
                    "stage_id": s,
                    "stage_name": stages.get(s, "未设置阶段") if s else "未设置阶段",
                }
                for u, e, s in page
            ],
        }
    )


@router.post("/api/stages/journeys/{id}/batch", role=Role.DEPT_ADMIN)
async def batch(ctx: RequestContext) -> web.StreamResponse:
    """Set the stage of every relation the filters select (one batch key, so a resent
    request with the same batch id moves nobody twice)."""
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"))
    body = await read_json(ctx.request, BatchIn)
    stage = await _target(journey, body.stage_id)
    rows = await matching(ctx, journey, body.filters)
    if len(rows) > BATCH_MAX:
        raise ApiError(400, f"一次最多设置 {BATCH_MAX} 位客户，请缩小筛选范围", "filters")
    batch_id = uuid.uuid4().hex[:12]
    labels = await Labels.of(journey.id)
    moved = 0
    for userid, ext, _ in rows:
        row = await move(
            ctx.deps,
            journey_id=journey.id,
            userid=userid,
            external_userid=ext,
            to_stage_id=stage.id if stage else None,
            by=MoveBy.BATCH,
            key=f"batch:{batch_id}:{userid}:{ext}",
            created_by=_user(ctx).userid,
            reason=body.reason,
            labels=labels,
        )
        moved += row is not None
    return json_ok({"moved": moved, "total": len(rows)})
