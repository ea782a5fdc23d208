"""The console's 定时任务 list: every scheduled run with its state, lateness (延迟) and error,
so an admin sees what ran, what ran late after an outage and what was skipped."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, page_params
from handlers.system_router import router
from storage.schedule import RunState, ScheduledRun

STATE_LABELS = {
    RunState.PENDING: "待执行",
    RunState.RUNNING: "执行中",
    RunState.DONE: "已完成",
    RunState.SKIPPED: "已跳过",
    RunState.CANCELLED: "已取消",
    RunState.FAILED: "失败",
}


def _run_json(ctx: RequestContext, run: ScheduledRun) -> dict[str, Any]:
    route = ctx.deps.dispatcher.scheduled.get(run.feature)
    return {
        "id": run.id,
        "feature": run.feature,
        "title": route.title if route and route.title else run.feature,
        "key": run.key,
        "due_at": run.due_at.isoformat(),
        "state": run.state.value,
        "state_label": STATE_LABELS[run.state],
        "late": run.late,
        "attempts": run.attempts,
        "done_at": run.done_at.isoformat() if run.done_at else None,
        "last_error": run.last_error or "",
    }


@router.get("/api/system/scheduled-runs", role=Role.ADMIN)
async def list_runs(ctx: RequestContext) -> web.StreamResponse:
    query = ScheduledRun.all()
    if state := ctx.request.query.get("state", ""):
        if state not in {s.value for s in RunState}:
            raise ApiError(400, "状态只能是 " + "、".join(s.value for s in RunState), "state")
        query = query.filter(state=state)
    if ctx.request.query.get("late") == "1":
        query = query.filter(late=True)
    page, size = page_params(ctx.request)
    total = await query.count()
    rows = await query.order_by("-due_at", "-id").offset((page - 1) * size).limit(size)
    items = [_run_json(ctx, r) for r in rows]
    return json_ok({"items": items, "total": total, "page": page, "size": size})
