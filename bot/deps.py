"""The one small, frozen dependencies object handed to every handler and job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jinja2
from redis.asyncio import Redis

from bot.settings import Settings
from bot.signing import Signer

if TYPE_CHECKING:
    from bot.router import Dispatcher
    from bot.wecom import WeComClient


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobQueue:
    """Enqueue arq jobs by name; `job_id` makes an enqueue idempotent (arq skips a live id).

    Bounded in time: a hung Redis must not hold a callback past WeCom's 5 s (the caller
    treats the TimeoutError like any other Redis failure)."""

    def __init__(self, pool: Any, timeout: float = 1.5) -> None:
        self.pool = pool
        self.timeout = timeout

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        job = await asyncio.wait_for(
            self.pool.enqueue_job(name, *args, _job_id=job_id, _defer_by=defer_by), self.timeout
        )
        return job is not None

    async def enqueue_new(self, name: str, *args: Any, job_id: str) -> None:
        """Enqueue under an id nobody else can hold (it names the job's own rows), in one
        Redis round trip: no WATCH/EXISTS before the MULTI, since there is nothing to check."""
        from arq.constants import job_key_prefix
        from arq.jobs import serialize_job

        pool = self.pool
        now = int(time.time() * 1000)
        job = serialize_job(name, args, {}, None, now, serializer=pool.job_serializer)
        pipe = pool.pipeline(transaction=True)
        pipe.set(job_key_prefix + job_id, job, px=pool.expires_extra_ms, nx=True)
        pipe.zadd(pool.default_queue_name, {job_id: now})
        await asyncio.wait_for(pipe.execute(), self.timeout)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    redis: Redis
    wecom: WeComClient
    queue: JobQueue
    signer: Signer
    dispatcher: Dispatcher
    templates: jinja2.Environment
    clock: Callable[[], datetime] = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.settings.tz)

    def url(self, path: str) -> str:
        return self.settings.base_url + path
