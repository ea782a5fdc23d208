"""The console's two dead-letter lists share one shape: callbacks (回调收件箱) and domain events
(事件投递) are rows with a status, attempts and a next attempt, listed by status and put back
to pending by an admin; the worker's job picks a retried row up at once, or the requeue cron
does when Redis is down."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from tortoise.models import Model

from bot.http import ApiError, RequestContext, json_ok, page_params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetters:
    model: type[Model]
    statuses: Mapping[str, Enum]  # query value → status
    pending: Enum
    done: Enum
    job: str  # the arq job that processes one row by id
    job_prefix: str  # its job ids: "<prefix>:<row id>:..."
    to_json: Callable[[Any], dict[str, Any]]
    noun: str  # Chinese, e.g. "回调事件"

    async def list(self, ctx: RequestContext) -> web.StreamResponse:
        status = self.statuses.get(ctx.request.query.get("status", "dead"))
        if status is None:
            allowed = "、".join(self.statuses)
            raise ApiError(400, f"参数 status 只能是 {allowed}", "status")
        page, size = page_params(ctx.request)
        query = self.model.filter(status=status)
        total = await query.count()
        rows = await query.order_by("-id").offset((page - 1) * size).limit(size)
        items = [self.to_json(r) for r in rows]
        return json_ok({"items": items, "total": total, "page": page, "size": size})

    async def retry(self, ctx: RequestContext) -> web.StreamResponse:
        """Back to pending with fresh attempts; handlers that already finished are not re-run."""
        row: Any = await self.model.get_or_none(id=int(ctx.request.match_info["id"]))
        if row is None:
            raise ApiError(404, f"找不到该{self.noun}")
        if row.status is self.done:
            raise ApiError(409, f"该{self.noun}已处理完成，无需重试")
        now = ctx.deps.now()
        row.status, row.attempts, row.next_attempt_at = self.pending, 0, now
        await row.save(update_fields=["status", "attempts", "next_attempt_at"])
        queued = True
        try:
            job_id = f"{self.job_prefix}:{row.id}:retry{int(now.timestamp() * 1000)}"
            await ctx.deps.queue.enqueue(self.job, row.id, job_id=job_id)
        except (RedisError, OSError):
            queued = False  # the requeue cron picks the pending row up later
            log.warning("retry of %s %s not enqueued; left for the cron", self.job, row.id)
        return json_ok({"ok": True, "queued": queued, "item": self.to_json(row)})
