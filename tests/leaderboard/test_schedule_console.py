"""The console's 定时任务 list after an outage: the leaderboard's missed runs shown as run
late (延迟) or skipped, each once, with the feature's Chinese title."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from handlers.leaderboard import router, schedule
from handlers.leaderboard.activities import set_members
from handlers.system import router as system_router
from tests.auth.support import build_app, sign_in
from tests.browser import CHROMIUM, chromium, signed_in_page
from tests.leaderboard.conftest import T0, FakeWeCom, make_activity
from tests.support import Clock, fake_deps, run_due

STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> Deps:
    return fake_deps(settings, redis, [router, system_router], FakeWeCom(), clock=clock)


async def test_runs_missed_during_an_outage_are_listed_late_or_skipped(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    activity = await make_activity(daily_time="18:00", started_done=False)
    await set_members(activity.id, ["alice", "bob"], [])
    clock.now = T0 - timedelta(hours=1)
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(days=1, hours=9, minutes=20)  # 18:20 the next day
    assert sorted(await run_due(deps)) == ["done", "done"]
    assert await run_due(deps) == []
    await sign_in(client, deps, "admin")
    resp = await client.get("/api/system/scheduled-runs?late=1")
    assert resp.status == 200
    rows = {r["key"]: r for r in (await resp.json())["items"]}
    start, day1, day2 = (rows[f"{activity.id}:{k}"] for k in ("start", "2024-06-01", "2024-06-02"))
    assert start["title"] == "排行榜活动开始" and start["state_label"] == "已完成" and start["late"]
    assert day1["title"] == "排行榜每日播报" and day1["state_label"] == "已跳过"
    assert day2["state_label"] == "已完成" and day2["attempts"] == 1
    daily = [c for _, c in deps.wecom.sent if "每日播报" in c["main_title"]["title"]]  # type: ignore[attr-defined]
    assert len(daily) == 2  # the 2nd's broadcast to alice and bob; the 1st's was skipped
    pending = await (await client.get("/api/system/scheduled-runs?state=pending")).json()
    assert all(not r["late"] for r in pending["items"]) and pending["total"] == 6
    bad = await client.get("/api/system/scheduled-runs?state=nope")
    assert bad.status == 400 and (await bad.json())["field"] == "state"
    await sign_in(client, deps, "alice")
    assert (await client.get("/api/system/scheduled-runs")).status == 403


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")
async def test_console_page_marks_late_runs(
    deps: Deps,
    corp: None,
    clock: Clock,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> None:
    activity = await make_activity(daily_time="18:00", started_done=True)
    await set_members(activity.id, ["alice"], [])
    clock.now = T0 - timedelta(hours=1)
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(hours=10)  # 19:00: the 18:00 broadcast an hour late
    assert await run_due(deps) == ["done"]
    app = build_app(deps)
    app.router.add_static("/static", STATIC)
    server = await aiohttp_server(app)
    async with chromium() as browser:
        base = str(server.make_url("/"))
        page = await signed_in_page(browser, deps, base, "admin")
        await page.goto(str(server.make_url("/admin#schedule")))
        row = page.locator("tr", has_text=f"{activity.id}:2024-06-01")
        await row.locator(".late-tag:has-text('延迟')").wait_for()
        assert "排行榜每日播报" in await row.inner_text() and "已完成" in await row.inner_text()
