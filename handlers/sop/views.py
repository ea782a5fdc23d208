"""Plan API for the console: list, create, edit (future runs only), pause, resume, copy (a
paused draft), delete, and the calendar of upcoming runs. Department admins manage the plans
of their departments' staff; admins all of them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import schedule
from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, read_json, scope_userids
from handlers.facts import check_picks_in_scope
from handlers.sop import plans, rules
from handlers.sop.plans import RUN, PlanIn
from handlers.sop.router import router
from handlers.sop.runs import close_run
from storage.schedule import RunState
from storage.sop import Mode, RunStatus, SopPlan, SopRun, SopTask, TaskState

BASE = "/api/sop/plans"


def serialize(plan: SopPlan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "mode": plan.mode.value,
        "userids": plan.userids,
        "department_ids": plan.department_ids,
        "tag_ids": plan.tag_ids,
        "freq": plan.freq.value,
        "weekdays": plan.weekdays,
        "month_days": plan.month_days,
        "at_time": plan.at_time,
        "start_date": plan.start_date.isoformat(),
        "end_date": plan.end_date.isoformat() if plan.end_date else None,
        "quiet_start": plan.quiet_start,
        "quiet_end": plan.quiet_end,
        "remind_again_minutes": plan.remind_again_minutes,
        "poll_hours": plan.poll_hours,
        "items": plan.items,
        "paused": plan.paused,
        "created_by": plan.created_by,
    }


async def _stats(plan_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {p: {"runs": 0, "tasks": 0, "posted": 0} for p in plan_ids}
    for pid in await SopRun.filter(plan_id__in=plan_ids).values_list("plan_id", flat=True):
        out[int(str(pid))]["runs"] += 1
    rows = await SopTask.filter(plan_id__in=plan_ids).values_list("plan_id", "state")
    for pid, state in rows:
        out[int(pid)]["tasks"] += 1
        out[int(pid)]["posted"] += state == TaskState.POSTED
    return out


@router.get(BASE, role=Role.DEPT_ADMIN)
async def list_plans(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    found = [
        p
        for p in await SopPlan.filter(deleted=False).order_by("-id")
        if await plans.manages(ctx.user, p)
    ]
    stats = await _stats([p.id for p in found])
    now, tz = ctx.deps.now(), ctx.deps.settings.tz
    items = []
    for plan in found:
        upcoming = [] if plan.paused else rules.next_runs(plan, now, tz, 1)
        items.append(
            serialize(plan)
            | {"stats": stats[plan.id], "next_run": upcoming[0].isoformat() if upcoming else None}
        )
    return json_ok({"items": items, "total": len(items)})


@router.post(BASE, role=Role.DEPT_ADMIN)
async def create_plan(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    data = await read_json(ctx.request, PlanIn)
    plans.check_plan(data)
    await check_picks_in_scope(ctx.user, data.userids, data.department_ids)
    plan = SopPlan(created_by=ctx.user.userid)
    plans.apply(plan, data)
    await plan.save()
    await plans.plan_runs(ctx.deps, plan)
    return json_ok(serialize(plan), 201)


@router.get(BASE + "/{id}", role=Role.DEPT_ADMIN)
async def get_plan(ctx: RequestContext) -> web.StreamResponse:
    return json_ok(serialize(await plans.load(ctx)))


@router.route("PUT", BASE + "/{id}", role=Role.DEPT_ADMIN)
async def update_plan(ctx: RequestContext) -> web.StreamResponse:
    """Edit: only runs still to come change (executed runs keep the content they used)."""
    assert ctx.user is not None
    plan = await plans.load(ctx)
    data = await read_json(ctx.request, PlanIn)
    plans.check_plan(data)
    await check_picks_in_scope(ctx.user, data.userids, data.department_ids)
    plans.apply(plan, data)
    await plan.save()
    await plans.plan_runs(ctx.deps, plan)
    return json_ok(serialize(plan))


@router.post(BASE + "/{id}/pause", role=Role.DEPT_ADMIN)
async def pause_plan(ctx: RequestContext) -> web.StreamResponse:
    plan = await plans.load(ctx)
    await SopPlan.filter(id=plan.id).update(paused=True)
    plan.paused = True
    await plans.plan_runs(ctx.deps, plan)
    return json_ok(serialize(plan))


@router.post(BASE + "/{id}/resume", role=Role.DEPT_ADMIN)
async def resume_plan(ctx: RequestContext) -> web.StreamResponse:
    """Runs due while paused are not sent afterwards: planning starts from now."""
    plan = await plans.load(ctx)
    await SopPlan.filter(id=plan.id).update(paused=False)
    plan.paused = False
    await plans.plan_runs(ctx.deps, plan)
    return json_ok(serialize(plan))


@router.post(BASE + "/{id}/copy", role=Role.DEPT_ADMIN)
async def copy_plan(ctx: RequestContext) -> web.StreamResponse:
    """A copy is a paused draft: nothing runs until someone resumes it."""
    assert ctx.user is not None
    plan = await plans.load(ctx)
    values = serialize(plan)
    copy = SopPlan(created_by=ctx.user.userid)
    plans.apply(copy, PlanIn.model_validate({k: values[k] for k in PlanIn.model_fields}))
    copy.name = f"{plan.name[:58]}（副本）"
    copy.paused = True
    await copy.save()
    return json_ok(serialize(copy), 201)


@router.route("DELETE", BASE + "/{id}", role=Role.DEPT_ADMIN)
async def delete_plan(ctx: RequestContext) -> web.StreamResponse:
    """Withdraws the runs to come and cancels the plan's open enterprise task in WeCom."""
    plan = await plans.load(ctx)
    await SopPlan.filter(id=plan.id).update(deleted=True)
    plan.deleted = True
    await plans.plan_runs(ctx.deps, plan)
    for sop_run in await SopRun.filter(plan_id=plan.id, status=RunStatus.OPEN, mode=Mode.TASK):
        await close_run(ctx.deps, sop_run, cancel=True)
    return json_ok({"ok": True})


@router.get(BASE + "/{id}/calendar", role=Role.DEPT_ADMIN)
async def calendar(ctx: RequestContext) -> web.StreamResponse:
    """The next runs (planned ones and, further out, the rule's), and recent ones with their
    state: 待发送, 已发送, 延迟, 已跳过 (past the horizon)."""
    plan = await plans.load(ctx)
    now, tz = ctx.deps.now(), ctx.deps.settings.tz
    upcoming = [] if plan.paused else rules.next_runs(plan, now, tz, 30)
    past = [
        r
        for r in await schedule.runs_of(RUN, f"{plan.id}:")
        if r.state not in (RunState.PENDING, RunState.CANCELLED)
    ]
    done = [
        {
            "due_at": r.due_at.isoformat(),
            "state": r.state.value,
            "late": r.late,
        }
        for r in past[-30:]
    ]
    return json_ok(
        {
            "upcoming": [
                {"due_at": t.isoformat(), "item": rules.item_index(plan, t, tz)} for t in upcoming
            ],
            "past": done,
        }
    )


@router.post("/api/sop/preview-calendar", role=Role.DEPT_ADMIN)
async def preview_calendar(ctx: RequestContext) -> web.StreamResponse:
    """The runs the editor's unsaved plan would have (the calendar beside the form)."""
    data = await read_json(ctx.request, PlanIn)
    plans.check_plan(data, staff=False)
    plan = SopPlan(id=0)
    plans.apply(plan, data)
    now, tz = ctx.deps.now(), ctx.deps.settings.tz
    return json_ok(
        {
            "upcoming": [
                {"due_at": t.isoformat(), "item": rules.item_index(plan, t, tz)}
                for t in rules.next_runs(plan, now, tz, 30)
            ]
        }
    )


async def scoped(ctx: RequestContext) -> set[str] | None:
    assert ctx.user is not None
    return await scope_userids(ctx.user)


def require(condition: bool, message: str, status: int = 403) -> None:
    if not condition:
        raise ApiError(status, message)
