"""The acceptance scenario through the real app, the sandbox WeCom and a burst worker: a
customer adds two staff members, deletes one, joins a group by QR, leaves and re-joins by
invite. Every callback arrives three times; in one run WeCom's delivery order is shuffled."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.driver import CallbackResult
from handlers import facts as facts_pkg
from handlers.facts import groups as facts_groups
from handlers.facts.base import from_ts
from handlers.facts.directory import sync_directory
from handlers.system import router as system_router
from storage.core import InboxEvent, InboxStatus
from storage.facts import (
    FollowEvent,
    FollowRelation,
    GroupMember,
    GroupMembershipEvent,
    TimelineEntry,
)
from tests.harness import Stack, running_stack

EXT = "wmE2eCustomer1"
T0 = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


def scenario_corp(clock: Callable[[], float]) -> tuple[Corp, str]:
    corp = Corp(clock=clock)
    corp.add_staff("alice", "艾丽丝")
    corp.add_staff("bob", "鲍勃")
    corp.add_customer("张三", EXT)
    chat = corp.create_group("bob", "VIP客户群")
    return corp, chat.chat_id


async def act(stack: Stack, clock: Clock, chat_id: str) -> list[str]:
    """The six things the customer does, ten seconds apart; returns the callbacks' XML."""
    d = stack.driver
    steps: list[Any] = [
        lambda: d.customer_adds_staff("alice", EXT, state="qr1", welcome=False),
        lambda: d.customer_adds_staff("bob", EXT, state="qr1", welcome=False),
        lambda: d.customer_deletes_staff("alice", EXT),
        lambda: d.customer_joins_group(chat_id, EXT, scene=3),
        lambda: d.customer_quits_group(chat_id, EXT, scene=0),
        lambda: d.customer_joins_group(chat_id, EXT, scene=0, invitor="bob"),
    ]
    xmls = []
    for step in steps:
        result: CallbackResult = await step()
        xmls.append(result.xml)
        clock.now += 10
    return xmls


def hold_callbacks(stack: Stack) -> None:
    """The driver changes the corp but keeps the callbacks, to send them in another order."""

    async def keep(xml: str, times: int = 1) -> list[CallbackResult]:
        return [CallbackResult(200, "success", xml)]

    stack.driver.deliver_raw = keep  # type: ignore[method-assign]


async def assert_facts(chat_id: str) -> None:
    adds = await FollowEvent.filter(external_userid=EXT, kind="add").order_by("at")
    ends = await FollowEvent.filter(external_userid=EXT, kind="end")
    assert [(a.userid, a.at, a.state) for a in adds] == [
        ("alice", from_ts(T0), "qr1"),
        ("bob", from_ts(T0 + 10), "qr1"),
    ]
    assert [(e.userid, e.end_reason, e.at) for e in ends] == [
        ("alice", "deleted_by_customer", from_ts(T0 + 20))
    ]
    relations = {r.userid: r for r in await FollowRelation.filter(external_userid=EXT)}
    assert not relations["alice"].active and relations["bob"].active

    joins = await GroupMembershipEvent.filter(member_id=EXT, kind="join").order_by("at")
    quits = await GroupMembershipEvent.filter(member_id=EXT, kind="quit")
    assert [(j.chat_id, j.scene, j.at) for j in joins] == [
        (chat_id, 3, from_ts(T0 + 30)),
        (chat_id, 0, from_ts(T0 + 50)),
    ]
    assert joins[1].invitor == "bob"
    assert [(q.scene, q.at) for q in quits] == [(0, from_ts(T0 + 40))]
    members = await GroupMember.filter(chat_id=chat_id).values_list("member_id", flat=True)
    assert sorted(members) == sorted(["bob", EXT])

    timeline = await TimelineEntry.filter(external_userid=EXT).order_by("at")
    assert [(t.kind, t.at) for t in timeline] == [
        ("added", from_ts(T0)),
        ("added", from_ts(T0 + 10)),
        ("deleted", from_ts(T0 + 20)),
        ("group_join", from_ts(T0 + 30)),
        ("group_quit", from_ts(T0 + 40)),
        ("group_join", from_ts(T0 + 50)),
    ]
    assert timeline[0].text == "添加了员工 艾丽丝" and timeline[2].text == "删除了员工 艾丽丝"
    assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 6
    assert await InboxEvent.all().count() == 6


@pytest.fixture(autouse=True)
def quick_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts_groups, "REFRESH_DELAY", 0.05)


async def test_each_step_delivered_three_times(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clock = Clock()
    corp, chat_id = scenario_corp(clock)
    routers = [system_router, facts_pkg.router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp, routers=routers
    ) as stack:
        await sync_directory(stack.deps)
        for xml in await act_stepwise(stack, clock, chat_id):
            assert xml
        await assert_facts(chat_id)
        # A late fourth copy of everything changes nothing.
        for xml in [r.xml for r in stack.driver.log[::3]]:
            await stack.driver.deliver_raw(xml)
        await stack.run_jobs()
        await assert_facts(chat_id)


async def act_stepwise(stack: Stack, clock: Clock, chat_id: str) -> list[str]:
    """Each action, its two retries, then the worker: the group refresh sees every state."""
    original = stack.driver.deliver_raw

    async def thrice(xml: str, times: int = 1) -> list[CallbackResult]:
        results = await original(xml, times=3)
        assert [r.status for r in results] == [200, 200, 200]
        await stack.run_jobs()
        return results

    stack.driver.deliver_raw = thrice  # type: ignore[method-assign]
    try:
        return await act(stack, clock, chat_id)
    finally:
        stack.driver.deliver_raw = original  # type: ignore[method-assign]


async def test_reordered_and_delivered_three_times(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clock = Clock()
    corp, chat_id = scenario_corp(clock)
    routers = [system_router, facts_pkg.router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp, routers=routers
    ) as stack:
        await sync_directory(stack.deps)
        send = stack.driver.deliver_raw
        hold_callbacks(stack)
        xmls = await act(stack, clock, chat_id)
        # The end before the adds, the quit before the joins, and the re-join's callback
        # only after a refresh already saw the customer back in the group.
        order = [2, 4, 3, 1, 5, 0]
        copies = [xmls[i] for i in order] + [xmls[i] for i in random.Random(7).sample(order, 6)]
        for i, xml in enumerate(copies):
            results = await send(xml)
            assert results[0].status == 200
            if i == 2:  # part of the burst is processed before the rest arrives
                await stack.run_jobs()
        for xml in xmls:
            await send(xml)
        await stack.run_jobs()
        await assert_facts(chat_id)
