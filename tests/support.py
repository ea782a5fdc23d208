"""Test doubles shared by the feature tests: a settable clock, a recording job queue, and a
`Deps` built around a fake WeCom client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jinja2
from redis.asyncio import Redis

from bot.deps import Deps, utcnow
from bot.router import Dispatcher, Router
from bot.settings import Settings
from bot.signing import Signer


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeQueue:
    """Records enqueued jobs instead of sending them to Redis."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None, float | None]] = []

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        self.jobs.append((name, args, job_id, defer_by))
        return True

    def take(self) -> list[tuple[str, tuple[Any, ...]]]:
        taken = [(name, args) for name, args, *_ in self.jobs]
        self.jobs.clear()
        return taken


def fake_deps(
    settings: Settings,
    redis: Redis,
    routers: list[Router],
    wecom: object,
    *,
    queue: FakeQueue | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Deps:
    return Deps(
        settings=settings,
        redis=redis,
        wecom=wecom,  # type: ignore[arg-type]
        queue=queue or FakeQueue(),  # type: ignore[arg-type]
        signer=Signer(settings.security.secret),
        dispatcher=Dispatcher(routers),
        templates=jinja2.Environment(autoescape=True),
        clock=clock,
    )
