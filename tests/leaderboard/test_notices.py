from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from bot import schedule as bot_schedule
from bot.deps import Deps, JobQueue
from bot.embedded_redis import EmbeddedRedis
from bot.schedule import RUN_JOB
from bot.settings import Settings
from handlers.leaderboard import listeners, router, schedule
from handlers.leaderboard.activities import set_members
from storage.leaderboard import Activity, NoticeLog
from storage.schedule import RunState, ScheduledRun
from tests.leaderboard.conftest import T0, Clock, FakeWeCom, add, make_activity
from tests.support import arq_worker, fake_deps, run_due, stop_worker, wait_until


async def test_daily_broadcast_once_with_two_workers_and_a_restart(
    deps: Deps, corp: None, clock: Clock
) -> None:
    activity = await make_activity(daily_time="18:00", started_done=False)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    await schedule.plan_runs(deps, activity)
    await add("bob", "c1", 1)
    clock.now = T0 + timedelta(hours=8)  # 17:00 local: start notices only
    assert await run_due(deps) == ["done"]
    assert len(deps.wecom.sent) == 3 and "开始" in deps.wecom.sent[0][1]["main_title"]["title"]
    clock.now = T0 + timedelta(hours=9, minutes=1)  # 18:01 local
    await asyncio.gather(run_due(deps), run_due(deps))
    assert await run_due(deps) == []  # a restarted worker, later the same day
    daily = [c for _, c in deps.wecom.sent if "每日播报" in c["main_title"]["title"]]
    assert len(daily) == 3
    bob = [c for c in deps.wecom.to("bob") if "每日" in c["main_title"]["title"]][0]
    assert bob["emphasis_content"]["title"] == "第 1 名"
    assert bob["card_action"]["url"].endswith(f"/sidebar?open=leaderboard&activity={activity.id}")
    # The next day shows the movement since yesterday.
    await add("alice", "c2", 60 * 20)
    await add("alice", "c3", 60 * 20 + 1)
    clock.now = T0 + timedelta(days=1, hours=9, minutes=1)
    assert await run_due(deps) == ["done"]
    alice = [c for c in deps.wecom.to("alice") if "每日" in c["main_title"]["title"]][-1]
    assert "↑1" in alice["emphasis_content"]["desc"]
    assert "差" not in alice["sub_title_text"]


async def test_crossings_are_damped(deps: Deps, corp: None, clock: Clock) -> None:
    activity = await make_activity(top_n=1, about_to_rank_distance=1, damping_minutes=60)
    await set_members(activity.id, ["alice", "bob"], [])
    clock.now = T0 + timedelta(minutes=10)
    await listeners.on_follow_added(deps, [await add("alice", "c1", 1)])
    await listeners.on_follow_added(deps, [await add("alice", "c1", 1)])  # replay: nothing new
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")] == ["恭喜上榜！"]
    await listeners.on_follow_added(deps, [await add("bob", "c2", 2)])
    await listeners.on_follow_added(deps, [await add("bob", "c3", 3)])  # bob passes alice
    assert [c["main_title"]["title"] for c in deps.wecom.to("bob")] == [
        "即将上榜，加油！",
        "恭喜上榜！",
    ]
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")][-1] == "你已落榜"
    await listeners.on_follow_added(deps, [await add("alice", "c4", 4)])
    await listeners.on_follow_added(deps, [await add("alice", "c5", 5)])  # alice back on top
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")].count("恭喜上榜！") == 1
    clock.now = T0 + timedelta(minutes=80)  # after the damping window
    await listeners.on_follow_added(deps, [await add("bob", "c6", 6)])
    await listeners.on_follow_added(deps, [await add("bob", "c7", 7)])
    assert [c["main_title"]["title"] for c in deps.wecom.to("bob")].count("恭喜上榜！") == 2
    assert await NoticeLog.filter(userid="bob", kind="on_list").count() == 2


async def test_deleted_activity_sends_nothing(deps: Deps, corp: None, clock: Clock) -> None:
    gone = await make_activity(started_done=False)
    await set_members(gone.id, ["alice"], [])
    await schedule.plan_runs(deps, gone)
    await Activity.filter(id=gone.id).update(deleted=True)  # its runs still planned
    deleted = await make_activity(started_done=False)
    await schedule.plan_runs(deps, deleted)
    deleted.deleted = True
    await schedule.plan_runs(deps, deleted)  # cancels them
    assert not await ScheduledRun.filter(key__startswith=f"{deleted.id}:", state="pending")
    clock.now = T0 + timedelta(hours=10)
    assert await run_due(deps) == ["done", "done"]  # the first one's start and daily: no-ops
    assert deps.wecom.sent == []


async def test_daily_broadcast_once_with_two_arq_workers(
    deps: Deps, corp: None, clock: Clock, redis_server: EmbeddedRedis
) -> None:
    """Two real arq workers each get the 18:00 run (say arq ran the job twice): one broadcast."""
    activity = await make_activity(daily_time="18:00", started_done=True)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(hours=9, minutes=1)
    run = await ScheduledRun.get(feature=schedule.DAILY, key=f"{activity.id}:2024-06-01")
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    try:
        for n in range(2):
            await pool.enqueue_job(RUN_JOB, run.id, _job_id=f"run-{n}")
        workers = [arq_worker(deps, pool) for _ in range(2)]
        await asyncio.gather(*(w.main() for w in workers))
        assert sum(w.jobs_complete for w in workers) == 2
        for w in workers:
            await w.close()
    finally:
        await pool.aclose()
    daily = [c for _, c in deps.wecom.sent if "每日播报" in c["main_title"]["title"]]
    assert len(daily) == 3
    run = await ScheduledRun.get(id=run.id)
    assert run.state is RunState.DONE and run.attempts == 1 and not run.late


class StallingWeCom(FakeWeCom):
    """Hangs right after delivering its first card, like a worker that dies mid-broadcast."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = True
        self.stalled = asyncio.Event()

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        result = await super().send_template_card(touser, card)
        if self.stall:
            self.stall = False
            self.stalled.set()
            await asyncio.Event().wait()  # never returns: the worker is killed here
        return result


async def test_worker_killed_mid_broadcast_each_card_once(
    settings: Settings,
    redis: Redis,
    db: None,
    corp: None,
    clock: Clock,
    redis_server: EmbeddedRedis,
) -> None:
    wecom = StallingWeCom()
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    deps = fake_deps(settings, redis, [router], wecom, queue=JobQueue(pool), clock=clock)  # type: ignore[arg-type]
    activity = await make_activity(daily_time="18:00", started_done=True)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(hours=9, minutes=1)
    first = arq_worker(deps, pool, burst=False)
    first_task = asyncio.create_task(first.main())
    try:
        assert await bot_schedule.sweep(deps) == 1
        await asyncio.wait_for(wecom.stalled.wait(), 60)
        await stop_worker(first, first_task)  # killed: nothing after that card runs
        clock.now += timedelta(minutes=16)  # its claim's lease ran out
        assert await bot_schedule.sweep(deps) == 1
        second = arq_worker(deps, pool, burst=False)
        second_task = asyncio.create_task(second.main())
        done = ScheduledRun.filter(feature=schedule.DAILY, state=RunState.DONE)
        await wait_until(done.exists)
        await stop_worker(second, second_task)
    finally:
        await stop_worker(first, first_task)
        await pool.aclose()
    daily = [u for users, c in wecom.sent if "每日播报" in c["main_title"]["title"] for u in users]
    assert sorted(daily) == ["alice", "bob", "carol"]
    run = await done.get()
    assert run.attempts == 2 and run.late  # retried 16 minutes after its time


async def test_the_planner_plans_activities_saved_before_the_scheduler(
    deps: Deps, corp: None, clock: Clock
) -> None:
    """An activity with no runs (made before runs existed) gets them from the planner the
    worker runs at start; an ended or deleted one gets none."""
    activity = await make_activity(daily_time="18:00", started_done=False)
    await set_members(activity.id, ["alice"], [])
    await make_activity(deleted=True)
    await make_activity(ended_done=True)
    await bot_schedule.plan_all(deps)
    await bot_schedule.plan_all(deps)  # idempotent
    keys = sorted(r.key for r in await ScheduledRun.all())
    assert keys[0] == f"{activity.id}:2024-06-01" and keys[-2:] == [
        f"{activity.id}:end",
        f"{activity.id}:start",
    ]
    assert len(keys) == 9  # start, 7 broadcasts (June 1-7), end
    clock.now = T0 + timedelta(hours=9, minutes=1)
    assert await run_due(deps) == ["done", "done"]
    assert len(deps.wecom.to("alice")) == 2  # the start card and the 18:00 broadcast
