"""The console home's data (首页, the landing page: static/admin/builtin.js) and the domain
events' dead-letter list (事件投递)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from bot.auth_types import Role
from bot.home import home_tiles
from bot.http import ApiError, RequestContext, json_ok, page_params
from handlers.system_router import router
from storage.core import DomainEventRow, EventStatus

log = logging.getLogger(__name__)
EVENT_STATUSES = {"dead": EventStatus.DEAD, "failed": EventStatus.FAILED}


@router.get("/api/home", role=Role.STAFF)
async def home(ctx: RequestContext) -> web.StreamResponse:
    if ctx.user is None:
        raise ApiError(401, "请先登录")
    tiles = await home_tiles(ctx.deps, ctx.user)
    return json_ok({"tiles": [t.as_json() for t in tiles], "at": ctx.deps.now()})


def _event_json(row: DomainEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status.value,
        "published_at": row.published_at,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": (row.last_error or "")[:500],
    }


@router.get("/api/system/events", role=Role.ADMIN)
async def list_events(ctx: RequestContext) -> web.StreamResponse:
    status = EVENT_STATUSES.get(ctx.request.query.get("status", "dead"))
    if status is None:
        raise ApiError(400, "参数 status 只能是 dead 或 failed", "status")
    page, size = page_params(ctx.request)
    query = DomainEventRow.filter(status=status)
    total = await query.count()
    rows = await query.order_by("-id").offset((page - 1) * size).limit(size)
    items = [_event_json(r) for r in rows]
    return json_ok({"items": items, "total": total, "page": page, "size": size})


@router.post(r"/api/system/events/{id:\d+}/retry", role=Role.ADMIN)
async def retry_event(ctx: RequestContext) -> web.StreamResponse:
    """Back to pending with fresh attempts; subscribers that already had it are not re-run."""
    row = await DomainEventRow.get_or_none(id=int(ctx.request.match_info["id"]))
    if row is None:
        raise ApiError(404, "找不到该事件")
    if row.status is EventStatus.DONE:
        raise ApiError(409, "该事件已投递完成，无需重试")
    now = ctx.deps.now()
    row.status, row.attempts, row.next_attempt_at = EventStatus.PENDING, 0, now
    await row.save(update_fields=["status", "attempts", "next_attempt_at"])
    queued = True
    try:
        marker = f"retry{int(now.timestamp() * 1000)}"
        await ctx.deps.queue.enqueue("deliver_event", row.id, job_id=f"event:{row.id}:{marker}")
    except (RedisError, OSError):
        queued = False  # the requeue cron picks the pending event up later
        log.warning("retry of domain event %s not enqueued; left for the cron", row.id)
    return json_ok({"ok": True, "queued": queued, "item": _event_json(row)})
