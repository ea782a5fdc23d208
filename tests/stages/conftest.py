"""Fixtures for the stages tests: the stages router with a fake WeCom that records cards, a
movable clock, a small corp (alice and bob in sales, carol in support) and helpers to build
a journey and to deliver domain events as the worker would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bot import event_delivery
from bot.deps import Deps
from bot.domain_events import DELIVER_JOB, DomainEvent, publish
from bot.lifecycle import feature_lifecycle
from bot.settings import Settings
from bot.wecom_errors import WeComError
from handlers.stages import router as stages_router
from storage.directory import Department, Staff
from storage.facts import Customer, FollowRelation, FollowTag, GroupMember
from storage.stages import Journey, Stage, StageRule
from tests.support import Clock, FakeQueue, fake_deps

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


class FakeWeCom:
    def __init__(self) -> None:
        self.cards: list[tuple[list[str], dict[str, Any]]] = []
        self.down = False

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        if self.down:
            raise WeComError(-1, "system busy", "message/send")
        self.cards.append((touser, card))
        return {"errcode": 0}

    async def mark_tag(self, userid: str, ext: str, add: list[str], remove: list[str]) -> None:
        return None


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> AsyncIterator[Deps]:
    made = fake_deps(settings, redis, [stages_router], FakeWeCom(), queue=FakeQueue(), clock=clock)
    async with feature_lifecycle(made):
        yield made


@pytest.fixture
async def corp(db: None) -> None:
    """Departments 1 > 2 (sales), 1 > 3 (support); alice, bob in 2, carol in 3; customers
    wm_ann (alice's and bob's), wm_ben (alice's), wm_cat (carol's), added 10 days before T0."""
    for dept_id, parent in ((1, 0), (2, 1), (3, 1)):
        await Department.create(id=dept_id, name=f"部门{dept_id}", parent_id=parent)
    for userid, depts in (("alice", [2]), ("bob", [2]), ("carol", [3])):
        await Staff.create(userid=userid, name=userid.title(), departments=depts)
    added = T0 - timedelta(days=10)
    for ext, name, staff, state in (
        ("wm_ann", "安", "alice", "expo"),
        ("wm_ann", "安", "bob", ""),
        ("wm_ben", "本", "alice", ""),
        ("wm_cat", "猫", "carol", "web"),
    ):
        await Customer.get_or_create(external_userid=ext, defaults={"name": name})
        await FollowRelation.create(userid=staff, external_userid=ext, added_at=added, state=state)


async def make_journey(
    name: str = "销售旅程",
    stages: tuple[str, ...] = ("新客户", "有意向", "已报价", "已成交"),
    members: list[str] | None = None,
) -> tuple[Journey, list[Stage]]:
    journey = await Journey.create(
        name=name, members=members or [], created_at=T0, updated_at=T0, position=0
    )
    made = [
        await Stage.create(journey_id=journey.id, position=i, name=n) for i, n in enumerate(stages)
    ]
    return journey, made


async def make_rule(stage: Stage, *conditions: dict[str, Any], name: str = "") -> StageRule:
    return await StageRule.create(
        journey_id=stage.journey_id,
        stage_id=stage.id,
        name=name or f"进入{stage.name}",
        conditions=list(conditions),
        enabled=True,
    )


async def tag_relation(userid: str, ext: str, *tags: str) -> None:
    """The tag is on the relation (as facts keeps it after a mark_tags or a client edit)."""
    for tag in tags:
        await FollowTag.get_or_create(
            userid=userid, external_userid=ext, tag_id=tag, defaults={"added_at": T0}
        )


async def join_group(ext: str, chat_id: str = "wr_vip") -> None:
    await GroupMember.get_or_create(
        chat_id=chat_id, member_id=ext, defaults={"member_type": 2, "join_time": T0}
    )


async def deliver(deps: Deps, event: DomainEvent, key: str) -> None:
    """Publish and run the delivery jobs it enqueued, as the worker would."""
    await publish(deps, event, key=key)
    await drain(deps)


async def drain(deps: Deps) -> None:
    queue = deps.queue
    assert isinstance(queue, FakeQueue)
    while jobs := [args for name, args, *_ in queue.jobs if name == DELIVER_JOB]:
        queue.jobs = [j for j in queue.jobs if j[0] != DELIVER_JOB]
        for args in jobs:
            await event_delivery.process(deps, args[0])
