"""Exactly once with real arq workers: two workers both given a run's job send one set of
reminders; a worker killed in the middle of the reminders leaves the rest to another worker
after the lease, and nobody gets a card twice."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from bot import schedule
from bot.deps import Deps, JobQueue
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.schedule import RUN_JOB
from bot.settings import Settings
from handlers.sop import router
from storage.schedule import RunState, ScheduledRun
from storage.sop import SopRun
from tests.sop.conftest import after, cards_of
from tests.sop.test_runs import make_plan
from tests.support import Clock, arq_worker, fake_deps, stop_worker, wait_until


async def test_two_arq_workers_one_run(
    deps: Deps, corp: Corp, directory: None, clock: Clock, redis_server: EmbeddedRedis
) -> None:
    plan = await make_plan(deps)
    after(clock, hours=3, minutes=1)
    run = await ScheduledRun.get(feature="sop.run", key=f"{plan.id}:2024-06-03T12:00")
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    try:
        for n in range(2):
            await pool.enqueue_job(RUN_JOB, run.id, _job_id=f"sop-run-{n}")
        workers = [arq_worker(deps, pool) for _ in range(2)]
        await asyncio.gather(*(w.main() for w in workers))
        assert sum(w.jobs_complete for w in workers) == 2
        for w in workers:
            await w.close()
    finally:
        await pool.aclose()
    assert [len(cards_of(corp, u)) for u in ("alice", "bob")] == [1, 1]
    assert await SopRun.filter(plan_id=plan.id).count() == 1
    run = await ScheduledRun.get(id=run.id)
    assert run.state is RunState.DONE and run.attempts == 1


class Stalling:
    """The real client, hanging right after its first card went out (the worker dies there)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stall = True
        self.stalled = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.inner.send_template_card(touser, card)
        if self.stall:
            self.stall = False
            self.stalled.set()
            await asyncio.Event().wait()
        return result


async def test_worker_killed_mid_reminders_each_card_once(
    settings: Settings,
    redis: Redis,
    deps: Deps,
    corp: Corp,
    directory: None,
    clock: Clock,
    redis_server: EmbeddedRedis,
) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    stalling = Stalling(deps.wecom)
    wdeps = fake_deps(settings, redis, [router], stalling, queue=JobQueue(pool), clock=clock)  # type: ignore[arg-type]
    plan = await make_plan(wdeps, userids=["alice", "bob", "carol"])
    after(clock, hours=3, minutes=1)
    first = arq_worker(wdeps, pool, burst=False)
    first_task = asyncio.create_task(first.main())
    try:
        assert await schedule.sweep(wdeps) == 1
        await asyncio.wait_for(stalling.stalled.wait(), 60)
        await stop_worker(first, first_task)  # killed after the first card
        after(clock, minutes=16)  # the claim's lease ran out
        assert await schedule.sweep(wdeps) == 1
        second = arq_worker(wdeps, pool, burst=False)
        second_task = asyncio.create_task(second.main())
        done = ScheduledRun.filter(feature="sop.run", state=RunState.DONE)
        await wait_until(done.exists)
        await stop_worker(second, second_task)
    finally:
        await stop_worker(first, first_task)
        await pool.aclose()
    assert [len(cards_of(corp, u)) for u in ("alice", "bob", "carol")] == [1, 1, 1]
    run = await ScheduledRun.get(feature="sop.run", key=f"{plan.id}:2024-06-03T12:00")
    assert run.attempts == 2 and run.late
    assert await SopRun.filter(plan_id=plan.id).count() == 1
