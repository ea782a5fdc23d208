from __future__ import annotations

import asyncio
from datetime import timedelta

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from handlers.leaderboard import listeners, schedule
from handlers.leaderboard.activities import set_members
from jobs.worker import timed
from storage.leaderboard import NoticeLog
from tests.leaderboard.conftest import T0, Clock, add, make_activity


async def test_daily_broadcast_once_with_two_workers_and_a_restart(
    deps: Deps, corp: None, clock: Clock
) -> None:
    activity = await make_activity(daily_time="18:00", started_done=False)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    await add("bob", "c1", 1)
    clock.now = T0 + timedelta(hours=8)  # 17:00 local: start notices only
    await schedule.tick(deps)
    assert len(deps.wecom.sent) == 3 and "开始" in deps.wecom.sent[0][1]["main_title"]["title"]
    clock.now = T0 + timedelta(hours=9, minutes=1)  # 18:01 local
    await asyncio.gather(schedule.tick(deps), schedule.tick(deps))
    await schedule.tick(deps)  # a restarted worker, later the same day
    daily = [c for _, c in deps.wecom.sent if "每日播报" in c["main_title"]["title"]]
    assert len(daily) == 3
    bob = [c for c in deps.wecom.to("bob") if "每日" in c["main_title"]["title"]][0]
    assert bob["emphasis_content"]["title"] == "第 1 名"
    assert bob["card_action"]["url"].endswith(f"/sidebar?open=leaderboard&activity={activity.id}")
    # The next day shows the movement since yesterday.
    await add("alice", "c2", 60 * 20)
    await add("alice", "c3", 60 * 20 + 1)
    clock.now = T0 + timedelta(days=1, hours=9, minutes=1)
    await schedule.tick(deps)
    alice = [c for c in deps.wecom.to("alice") if "每日" in c["main_title"]["title"]][-1]
    assert "↑1" in alice["emphasis_content"]["desc"]
    assert "差" not in alice["sub_title_text"]


async def test_crossings_are_damped(deps: Deps, corp: None, clock: Clock) -> None:
    activity = await make_activity(top_n=1, about_to_rank_distance=1, damping_minutes=60)
    await set_members(activity.id, ["alice", "bob"], [])
    clock.now = T0 + timedelta(minutes=10)
    await listeners.on_follow_added(deps, await add("alice", "c1", 1))
    await listeners.on_follow_added(deps, await add("alice", "c1", 1))  # replay: nothing new
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")] == ["恭喜上榜！"]
    await listeners.on_follow_added(deps, await add("bob", "c2", 2))
    await listeners.on_follow_added(deps, await add("bob", "c3", 3))  # bob passes alice
    assert [c["main_title"]["title"] for c in deps.wecom.to("bob")] == [
        "即将上榜，加油！",
        "恭喜上榜！",
    ]
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")][-1] == "你已落榜"
    await listeners.on_follow_added(deps, await add("alice", "c4", 4))
    await listeners.on_follow_added(deps, await add("alice", "c5", 5))  # alice back on top
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")].count("恭喜上榜！") == 1
    clock.now = T0 + timedelta(minutes=80)  # after the damping window
    await listeners.on_follow_added(deps, await add("bob", "c6", 6))
    await listeners.on_follow_added(deps, await add("bob", "c7", 7))
    assert [c["main_title"]["title"] for c in deps.wecom.to("bob")].count("恭喜上榜！") == 2
    assert await NoticeLog.filter(userid="bob", kind="on_list").count() == 2


async def test_deleted_activity_sends_nothing(deps: Deps, corp: None, clock: Clock) -> None:
    activity = await make_activity(started_done=False, deleted=True)
    await set_members(activity.id, ["alice"], [])
    clock.now = T0 + timedelta(hours=10)
    await schedule.tick(deps)
    assert deps.wecom.sent == []


async def test_daily_broadcast_once_with_two_arq_workers(
    deps: Deps, corp: None, clock: Clock, redis_server: EmbeddedRedis
) -> None:
    """Two real arq workers each run a tick at 18:01 (say two crons fired): one broadcast."""
    activity = await make_activity(daily_time="18:00", started_done=True)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    clock.now = T0 + timedelta(hours=9, minutes=1)
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    try:
        for n in range(2):
            await pool.enqueue_job("leaderboard_tick", _job_id=f"tick-{n}")
        workers = [
            Worker(
                functions=[timed(f) for f in deps.dispatcher.jobs],
                redis_pool=pool,
                ctx={"deps": deps},
                burst=True,
                poll_delay=0.01,
                handle_signals=False,
                max_jobs=1,
            )
            for _ in range(2)
        ]
        await asyncio.gather(*(w.main() for w in workers))
        assert sum(w.jobs_complete for w in workers) == 2
        for w in workers:
            await w.close()
    finally:
        await pool.aclose()
    daily = [c for _, c in deps.wecom.sent if "每日播报" in c["main_title"]["title"]]
    assert len(daily) == 3
