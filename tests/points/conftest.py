"""Fixtures for the points tests: the points router on a fake WeCom that records cards, a
recording queue, a movable clock, and a small corp with two scoped groups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.lifecycle import feature_lifecycle
from bot.settings import Settings
from handlers.points import router as points_router
from storage.directory import Department, Staff
from storage.facts import Customer, CustomerGroup, FollowRelation, GroupMember
from tests.support import Clock, fake_deps


class FakeWeCom:
    def __init__(self) -> None:
        self.cards: list[tuple[list[str], dict[str, Any]]] = []
        self.messages: list[tuple[list[str], dict[str, Any]]] = []

    async def send_message(self, touser: list[str], message: dict[str, Any]) -> dict[str, Any]:
        self.messages.append((touser, message))
        return {"errcode": 0}

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        self.cards.append((touser, card))
        return {"errcode": 0}


@pytest.fixture
def clock() -> Clock:
    # 10:00 in Shanghai
    return Clock(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> AsyncIterator[Deps]:
    made = fake_deps(settings, redis, [points_router], FakeWeCom(), clock=clock)
    async with feature_lifecycle(made):
        yield made


@pytest.fixture
async def corp(db: None) -> None:
    """Staff alice (dept 2) and bob; customers wm_ann and wm_ben (alice's) in groups g1 and
    g2, wm_cat in g1 only; g3 is not scoped."""
    await Department.create(id=1, name="公司", parent_id=0)
    await Department.create(id=2, name="销售部", parent_id=1)
    await Staff.create(userid="alice", name="Alice", departments=[2])
    await Staff.create(userid="bob", name="Bob", departments=[2])
    at = datetime(2025, 1, 1, tzinfo=UTC)
    for chat, name in (("g1", "会员一群"), ("g2", "会员二群"), ("g3", "其他群")):
        await CustomerGroup.create(chat_id=chat, name=name, owner="alice", created_at=at)
    for ext, name, chats in (
        ("wm_ann", "安", ["g1", "g2"]),
        ("wm_ben", "本", ["g1", "g2"]),
        ("wm_cat", "猫", ["g1"]),
    ):
        await Customer.create(external_userid=ext, name=name)
        await FollowRelation.create(userid="alice", external_userid=ext, added_at=at)
        for chat in chats:
            await GroupMember.create(chat_id=chat, member_id=ext, member_type=2, join_time=at)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    from bot.visitors import clear_cache

    clear_cache()
