"""The staff side (sidebar 朋友圈任务 and the reminder card's 去发布 page): my tasks today and
upcoming with the content ready to copy, the one-tap post through the JS-SDK
shareToExternalMoments (its images uploaded as temporary media now, since media ids live 3
days), and 已发布 / 跳过. Staff see only their own tasks."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, path_id
from bot.periods import at_local
from handlers.sop import media, rules
from handlers.sop.buttons import act
from handlers.sop.plans import staff_of
from handlers.sop.router import router
from handlers.sop.runs import at_text, link_url
from storage.sop import Mode, SopPlan, SopRun, SopTask, TaskState


def content(ctx: RequestContext, item: dict[str, Any], token: str) -> dict[str, Any]:
    """The item as the page shows it; a link points at the member's tracked URL."""
    out: dict[str, Any] = {"text": item.get("text", ""), "kind": item.get("kind", "text")}
    if item.get("kind") == "images":
        out["images"] = [f"/api/sop/media/{n}" for n in item.get("images", [])]
    elif item.get("kind") == "link":
        link = item["link"]
        out["link"] = {
            "title": link["title"],
            "url": link_url(ctx.deps, token),
            "cover": f"/api/sop/media/{link['cover']}",
        }
    elif item.get("kind") == "video":
        out["video"] = f"/api/sop/media/{item['video']}"
    return out


async def task_json(ctx: RequestContext, task: SopTask, plan: SopPlan | None) -> dict[str, Any]:
    sop_run = await SopRun.get(id=task.run_id)
    # Task mode: the moment is the run's own (confirmed in 企业通知), its link is the run's.
    token = sop_run.token if sop_run.mode is Mode.TASK else task.token
    return {
        "id": task.id,
        "plan_name": plan.name if plan else "",
        "due_at": task.due_at.isoformat(),
        "at_text": at_text(ctx.deps, task.due_at),
        "late": sop_run.late,
        "mode": sop_run.mode.value,
        "state": task.state.value,
        "posted_via": task.posted_via,
        "content": content(ctx, sop_run.item, token),
    }


@router.get("/api/sop/my", role=Role.STAFF)
async def my_tasks(ctx: RequestContext) -> web.StreamResponse:
    """Today's tasks (any state) and older ones still pending, then the week's upcoming runs."""
    assert ctx.user is not None
    deps, tz = ctx.deps, ctx.deps.settings.tz
    now = deps.now()
    today = at_local(now.astimezone(tz).date(), time(0), tz)
    tasks = await SopTask.filter(userid=ctx.user.userid, due_at__gte=today - timedelta(days=2))
    tasks = [t for t in tasks if t.due_at >= today or t.state is TaskState.PENDING]
    tasks.sort(key=lambda t: t.due_at)
    plan_rows = {p.id: p for p in await SopPlan.filter(deleted=False)}
    items = [await task_json(ctx, t, plan_rows.get(t.plan_id)) for t in tasks]
    upcoming = []
    for plan in plan_rows.values():
        if plan.paused or ctx.user.userid not in await staff_of(deps, plan):
            continue
        for due in rules.occurrences(plan, now, now + timedelta(days=7), tz):
            index = rules.item_index(plan, due, tz)
            item = plan.items[index] if plan.items else {}
            upcoming.append(
                {
                    "plan_name": plan.name,
                    "due_at": due.isoformat(),
                    "at_text": at_text(deps, due),
                    "text": item.get("text", ""),
                    "kind": item.get("kind", "text"),
                }
            )
    upcoming.sort(key=lambda u: u["due_at"])
    return json_ok({"tasks": items, "upcoming": upcoming[:20]})


async def _own(ctx: RequestContext) -> SopTask:
    assert ctx.user is not None
    task = await SopTask.get_or_none(id=path_id(ctx.request, "id", "任务不存在"))
    if task is None or task.userid != ctx.user.userid:
        raise ApiError(404, "任务不存在，或不是你的任务")
    return task


@router.get("/api/sop/tasks/{id}", role=Role.STAFF)
async def get_task(ctx: RequestContext) -> web.StreamResponse:
    task = await _own(ctx)
    return json_ok(await task_json(ctx, task, await SopPlan.get_or_none(id=task.plan_id)))


@router.post("/api/sop/tasks/{id}/share", role=Role.STAFF)
async def share_payload(ctx: RequestContext) -> web.StreamResponse:
    """What the page hands to shareToExternalMoments: text plus 9 images (temporary media
    uploaded now), or the tracked link, or the video."""
    task = await _own(ctx)
    sop_run = await SopRun.get(id=task.run_id)
    if sop_run.mode is Mode.TASK:
        raise ApiError(409, "这条是企业朋友圈任务，请在 客户朋友圈 → 企业通知 中确认发表")
    item, settings = sop_run.item, ctx.deps.settings
    attachments: list[dict[str, Any]] = []

    async def upload(name: str, kind: str) -> str:
        path = media.file_path(settings, name)
        if path is None:
            raise ApiError(410, "素材文件已不存在，请联系管理员")
        return await ctx.deps.wecom.upload_media(kind, name, path.read_bytes())

    if item.get("kind") == "images":
        for name in item.get("images", []):
            attachments.append(
                {"msgtype": "image", "image": {"mediaid": await upload(name, "image")}}
            )
    elif item.get("kind") == "video":
        attachments.append(
            {"msgtype": "video", "video": {"mediaid": await upload(item["video"], "video")}}
        )
    elif item.get("kind") == "link":
        link = item["link"]
        attachments.append(
            {
                "msgtype": "link",
                "link": {
                    "title": link["title"],
                    "url": link_url(ctx.deps, task.token),
                    "imgUrl": ctx.deps.url(f"/api/sop/media/{link['cover']}"),
                },
            }
        )
    text = str(item.get("text", ""))
    return json_ok({"text": {"content": text}, "attachments": attachments})


@router.post("/api/sop/tasks/{id}/posted", role=Role.STAFF)
async def mark_posted(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    task = await act(ctx.deps, ctx.user.userid, (await _own(ctx)).id, TaskState.POSTED)
    assert task is not None
    return json_ok({"state": task.state.value})


@router.post("/api/sop/tasks/{id}/skip", role=Role.STAFF)
async def skip(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    task = await act(ctx.deps, ctx.user.userid, (await _own(ctx)).id, TaskState.SKIPPED)
    assert task is not None
    return json_ok({"state": task.state.value})
