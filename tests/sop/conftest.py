"""Fixtures for the SOP tests: a sandbox WeCom on a loopback port whose clock is the test's,
a real WeComClient talking to it, deps with that client and a recording queue, and a small
corp (sales: alice, bob; support: carol) in both the sandbox and our directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.server import create_sandbox_app
from bot.settings import Settings
from bot.wecom import WeComClient
from handlers.sop import router
from storage.directory import Department, Staff
from storage.facts import Customer, FollowRelation
from tests.conftest import make_settings
from tests.support import Clock, FakeQueue, fake_deps

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def corp(clock: Clock) -> Corp:
    corp = Corp(clock=lambda: clock.now.timestamp())
    corp.add_department(2, "销售部")
    corp.add_department(3, "客服部")
    corp.add_staff("alice", "张丽", [2])
    corp.add_staff("bob", "王博", [2])
    corp.add_staff("carol", "陈可", [3])
    corp.add_staff("admin", "管理员", [1])
    group = corp.add_tags("客户等级", ["VIP"])
    corp.vip = group.tags[0].id  # type: ignore[attr-defined]
    for ext, userid in (("wm_a1", "alice"), ("wm_a2", "alice"), ("wm_b1", "bob")):
        corp.add_customer(f"客户{ext[-2:]}", ext)
        corp.add_follow(userid, ext)
    return corp


@pytest.fixture
async def sandbox_url(corp: Corp) -> AsyncIterator[str]:
    app = create_sandbox_app(
        corp,
        corp_id="wwsoptest",
        secrets={"app": "app-secret", "contact": "contact-secret"},
        agent_id=1000002,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def settings(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, sandbox_url: str
) -> Settings:
    wecom = {
        "api_base": sandbox_url,
        "corp_id": "wwsoptest",
        "secret": "app-secret",
        "contact_secret": "contact-secret",
        "agent_id": 1000002,
    }
    return make_settings(tmp_path, db_url, redis_server.url, wecom=wecom)


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> AsyncIterator[Deps]:
    await redis.flushdb()
    async with aiohttp.ClientSession() as session:
        client = WeComClient(settings, redis, session)
        yield fake_deps(settings, redis, [router], client, queue=FakeQueue(), clock=clock)


@pytest.fixture
async def directory(db: None) -> None:
    for dept_id, parent in ((1, 0), (2, 1), (3, 1)):
        await Department.create(id=dept_id, name=f"部门{dept_id}", parent_id=parent)
    for userid, name, depts in (
        ("alice", "张丽", [2]),
        ("bob", "王博", [2]),
        ("carol", "陈可", [3]),
        ("admin", "管理员", [1]),
    ):
        await Staff.create(userid=userid, name=name, departments=depts)
    for ext, userid in (("wm_a1", "alice"), ("wm_a2", "alice"), ("wm_b1", "bob")):
        await Customer.create(external_userid=ext, name=f"客户{ext[-2:]}")
        await FollowRelation.create(userid=userid, external_userid=ext, added_at=T0)


def plan_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "每日新品",
        "mode": "personal",
        "userids": ["alice", "bob"],
        "freq": "daily",
        "at_time": "12:00",
        "start_date": "2024-06-03",
        "end_date": "2024-06-30",
        "items": [{"text": "今日新品", "kind": "text"}],
    }
    body.update(kw)
    return body


def cards_of(corp: Corp, userid: str) -> list[dict[str, Any]]:
    return [m.card or {} for m in corp.inbox(userid) if m.msgtype == "template_card"]


def after(clock: Clock, **delta: float) -> None:
    clock.now = clock.now + timedelta(**delta)
