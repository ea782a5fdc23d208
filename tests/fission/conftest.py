"""Fixtures for the fission tests: deps with a fake WeCom recording what it is asked, an
activity with two prize tiers, and facts inserted the way the facts feature stores them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from handlers.fission import router
from storage.directory import Staff
from storage.facts import Customer, FollowEvent
from storage.fission import FissionActivity, FissionParticipant, FissionTier
from tests.support import Clock, fake_deps

T0 = datetime(2024, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
_seq = itertools.count()


class FakeWeCom:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], dict[str, Any]]] = []
        self.ways: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((list(touser), card))
        return {"errcode": 0}

    async def send_message(self, touser: list[str], message: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((list(touser), message))
        return {"errcode": 0}

    async def add_contact_way(self, **kw: Any) -> dict[str, Any]:
        config_id = f"cfg{next(_seq)}"
        self.ways[config_id] = kw
        return {"config_id": config_id, "qr_code": f"https://qr.example/{config_id}.png"}

    async def del_contact_way(self, config_id: str) -> dict[str, Any]:
        self.deleted.append(config_id)
        self.ways.pop(config_id, None)
        return {"errcode": 0}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Link bindings are cached per process; every test has a database of its own."""
    from bot.visitors import clear_cache

    clear_cache()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> Deps:
    return fake_deps(settings, redis, [router], FakeWeCom(), clock=clock)


async def make_activity(
    tiers: tuple[tuple[int, int], ...] = ((2, 5), (3, 1)), **kw: Any
) -> FissionActivity:
    """A running activity: T0 .. T0 + 7 days, staff alice and bob, tiers (helpers, stock)."""
    for userid in ("alice", "bob"):
        await Staff.get_or_create(
            userid=userid, defaults={"name": userid.title(), "departments": [1]}
        )
    values: dict[str, Any] = {
        "name": "测试裂变",
        "start_at": T0,
        "end_at": T0 + timedelta(days=7),
        "published": True,
        "staff": ["alice", "bob"],
        "revoke_hours": 24,
    }
    values.update(kw)
    activity = await FissionActivity.create(**values)
    for level, (helpers, stock) in enumerate(tiers, start=1):
        await FissionTier.create(
            activity_id=activity.id,
            level=level,
            helpers=helpers,
            prize=f"奖品{level}",
            stock=stock,
            stock_left=stock,
            redeem_text="联系客服领取",
        )
    return activity


async def make_participant(
    activity: FissionActivity, ext: str, code: str = ""
) -> FissionParticipant:
    await Customer.get_or_create(external_userid=ext, defaults={"name": f"客户{ext}"})
    return await FissionParticipant.create(
        activity_id=activity.id,
        external_userid=ext,
        code=code or f"c{next(_seq):07d}",
        name=f"客户{ext}",
        userid="alice",
        joined_at=T0,
    )


async def fact(
    userid: str, ext: str, minutes: float, kind: str = "add", state: str = "", reason: str = ""
) -> FollowEvent:
    """A follow fact as the facts feature stores it."""
    at = T0 + timedelta(minutes=minutes)
    key = f"{kind}:{userid}:{ext}:{at.isoformat()}"
    values = {"userid": userid, "external_userid": ext, "kind": kind, "at": at, "state": state}
    row, _ = await FollowEvent.get_or_create(key=key, defaults=values | {"end_reason": reason})
    return row
