"""The one small, frozen dependencies object handed to every handler and job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2
from pydantic import BaseModel
from redis.asyncio import Redis

from bot.settings import Settings
from bot.signing import Signer

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher
    from bot.wecom import WeComClient


S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")


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


class ProcessState:
    """What one process holds for the features: the values of the routers' resources
    (`router.resource`), parsed settings sections, and the stopping flag that live streams
    watch. One per Runtime, never module-level."""

    def __init__(self) -> None:
        self.resources: dict[Any, Any] = {}
        self.sections: dict[type[BaseModel], BaseModel] = {}
        self.settings_cache: dict[Hashable, tuple[float, Any]] = {}  # bot.settings_cache
        self.stopping = asyncio.Event()


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
    state: ProcessState = field(default_factory=ProcessState, compare=False)

    def now(self) -> datetime:
        return self.clock()

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.settings.tz)

    def url(self, path: str) -> str:
        return self.settings.base_url + path

    def section(self, model: type[S]) -> S:
        """A feature's settings section (`router.settings(model)`), validated and parsed."""
        found = self.state.sections.get(model)
        if found is None:
            from bot.settings import parse_sections

            self.state.sections.update(
                parse_sections(self.settings, self.dispatcher.settings_models)
            )
            found = self.state.sections.get(model)
        if not isinstance(found, model):
            raise LookupError(f"{model.__name__} is not registered with router.settings()")
        return found

    def resource(self, factory: Callable[..., Any]) -> Any:
        """The value this process's `router.resource(factory)` yielded."""
        try:
            return self.state.resources[factory]
        except KeyError:
            raise LookupError(
                f"resource {factory.__qualname__} is not open: run the features' lifecycle "
                "(bot.lifecycle.feature_lifecycle, done by Runtime)"
            ) from None
