"""The console's data tables are computed by the worker, never in the web process: a page
answers at once with the stored table of the current data version, or queues one job for it
and says it is computing; the table is kept in the database."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

import storage.sql as storage_sql
from bot.deps import Deps
from handlers.leaderboard import counting, report, results, schedule
from handlers.leaderboard.activities import set_members
from storage.core import ConsoleRole
from storage.leaderboard import ReportResult
from tests.auth.support import sign_in
from tests.leaderboard.conftest import add, make_activity, run_report_jobs
from tests.support import Clock, FakeQueue

URL = "/api/leaderboard/activities"


@pytest.fixture
async def admin(corp: None) -> None:
    await ConsoleRole.create(userid="bob", role="admin")


async def test_a_page_queues_its_table_and_answers_computing(
    client: TestClient, deps: Deps, admin: None, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice", "bob"], [])
    await add("alice", "c1", 1)
    await add("alice", "c2", 2)
    await sign_in(client, deps, "admin")

    computed: list[str] = []
    original = report.member_rows

    async def counted(activity_: object) -> object:
        computed.append(threading.current_thread().name)
        return await original(activity_)  # type: ignore[arg-type]

    monkeypatch.setattr(report, "member_rows", counted)
    path = f"{URL}/{activity.id}/data/members"
    first = await (await client.get(path)).json()
    assert first["computing"] is True and "rows" not in first
    assert first["headers"][:2] == ["排名", "成员"]
    again = await (await client.get(path)).json()  # a reload: the same version, the same job
    assert again == first and computed == []  # nothing computed in the web process
    assert isinstance(deps.queue, FakeQueue)
    ids = [job_id for name, _, job_id, _ in deps.queue.jobs if name == results.JOB]
    assert (
        len(ids) == 2 and ids[0] == ids[1] == f"lb-report:{activity.id}:members:{first['version']}"
    )
    xlsx = await client.get(f"{path}?format=xlsx&version={first['version']}")
    assert xlsx.status == 409 and "计算中" in (await xlsx.json())["error"]

    await run_report_jobs(deps)
    assert len(computed) == 1  # the second job found the table there
    await redis.flushdb()  # Redis lost: the table is in the database
    ready = await (await client.get(f"{path}?version={first['version']}")).json()
    assert ready["rows"] == [[1, "Alice", 0, 2, 0, 2], [2, "Bob", 0, 0, 0, 0]]
    assert ready["version"] == first["version"]
    assert (await (await client.get(path)).json())["rows"] == ready["rows"]  # still current
    assert len(computed) == 1

    await add("bob", "c3", 3)  # a new fact: a new version, computed again
    fresh = await (await client.get(path)).json()
    assert fresh["computing"] is True and fresh["version"] != first["version"]
    await run_report_jobs(deps)
    fresh = await (await client.get(f"{path}?version={fresh['version']}")).json()
    assert [r[1:4] for r in fresh["rows"]] == [["Alice", 0, 2], ["Bob", 0, 1]]


async def test_a_table_computed_since_the_ask_answers_older_versions(
    deps: Deps, corp: None, clock: Clock
) -> None:
    """Callbacks keep changing the version; a job finding a table whose computation began after
    its page asked (so it counts every fact that page's version did) stores it for that version
    instead of computing again."""
    activity = await make_activity()
    await set_members(activity.id, ["alice"], [])
    await add("alice", "c1", 1)
    older = await results.version(activity)
    asked_at = deps.now()
    clock.advance(1)
    await add("alice", "c2", 2)
    newer = await results.version(activity)
    await results.leaderboard_report({"deps": deps}, activity.id, "top10", newer, asked_at)
    await add("alice", "c3", 3)  # not in the table any more: it must not be recomputed
    await results.leaderboard_report({"deps": deps}, activity.id, "top10", older, asked_at)
    assert await results.stored(activity.id, "top10", older) == [[1, "Alice", 2]]


async def test_the_worker_reads_at_the_lowest_cpu_priority(deps: Deps, corp: None) -> None:
    def policy() -> int:
        return os.sched_getscheduler(threading.get_native_id())

    loop = asyncio.get_running_loop()
    with storage_sql.lowest_priority():
        inside = await loop.run_in_executor(storage_sql._executor(), policy)
    outside = await loop.run_in_executor(storage_sql._executor(), policy)
    assert inside == os.SCHED_IDLE and outside != os.SCHED_IDLE


async def test_the_closing_chart_is_drawn_from_the_stored_top10(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await make_activity(remind_start_end=False)
    await set_members(activity.id, ["alice"], [])
    await add("alice", "c1", 1)
    await schedule.run_end(deps, activity)
    assert await ReportResult.filter(activity_id=activity.id, kind="top10").count() == 1

    async def no_recompute(*_: object) -> None:
        raise AssertionError("the chart recomputed the ranking")

    monkeypatch.setattr(counting, "recompute", no_recompute)
    sig = deps.signer.mac("lb.chart", str(activity.id))
    resp = await client.get(f"/api/leaderboard/chart/{activity.id}.png?sig={sig}")
    assert resp.status == 200 and resp.content_type == "image/png"


async def test_the_worker_recomputes_at_the_lowest_priority(
    deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data-table job and the rebuild after an edit both read inside lowest_priority()."""
    from handlers.leaderboard.rebuild import leaderboard_rebuild

    activity = await make_activity()
    await set_members(activity.id, ["alice"], [])
    seen: list[bool] = []
    original = counting.recompute

    async def watched(activity_: object) -> object:
        seen.append(storage_sql._at_lowest.get())
        return await original(activity_)  # type: ignore[arg-type]

    monkeypatch.setattr(counting, "recompute", watched)
    at_version = await results.version(activity)
    await results.leaderboard_report({"deps": deps}, activity.id, "top10", at_version, deps.now())
    await leaderboard_rebuild({"deps": deps}, activity.id, False)
    assert seen == [True, True]
    assert await counting.recompute(activity) and seen[-1] is False  # pages' reads elsewhere
