"""SOP data for the console: per plan and run (reminded, posted and how we know, skipped,
missed, invalid), per staff member (completion rate), per moment (likes, comments, clicks,
clicks per 100 customers who can see it), the content ranking, and the Excel export. Every
count is derived from the fact rows."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, XlsxWriter, json_ok, path_id
from handlers.sop import plans
from handlers.sop.router import router
from storage.directory import Staff
from storage.sop import SopClick, SopInteraction, SopPlan, SopRun, SopTask, TaskState

STATE_ZH = {
    "pending": "待发布",
    "posted": "已发布",
    "skipped": "已跳过",
    "missed": "未发布",
    "invalid": "不在可发表范围",
}
VIA_ZH = {"task": "企业任务状态", "link": "识别到链接", "card": "卡片确认", "": ""}
RUN_ZH = {
    "open": "跟踪中",
    "creating": "创建中",
    "unknown": "创建结果未知",
    "failed": "创建失败",
    "closed": "已结束",
}


def per_100(clicks: int, visible: int) -> float | None:
    return round(clicks * 100 / visible, 1) if visible else None


async def _names(userids: list[str]) -> dict[str, str]:
    rows = await Staff.filter(userid__in=userids).values_list("userid", "name")
    return {str(u): str(n) for u, n in rows}


async def _counts(run_ids: list[int]) -> dict[str, Counter[tuple[int, str]]]:
    """Per (task, kind) counts of clicks, likes, comments."""
    out: dict[str, Counter[tuple[int, str]]] = {
        "click": Counter(),
        "like": Counter(),
        "comment": Counter(),
    }
    for task_id in await SopClick.filter(run_id__in=run_ids).values_list("task_id", flat=True):
        out["click"][(int(str(task_id)), "")] += 1
    rows = await SopInteraction.filter(run_id__in=run_ids).values_list("task_id", "kind")
    for task_id, kind in rows:
        out[str(kind)][(int(str(task_id)), "")] += 1
    return out


async def run_rows(plan: SopPlan) -> list[dict[str, Any]]:
    runs = await SopRun.filter(plan_id=plan.id).order_by("-due_at")
    ids = [r.id for r in runs]
    tasks = await SopTask.filter(run_id__in=ids)
    counts = await _counts(ids)
    by_run: dict[int, list[SopTask]] = defaultdict(list)
    for t in tasks:
        by_run[t.run_id].append(t)
    run_clicks = Counter(
        int(str(r)) for r in await SopClick.filter(run_id__in=ids).values_list("run_id", flat=True)
    )
    out = []
    for r in runs:
        mine = by_run[r.id]
        states = Counter(t.state.value for t in mine)
        visible = sum(t.visible_count or 0 for t in mine)
        clicks = run_clicks[r.id]
        out.append(
            {
                "id": r.id,
                "due_at": r.due_at.isoformat(),
                "late": r.late,
                "mode": r.mode.value,
                "status": r.status.value,
                "status_zh": RUN_ZH[r.status.value],
                "error": r.error,
                "invalid_userids": r.invalid_userids,
                "text": str(r.item.get("text", ""))[:60],
                "reminded": sum(1 for t in mine if t.reminded_at),
                "staff": len(mine),
                **{s: states.get(s, 0) for s in STATE_ZH},
                "rate": round(states.get("posted", 0) * 100 / len(mine), 1) if mine else None,
                "likes": sum(counts["like"][(t.id, "")] for t in mine),
                "comments": sum(counts["comment"][(t.id, "")] for t in mine),
                "clicks": clicks,
                "visible": visible,
                "clicks_per_100": per_100(clicks, visible),
            }
        )
    return out


@router.get("/api/sop/plans/{id}/runs", role=Role.DEPT_ADMIN)
async def plan_runs_view(ctx: RequestContext) -> web.StreamResponse:
    plan = await plans.load(ctx)
    return json_ok({"items": await run_rows(plan)})


@router.get("/api/sop/runs/{id}", role=Role.DEPT_ADMIN)
async def run_detail(ctx: RequestContext) -> web.StreamResponse:
    """Each staff member's part in a run (one moment each): state, source, reactions."""
    assert ctx.user is not None
    sop_run = await SopRun.get_or_none(id=path_id(ctx.request, "id", "运行记录不存在"))
    plan = await SopPlan.get_or_none(id=sop_run.plan_id) if sop_run else None
    if sop_run is None or plan is None:
        raise ApiError(404, "运行记录不存在")
    if not await plans.manages(ctx.user, plan):
        raise ApiError(403, "没有权限查看这个计划的数据")
    tasks = await SopTask.filter(run_id=sop_run.id).order_by("userid")
    counts = await _counts([sop_run.id])
    names = await _names([t.userid for t in tasks])
    who = defaultdict(list)
    for task_id, kind, ext in await SopInteraction.filter(run_id=sop_run.id).values_list(
        "task_id", "kind", "external_userid"
    ):
        who[(int(str(task_id)), str(kind))].append(str(ext))
    items = []
    for t in tasks:
        clicks = counts["click"][(t.id, "")]
        items.append(
            {
                "task_id": t.id,
                "userid": t.userid,
                "name": names.get(t.userid, t.userid),
                "state": t.state.value,
                "state_zh": STATE_ZH[t.state.value],
                "posted_via": t.posted_via,
                "posted_via_zh": VIA_ZH.get(t.posted_via, t.posted_via),
                "reminded_at": t.reminded_at.isoformat() if t.reminded_at else None,
                "reminded_again_at": t.reminded_again_at.isoformat()
                if t.reminded_again_at
                else None,
                "acted_at": t.acted_at.isoformat() if t.acted_at else None,
                "moment_id": t.moment_id,
                "visible": t.visible_count,
                "clicks": clicks,
                "likes": counts["like"][(t.id, "")],
                "comments": counts["comment"][(t.id, "")],
                "liked_by": who[(t.id, "like")],
                "commented_by": who[(t.id, "comment")],
                "clicks_per_100": per_100(clicks, t.visible_count or 0),
            }
        )
    return json_ok(
        {
            "run": {"id": sop_run.id, "due_at": sop_run.due_at.isoformat(), "late": sop_run.late},
            "items": items,
        }
    )


async def staff_rows(plan_ids: list[int]) -> list[dict[str, Any]]:
    tasks = await SopTask.filter(plan_id__in=plan_ids).exclude(state=TaskState.INVALID)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for t in tasks:
        per[t.userid][t.state.value] += 1
        per[t.userid]["tasks"] += 1
    names = await _names(list(per))
    rows: list[dict[str, Any]] = []
    for userid, c in per.items():
        rows.append(
            {
                "userid": userid,
                "name": names.get(userid, userid),
                "tasks": c["tasks"],
                "posted": c["posted"],
                "skipped": c["skipped"],
                "missed": c["missed"],
                "pending": c["pending"],
                "rate": round(c["posted"] * 100 / c["tasks"], 1) if c["tasks"] else None,
            }
        )
    rows.sort(key=lambda r: (-(r["rate"] or 0), r["userid"]))
    return rows


@router.get("/api/sop/plans/{id}/staff", role=Role.DEPT_ADMIN)
async def plan_staff(ctx: RequestContext) -> web.StreamResponse:
    plan = await plans.load(ctx)
    return json_ok({"items": await staff_rows([plan.id])})


@router.get("/api/sop/plans/{id}/staff-trend", role=Role.DEPT_ADMIN)
async def staff_trend(ctx: RequestContext) -> web.StreamResponse:
    """Each staff member's completion rate per week (the corp's weeks, Monday first)."""
    plan = await plans.load(ctx)
    tz = ctx.deps.settings.tz
    tasks = await SopTask.filter(plan_id=plan.id).exclude(state=TaskState.INVALID)
    weeks: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for t in tasks:
        day = t.due_at.astimezone(tz).date()
        monday = (day - timedelta(days=day.weekday())).isoformat()
        weeks[monday][t.userid]["tasks"] += 1
        weeks[monday][t.userid]["posted"] += t.state is TaskState.POSTED
    order = sorted(weeks)
    userids = sorted({u for w in weeks.values() for u in w})
    names = await _names(userids)
    series = [
        {
            "userid": u,
            "name": names.get(u, u),
            "rates": [
                round(weeks[w][u]["posted"] * 100 / weeks[w][u]["tasks"], 1)
                if weeks[w][u]["tasks"]
                else None
                for w in order
            ],
        }
        for u in userids
    ]
    return json_ok({"weeks": order, "series": series})


@router.get("/api/sop/ranking", role=Role.DEPT_ADMIN)
async def ranking(ctx: RequestContext) -> web.StreamResponse:
    """Content items ranked by clicks + likes + comments per 100 customers who could see them,
    over the plans this person manages: what to repeat next week."""
    assert ctx.user is not None
    managed = [p for p in await SopPlan.filter(deleted=False) if await plans.manages(ctx.user, p)]
    names = {p.id: p.name for p in managed}
    runs = await SopRun.filter(plan_id__in=list(names))
    ids = [r.id for r in runs]
    tasks = await SopTask.filter(run_id__in=ids, state=TaskState.POSTED)
    counts = await _counts(ids)
    run_clicks = Counter(
        int(str(r)) for r in await SopClick.filter(run_id__in=ids).values_list("run_id", flat=True)
    )
    groups: dict[str, dict[str, Any]] = {}
    for r in runs:
        key = f"{r.plan_id}:{r.item.get('kind')}:{r.item.get('text', '')}"
        g = groups.setdefault(
            key,
            {
                "plan": names[r.plan_id],
                "text": str(r.item.get("text", ""))[:80],
                "kind": r.item.get("kind"),
                "runs": 0,
                "posts": 0,
                "visible": 0,
                "clicks": 0,
                "likes": 0,
                "comments": 0,
            },
        )
        g["runs"] += 1
        g["clicks"] += run_clicks[r.id]
        for t in (t for t in tasks if t.run_id == r.id):
            g["posts"] += 1
            g["visible"] += t.visible_count or 0
            g["likes"] += counts["like"][(t.id, "")]
            g["comments"] += counts["comment"][(t.id, "")]
    items = []
    for g in groups.values():
        score = per_100(g["clicks"] + g["likes"] + g["comments"], g["visible"])
        items.append(g | {"score": score})
    items.sort(key=lambda g: -(g["score"] or 0))
    for rank, g in enumerate(items, 1):
        g["rank"] = rank
        g["suggest"] = rank <= 3 and (g["score"] or 0) > 0
    return json_ok({"items": items[:50]})


@router.get("/api/sop/plans/{id}/export.xlsx", role=Role.DEPT_ADMIN)
async def export(ctx: RequestContext) -> web.StreamResponse:
    """One row per (run, staff member): the run, who, state and its source, reactions."""
    plan = await plans.load(ctx)
    tz = ctx.deps.settings.tz
    runs = {r.id: r for r in await SopRun.filter(plan_id=plan.id)}
    tasks = await SopTask.filter(run_id__in=list(runs)).order_by("due_at", "userid")
    counts = await _counts(list(runs))
    names = await _names(list({t.userid for t in tasks}))
    writer = XlsxWriter(
        [
            "计划",
            "发送时间",
            "延迟",
            "方式",
            "员工",
            "状态",
            "发布来源",
            "提醒时间",
            "可见客户数",
            "点击",
            "点赞",
            "评论",
        ],
        tz,
    )
    rows: list[list[Any]] = []
    for t in tasks:
        r = runs[t.run_id]
        rows.append(
            [
                plan.name,
                r.due_at,
                "是" if r.late else "",
                "企业朋友圈任务" if r.mode.value == "task" else "员工个人发表",
                names.get(t.userid, t.userid),
                STATE_ZH[t.state.value],
                VIA_ZH.get(t.posted_via, t.posted_via),
                t.reminded_at,
                t.visible_count,
                counts["click"][(t.id, "")],
                counts["like"][(t.id, "")],
                counts["comment"][(t.id, "")],
            ]
        )
    await writer.add(rows)
    return await writer.response(ctx.request, f"朋友圈SOP-{plan.name}.xlsx")
