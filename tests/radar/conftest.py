"""Fixtures for the radar tests: a real app with the radar router, a fake WeCom that records
cards and tag calls, a recording queue, a movable clock, and a small corp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.lifecycle import feature_lifecycle
from bot.settings import Settings
from bot.wecom_errors import WeComError
from handlers.radar import router as radar_router
from storage.directory import Department, Staff
from storage.facts import Customer, FollowRelation
from tests.support import Clock, fake_deps


class FakeWeCom:
    def __init__(self) -> None:
        self.cards: list[tuple[list[str], dict[str, Any]]] = []
        self.tags: list[tuple[str, str, list[str]]] = []
        self.failing: set[str] = set()  # method names that raise WeComError(-1) once
        self.down: set[str] = set()  # method names that raise WeComError(-1) every time
        self.calls: list[str] = []
        self.ways: list[dict[str, Any]] = []  # add_contact_way calls

    def _fail(self, method: str) -> None:
        self.calls.append(method)
        if method in self.down:
            raise WeComError(-1, "system busy", method)
        if method in self.failing:
            self.failing.discard(method)
            raise WeComError(-1, "system busy", method)

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        self._fail("send_template_card")
        self.cards.append((touser, card))
        return {"errcode": 0}

    async def mark_tag(self, userid: str, ext: str, add: list[str], remove: list[str]) -> None:
        self._fail("mark_tag")
        self.tags.append((userid, ext, add))

    async def add_contact_way(self, **kw: Any) -> dict[str, Any]:
        self._fail("add_contact_way")
        self.ways.append(kw)
        config_id = f"cw{len(self.ways)}"
        # WeCom's qr_code is the URL of an image of the QR code.
        return {"config_id": config_id, "qr_code": f"https://wework.qpic.cn/wwpic/{config_id}/0"}


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> AsyncIterator[Deps]:
    """With the radar's per-process resources open, as in a running process."""
    made = fake_deps(settings, redis, [radar_router], FakeWeCom(), clock=clock)
    async with feature_lifecycle(made):
        yield made


@pytest.fixture
async def corp(db: None) -> None:
    """Departments 1 > 2 (sales) > 3 (east), 1 > 4 (support); staff alice(2), bob(3), carol(4);
    customers wm_ann (alice's) and wm_ben (bob's)."""
    for dept_id, parent in ((1, 0), (2, 1), (3, 2), (4, 1)):
        await Department.create(id=dept_id, name=f"部门{dept_id}", parent_id=parent)
    for userid, depts in (("alice", [2]), ("bob", [3]), ("carol", [4])):
        await Staff.create(userid=userid, name=userid.title(), departments=depts)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for ext, name, staff in (("wm_ann", "安", "alice"), ("wm_ben", "本", "bob")):
        await Customer.create(external_userid=ext, name=name)
        await FollowRelation.create(userid=staff, external_userid=ext, added_at=now)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    from bot.visitors import clear_cache
    from handlers.radar.common import clear_caches

    clear_caches()
    clear_cache()
