"""The funnel of a journey, recomputed from the append-only transitions: per stage the
historical total, the current count, moves in and out (times and relations), conversion to
the next stage, dwell time (median, p90) and stuck relations; the same per staff member;
and the Excel of both."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.auth import scope_userids
from bot.auth_types import Role
from bot.http import (
    ApiError,
    RequestContext,
    day_param,
    int_param,
    json_ok,
    path_id,
    query_id,
    xlsx_response,
)
from handlers.stages.journeys import managed
from handlers.stages.router import router
from storage.directory import Staff
from storage.facts import Customer, FollowRelation
from storage.stages import Stage, StageCurrent, StageTransition

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Step:
    userid: str
    external_userid: str
    seq: int
    from_stage: int | None
    to_stage: int | None
    at: datetime


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (0 < q <= 1)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def funnel(
    stages: list[Stage],
    steps: list[Step],
    current: list[tuple[str, str, int | None, datetime]],
    since: datetime,
    until: datetime,
    now: datetime,
    stuck_days: int,
) -> list[dict[str, Any]]:
    """Per stage numbers from the steps (sorted by relation and seq) and the current rows."""
    in_window = [s for s in steps if since <= s.at < until]
    by_rel: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for s in steps:
        by_rel[(s.userid, s.external_userid)].append(s)
    stays: dict[int, list[float]] = defaultdict(list)  # completed stays ending in the window
    for rel_steps in by_rel.values():
        rel_steps.sort(key=lambda s: s.seq)
        for enter, leave in zip(rel_steps, rel_steps[1:], strict=False):
            if enter.to_stage is not None and since <= leave.at < until:
                stays[enter.to_stage].append((leave.at - enter.at).total_seconds() / 86400)
    out = []
    for i, stage in enumerate(stages):
        nxt = stages[i + 1].id if i + 1 < len(stages) else None
        ever = {
            (s.userid, s.external_userid) for s in steps if s.to_stage == stage.id and s.at < until
        }
        ins = [s for s in in_window if s.to_stage == stage.id]
        outs = [s for s in in_window if s.from_stage == stage.id]
        entered: dict[tuple[str, str], datetime] = {}
        for s in ins:
            entered.setdefault((s.userid, s.external_userid), s.at)
        converted = 0
        if nxt is not None:
            for rel, first_in in entered.items():
                if any(s.to_stage == nxt and first_in <= s.at < until for s in by_rel.get(rel, [])):
                    converted += 1
        here = [c for c in current if c[2] == stage.id]
        stuck_before = now - timedelta(days=stuck_days)
        durations = stays.get(stage.id, [])
        median = _quantile(durations, 0.5)
        p90 = _quantile(durations, 0.9)
        out.append(
            {
                "stage_id": stage.id,
                "name": stage.name,
                "total": len(ever),
                "current": len(here),
                "in_times": len(ins),
                "in_relations": len(entered),
                "out_times": len(outs),
                "out_relations": len({(s.userid, s.external_userid) for s in outs}),
                "conversion": (
                    round(converted / len(entered), 4) if nxt is not None and entered else None
                ),
                "dwell_median_days": round(median, 2) if median is not None else None,
                "dwell_p90_days": round(p90, 2) if p90 is not None else None,
                "stuck": sum(1 for c in here if c[3].astimezone(UTC) <= stuck_before),
            }
        )
    return out


async def compute(
    ctx: RequestContext, journey_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    tz = ctx.deps.settings.tz
    now = ctx.deps.now()
    until = day_param(ctx.request, "until", tz)
    since = day_param(ctx.request, "since", tz)
    # `until` is a day and counts whole: the window ends at the next midnight (today's by default)
    last_day = until or now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    until_at = (last_day + timedelta(days=1)).astimezone(UTC)
    since_at = since.astimezone(UTC) if since else until_at - timedelta(days=DEFAULT_DAYS)
    if since_at >= until_at:
        raise ApiError(400, "开始日期须早于结束日期", "since")
    stuck_days = int_param(ctx.request, "stuck_days", 30, 1, 3650)
    userid = ctx.request.query.get("userid", "").strip()[:64]
    assert ctx.user is not None
    scope = await scope_userids(ctx.user)
    if userid and scope is not None and userid not in scope:
        raise ApiError(403, "只能查看所管理部门成员的数据")
    stages = list(await Stage.filter(journey_id=journey_id, deleted=False).order_by("position"))
    steps_q = StageTransition.filter(journey_id=journey_id)
    cur_q = StageCurrent.filter(journey_id=journey_id)
    if userid:
        steps_q, cur_q = steps_q.filter(userid=userid), cur_q.filter(userid=userid)
    elif scope is not None:
        steps_q = steps_q.filter(userid__in=sorted(scope))
        cur_q = cur_q.filter(userid__in=sorted(scope))
    steps = [
        Step(u, e, q, f, t, a.astimezone(UTC))
        for u, e, q, f, t, a in await steps_q.values_list(
            "userid", "external_userid", "seq", "from_stage_id", "to_stage_id", "at"
        )
    ]
    # relations that ended (the customer deleted the staff member, or the reverse) are no
    # longer current anywhere; their history still counts
    ended = set(await FollowRelation.filter(active=False).values_list("userid", "external_userid"))
    current = [
        (str(u), str(e), s, a)
        for u, e, s, a in await cur_q.values_list(
            "userid", "external_userid", "stage_id", "entered_at"
        )
        if (u, e) not in ended
    ]
    overall = funnel(stages, steps, current, since_at, until_at, now, stuck_days)
    per_staff = []
    staff_ids = sorted({s.userid for s in steps} | {c[0] for c in current})
    names = dict(await Staff.filter(userid__in=staff_ids).values_list("userid", "name"))
    for uid in staff_ids:
        mine = [s for s in steps if s.userid == uid]
        mine_now = [c for c in current if c[0] == uid]
        per_staff.append(
            {
                "userid": uid,
                "name": names.get(uid, uid),
                "stages": funnel(stages, mine, mine_now, since_at, until_at, now, stuck_days),
            }
        )
    window = {"since": since_at, "until": until_at, "stuck_days": stuck_days}
    return overall, per_staff, window


@router.get("/api/stages/journeys/{id}/funnel", role=Role.DEPT_ADMIN)
async def funnel_view(ctx: RequestContext) -> web.StreamResponse:
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"), read=True)
    overall, per_staff, window = await compute(ctx, journey.id)
    return json_ok({"journey": journey.name, "stages": overall, "staff": per_staff, **window})


HEADERS = [
    "员工",
    "阶段",
    "历史客户总数",
    "当前客户数",
    "转入次数",
    "转入客户数",
    "转出次数",
    "转出客户数",
    "转化率",
    "停留中位数（天）",
    "停留P90（天）",
    "停滞客户数",
]


def _row(who: str, s: dict[str, Any]) -> list[Any]:
    conv = s["conversion"]
    return [
        who,
        s["name"],
        s["total"],
        s["current"],
        s["in_times"],
        s["in_relations"],
        s["out_times"],
        s["out_relations"],
        f"{conv * 100:.1f}%" if conv is not None else "—",
        s["dwell_median_days"] if s["dwell_median_days"] is not None else "—",
        s["dwell_p90_days"] if s["dwell_p90_days"] is not None else "—",
        s["stuck"],
    ]


@router.get("/api/stages/journeys/{id}/funnel.xlsx", role=Role.DEPT_ADMIN)
async def funnel_xlsx(ctx: RequestContext) -> web.StreamResponse:
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"), read=True)
    overall, per_staff, _ = await compute(ctx, journey.id)
    rows = [_row("全部", s) for s in overall]
    for person in per_staff:
        rows += [_row(person["name"], s) for s in person["stages"]]
    return xlsx_response(f"客户阶段-{journey.name}.xlsx", HEADERS, rows, ctx.deps.settings.tz)


STUCK_LIST = 200


@router.get("/api/stages/journeys/{id}/stuck", role=Role.DEPT_ADMIN)
async def stuck_view(ctx: RequestContext) -> web.StreamResponse:
    """The relations sitting in a stage longer than `stuck_days` (longest first), in scope."""
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"), read=True)
    stage_id = query_id(ctx.request, "stage_id", "阶段")
    stage = await Stage.get_or_none(id=stage_id or 0, journey_id=journey.id, deleted=False)
    if stage is None:
        raise ApiError(400, "阶段不存在或已删除", "stage_id")
    stuck_days = int_param(ctx.request, "stuck_days", 30, 1, 3650)
    userid = ctx.request.query.get("userid", "").strip()[:64]
    assert ctx.user is not None
    scope = await scope_userids(ctx.user)
    if userid and scope is not None and userid not in scope:
        raise ApiError(403, "只能查看所管理部门成员的数据")
    before = (ctx.deps.now() - timedelta(days=stuck_days)).astimezone(UTC)
    query = StageCurrent.filter(journey_id=journey.id, stage_id=stage.id, entered_at__lte=before)
    if userid:
        query = query.filter(userid=userid)
    elif scope is not None:
        query = query.filter(userid__in=sorted(scope))
    ended = set(await FollowRelation.filter(active=False).values_list("userid", "external_userid"))
    rows = [
        r
        for r in await query.order_by("entered_at").values_list(
            "userid", "external_userid", "entered_at"
        )
        if (r[0], r[1]) not in ended
    ]
    page = rows[:STUCK_LIST]
    names = dict(
        await Customer.filter(external_userid__in=sorted({e for _, e, _ in page})).values_list(
            "external_userid", "name"
        )
    )
    staff = dict(
        await Staff.filter(userid__in=sorted({u for u, _, _ in page})).values_list("userid", "name")
    )
    now = ctx.deps.now()
    items = [
        {
            "userid": u,
            "staff": staff.get(u, u),
            "external_userid": e,
            "name": names.get(e, "") or e,
            "entered_at": at,
            "days": (now - at).days,
        }
        for u, e, at in page
    ]
    return json_ok({"stage": stage.name, "total": len(rows), "items": items})
