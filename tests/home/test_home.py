"""The console home (首页): tiles contributed by the features through `router.tile`, with real
numbers from seeded facts, scoped to the viewer, plus the system's health for admins; the
landing page of the console in a real browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.deps import Deps
from bot.lifecycle import feature_lifecycle
from bot.settings import Settings
from handlers import FEATURE_ROUTERS
from handlers.facts.store import record_add, record_end
from handlers.system import router as system_router
from storage.core import DomainEventRow, EventStatus, InboxEvent, InboxStatus
from storage.directory import Department, Staff
from storage.facts import CustomerGroup, GroupMembershipEvent
from storage.leaderboard import Activity
from storage.radar import Visit
from tests.auth.support import FakeWeCom, build_app, csrf, sign_in
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.support import Clock, fake_deps

STATIC = Path(__file__).resolve().parents[2] / "static"
NOW = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
YESTERDAY = NOW - timedelta(days=1)


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None) -> AsyncIterator[Deps]:
    routers = [system_router, *FEATURE_ROUTERS]
    made = fake_deps(settings, redis, routers, FakeWeCom(), clock=Clock(NOW))
    async with feature_lifecycle(made):
        yield made


async def _join(chat_id: str, member: str, at: datetime, member_type: int = 2) -> None:
    await GroupMembershipEvent.create(
        key=f"join:{chat_id}:{member}:{int(at.timestamp())}", kind="join", at=at, scene=3,
        invitor="", source="callback", chat_id=chat_id, member_id=member, member_type=member_type,
    )  # fmt: skip


async def _visit(n: int, userid: str, at: datetime) -> None:
    await Visit.create(
        id=f"v{n}", share_id=1, radar_id=1, visitor_id=f"vis{n % 2}", root_userid=userid,
        started_at=at,
    )  # fmt: skip


@pytest.fixture
async def seeded(deps: Deps) -> None:
    """alice (sales) and carol (support); today: 3 adds (2 alice, 1 carol), one loss, two
    customer joins and a staff join, 3 radar visits; yesterday's facts must not count."""
    await Department.create(id=2, name="销售部", parent_id=1)
    await Department.create(id=4, name="客服部", parent_id=1)
    await Staff.create(userid="alice", name="李娜", departments=[2])
    await Staff.create(userid="carol", name="王芳", departments=[4])
    for uid, ext, at in (
        ("alice", "wm1", NOW - timedelta(hours=2)),
        ("alice", "wm2", NOW - timedelta(hours=1)),
        ("carol", "wm3", NOW - timedelta(hours=1)),
        ("alice", "wm0", YESTERDAY),
    ):
        await record_add(deps, userid=uid, external_userid=ext, at=at)
    await record_end(
        deps, userid="alice", external_userid="wm1", at=NOW, reason="deleted_by_customer"
    )
    await CustomerGroup.create(chat_id="c1", name="VIP群", owner="alice")
    await CustomerGroup.create(chat_id="c2", name="售后群", owner="carol")
    await _join("c1", "wm1", NOW - timedelta(minutes=5))
    await _join("c2", "wm3", NOW - timedelta(minutes=5))
    await _join("c1", "alice", NOW - timedelta(minutes=5), member_type=1)  # staff: not counted
    await _join("c1", "wm0", YESTERDAY)
    for n, uid in enumerate(("alice", "alice", "carol")):
        await _visit(n, uid, NOW - timedelta(minutes=n))
    await _visit(9, "alice", YESTERDAY)
    await Activity.create(name="三月拉新", start_at=YESTERDAY, end_at=NOW + timedelta(days=3))
    await Activity.create(name="二月拉新", start_at=NOW - timedelta(days=30), end_at=YESTERDAY)
    await InboxEvent.create(
        key="k1", kind="x", xml="<xml/>", received_at=NOW, status=InboxStatus.DEAD
    )
    await DomainEventRow.filter(kind="FollowEnded").update(status=EventStatus.DEAD)


async def _tiles(client: TestClient, deps: Deps, userid: str) -> dict[str, object]:
    await sign_in(client, deps, userid)
    resp = await client.get("/api/home")
    assert resp.status == 200
    return {t["title"]: t["value"] for t in (await resp.json())["tiles"]}


async def test_admin_sees_every_number_and_the_health(
    client: TestClient, deps: Deps, seeded: None
) -> None:
    assert await _tiles(client, deps, "admin") == {
        "今日新增客户": 3,
        "今日流失客户": 1,
        "今日入群人数": 2,
        "今日雷达访问": 3,
        "进行中的排行榜活动": 1,
        "待处理回调": 0,
        "失败回调": 1,
        "待投递事件": 4,  # the adds wait for the leaderboard's subscriber (no worker here)
        "投递失败事件": 1,
    }


async def test_staff_see_their_own_numbers_and_no_health(
    client: TestClient, deps: Deps, seeded: None
) -> None:
    assert await _tiles(client, deps, "carol") == {
        "今日新增客户": 1,
        "今日流失客户": 0,
        "今日入群人数": 1,
        "今日雷达访问": 1,
        "进行中的排行榜活动": 1,
    }


async def test_a_failing_tile_hook_leaves_the_others(
    client: TestClient, deps: Deps, seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(deps: Deps, user: object) -> list[object]:
        raise RuntimeError("down")

    radar = next(r for r in deps.dispatcher.routers if r.name == "radar")
    monkeypatch.setattr(radar, "tiles", [broken])
    tiles = await _tiles(client, deps, "admin")
    assert "今日雷达访问" not in tiles and tiles["今日新增客户"] == 3


async def test_dead_events_listed_and_retried_by_admins(
    client: TestClient, deps: Deps, seeded: None
) -> None:
    await sign_in(client, deps, "carol")
    assert (await client.get("/api/system/events")).status == 403
    await sign_in(client, deps, "admin")
    body = await (await client.get("/api/system/events?status=dead")).json()
    [item] = body["items"]
    assert (item["kind"], item["status"], body["total"]) == ("FollowEnded", "dead", 1)
    assert (await client.get("/api/system/events?status=nope")).status == 400
    resp = await client.post(f"/api/system/events/{item['id']}/retry", headers=csrf(client))
    assert resp.status == 200
    row = await DomainEventRow.get(id=item["id"])
    assert (row.status, row.attempts) == (EventStatus.PENDING, 0)
    assert ("deliver_event", (row.id,)) in deps.queue.take()  # type: ignore[attr-defined]


@pytest.fixture
async def server(
    deps: Deps, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> TestServer:
    app = build_app(deps)
    app.router.add_static("/static", STATIC)
    return await aiohttp_server(app)


BROWSER, HAS_CHROMIUM = needs_chromium


@BROWSER
@HAS_CHROMIUM
@pytest.mark.usefixtures("seeded")
async def test_console_opens_on_the_home_tiles(server: TestServer, deps: Deps) -> None:
    async with chromium() as browser:
        page = await signed_in_page(browser, deps, str(server.make_url("/")), "admin")
        await page.goto(str(server.make_url("/admin")))
        business = page.locator(".stats[data-group='业务']")
        await business.locator("[data-tile='今日新增客户'] .value").wait_for()
        values = {
            title: await business.locator(f"[data-tile='{title}'] .value").inner_text()
            for title in ("今日新增客户", "今日流失客户", "今日入群人数", "今日雷达访问")
        }
        assert values == {
            "今日新增客户": "3",
            "今日流失客户": "1",
            "今日入群人数": "2",
            "今日雷达访问": "3",
        }
        health = page.locator(".stats[data-group='系统']")
        assert await health.locator("[data-tile='投递失败事件'] .value").inner_text() == "1"
        await health.locator("[data-tile='投递失败事件']").click()
        await page.wait_for_selector("h1:has-text('事件投递')")
        await page.wait_for_selector("td:has-text('FollowEnded')")


async def test_the_corps_morning_counts_as_today(
    client: TestClient, deps: Deps, seeded: None
) -> None:
    """At 07:30 in Shanghai (23:30 UTC the day before) an add at 07:00 local is today's and
    one at 23:00 local yesterday is not, on every database."""
    morning = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)  # 2 March, 07:30 in Shanghai
    clock = deps.clock
    assert isinstance(clock, Clock)
    clock.now = morning
    await record_add(
        deps, userid="alice", external_userid="wm7", at=morning - timedelta(minutes=30)
    )
    await record_add(
        deps, userid="alice", external_userid="wm8", at=morning - timedelta(hours=8, minutes=30)
    )
    assert (await _tiles(client, deps, "admin"))["今日新增客户"] == 1
