"""The console home's data (首页, the landing page: static/admin/builtin.js) and the domain
events' dead-letter list (事件投递)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.home import home_tiles
from bot.http import ApiError, RequestContext, json_ok
from handlers.system_deadletters import DeadLetters
from handlers.system_router import router
from storage.core import DomainEventRow, EventStatus

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


EVENTS = DeadLetters(
    DomainEventRow, EVENT_STATUSES, EventStatus.PENDING, EventStatus.DONE,
    "deliver_event", "event", _event_json, "事件",
)  # fmt: skip
router.get("/api/system/events", role=Role.ADMIN)(EVENTS.list)
router.post(r"/api/system/events/{id:\d+}/retry", role=Role.ADMIN)(EVENTS.retry)
