"""Facts follow WeCom's events in order whatever their spacing, and never lose what is known."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.domain_events import GroupJoined, GroupQuit
from bot.events import Event
from bot.router import Router
from bot.settings import Settings
from handlers.facts.base import from_ts
from handlers.facts.groups import SWEEP_AFTER, sweep_changes
from storage.facts import (
    Customer,
    FollowEvent,
    FollowRelation,
    GroupChange,
    GroupMember,
    GroupMembershipEvent,
    TimelineEntry,
)
from tests.facts.fakes import (
    T0,
    FakeWeCom,
    chat_event,
    contact_event,
    deliver,
    make_deps,
    run_jobs,
)
from tests.support import logged_statements

EXT = "wmOrder1"
CHAT = "wrOrderChat"


async def test_an_add_seen_after_the_customer_left_everyone_keeps_the_name(
    deps: Deps, wecom: FakeWeCom
) -> None:
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1, "gender": 1}
    wecom.follows[EXT] = [{"userid": "alice", "createtime": T0}]
    await deliver(deps, contact_event("add_external_contact", "alice", EXT, T0))
    # The customer then deleted everyone: WeCom no longer answers for them (84061) when the
    # worker gets to a later add.
    del wecom.contacts[EXT]
    wecom.follows.pop(EXT)
    await deliver(deps, contact_event("add_external_contact", "bob", EXT, T0 + 60))
    customer = await Customer.get(external_userid=EXT)
    assert (customer.name, customer.gender, customer.type) == ("张三", 1, 1)


def _both_ways(events: list[Event]) -> dict[str, list[Event]]:
    """Each callback three times, in WeCom's order and with the delivery reversed."""
    return {
        "in_order": [e for e in events for _ in range(3)],
        "reversed": [e for e in reversed(events) for _ in range(3)],
    }


@pytest.mark.parametrize("order", ["in_order", "reversed"])
async def test_a_delete_and_re_add_two_seconds_apart_are_two_facts(
    deps: Deps, wecom: FakeWeCom, order: str
) -> None:
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1}
    wecom.follows[EXT] = [{"userid": "alice", "createtime": T0 + 4, "add_way": 1}]
    events = [
        contact_event("add_external_contact", "alice", EXT, T0),
        contact_event("del_follow_user", "alice", EXT, T0 + 2),
        contact_event("add_external_contact", "alice", EXT, T0 + 4),
    ]
    for event in _both_ways(events)[order]:
        await deliver(deps, event)
    adds = await FollowEvent.filter(kind="add").order_by("at").values_list("at", flat=True)
    ends = await FollowEvent.filter(kind="end").values_list("at", flat=True)
    assert list(adds) == [from_ts(T0), from_ts(T0 + 4)]
    assert list(ends) == [from_ts(T0 + 2)]
    relation = await FollowRelation.get(userid="alice", external_userid=EXT)
    assert relation.active and relation.added_at == from_ts(T0 + 4)
    assert await TimelineEntry.filter(external_userid=EXT).count() == 3


def _group(members: list[dict[str, object]]) -> dict[str, object]:
    return {"chat_id": CHAT, "name": "VIP群", "owner": "bob", "member_list": members}


MEMBER = {
    "userid": EXT,
    "type": 2,
    "join_time": T0 + 4,
    "join_scene": 1,
    "invitor": {"userid": "bob"},
}


@pytest.mark.parametrize("order", ["in_order", "reversed"])
async def test_a_quit_and_re_join_two_seconds_apart_are_two_facts(
    deps: Deps, wecom: FakeWeCom, order: str
) -> None:
    wecom.groups[CHAT] = _group([MEMBER])
    events = [
        chat_event(CHAT, "add_member", [EXT], T0, JoinScene="3"),
        chat_event(CHAT, "del_member", [EXT], T0 + 2, QuitScene="0"),
        chat_event(CHAT, "add_member", [EXT], T0 + 4, JoinScene="0"),
    ]
    for event in _both_ways(events)[order]:
        await deliver(deps, event)
    joins = await GroupMembershipEvent.filter(kind="join").order_by("at")
    assert [(j.at, j.scene) for j in joins] == [(from_ts(T0), 3), (from_ts(T0 + 4), 0)]
    assert joins[1].invitor == "bob"
    quits = await GroupMembershipEvent.filter(kind="quit").values_list("at", flat=True)
    assert list(quits) == [from_ts(T0 + 2)]
    assert await GroupMember.filter(chat_id=CHAT, member_id=EXT).exists()


async def test_a_join_survives_redis_losing_its_refresh(
    settings: Settings, db: None, wecom: FakeWeCom, redis: Redis
) -> None:
    """The join was processed, then Redis lost the queued refresh (and its flag): the sweep
    finds the stored change, and the join gets its scene and its inviter."""
    heard: list[tuple[str, str]] = []
    probe = Router("probe")

    @probe.listen(GroupJoined)
    async def joined(d: Deps, event: GroupJoined) -> None:
        heard.append(("join", event.invitor))

    deps = make_deps(settings, redis, wecom, extra=[probe])
    wecom.groups[CHAT] = _group([{**MEMBER, "join_time": T0}])
    outcomes = await deps.dispatcher.dispatch_event(
        deps, chat_event(CHAT, "add_member", [EXT], T0, JoinScene="3")
    )
    assert not [o.error for o in outcomes if o.error]
    deps.queue.take()  # type: ignore[attr-defined]
    await redis.flushdb()
    assert await sweep_changes({"deps": deps}) == 0  # not stale yet: its refresh may run
    deps.clock.advance(SWEEP_AFTER.total_seconds())  # type: ignore[attr-defined]
    assert await sweep_changes({"deps": deps}) == 1
    await run_jobs(deps)
    join = await GroupMembershipEvent.get(kind="join")
    assert (join.scene, join.invitor) == (3, "bob")
    assert heard == [("join", "bob")]
    assert not await GroupChange.filter(done=False).exists()


async def test_after_a_redis_loss_a_quit_never_overtakes_its_join(
    settings: Settings, db: None, wecom: FakeWeCom, redis: Redis
) -> None:
    """The join's refresh was lost with Redis and the customer left before anything ran
    again: both facts are recorded, and subscribers hear the join before the quit."""
    heard: list[str] = []
    probe = Router("probe")

    @probe.listen(GroupJoined)
    async def joined(d: Deps, event: GroupJoined) -> None:
        heard.append("join")

    @probe.listen(GroupQuit)
    async def left(d: Deps, event: GroupQuit) -> None:
        heard.append("quit")

    deps = make_deps(settings, redis, wecom, extra=[probe])
    wecom.groups[CHAT] = _group([])
    await deps.dispatcher.dispatch_event(
        deps, chat_event(CHAT, "add_member", [EXT], T0, JoinScene="0")
    )
    deps.queue.take()  # type: ignore[attr-defined]
    await redis.flushdb()
    await deliver(deps, chat_event(CHAT, "del_member", [EXT], T0 + 30, QuitScene="0"))
    facts = await GroupMembershipEvent.all().order_by("at").values_list("kind", flat=True)
    assert list(facts) == ["join", "quit"]
    assert heard == ["join", "quit"]


async def test_an_add_costs_a_bounded_number_of_statements(deps: Deps, wecom: FakeWeCom) -> None:
    """The pair's facts are read once; the customer, the first add and the relation are
    each one upsert or conditional update (no read-then-write)."""
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1}
    wecom.follows[EXT] = [{"userid": "alice", "createtime": T0, "add_way": 1}]
    with logged_statements() as statements:
        await deliver(deps, contact_event("add_external_contact", "alice", EXT, T0))
    assert await FollowRelation.filter(userid="alice", external_userid=EXT, active=True).exists()
    assert (await Customer.get(external_userid=EXT)).first_added_by == "alice"
    assert statements.count <= 11, statements.count


async def test_changes_of_a_group_wecom_refuses_stop_asking_for_refreshes(
    deps: Deps, wecom: FakeWeCom
) -> None:
    """Not ours any more (WeCom answers 'chat not found'): the sweep does not retry forever,
    and consumed changes are pruned after a week."""
    await deliver(deps, chat_event("wrGone", "add_member", [EXT], T0, JoinScene="0"))
    assert not await GroupChange.filter(done=False).exists()
    deps.clock.advance(SWEEP_AFTER.total_seconds())  # type: ignore[attr-defined]
    assert await sweep_changes({"deps": deps}) == 0
    assert await GroupChange.filter(done=True).exists()
    deps.clock.advance(8 * 24 * 3600)  # type: ignore[attr-defined]
    await sweep_changes({"deps": deps})
    assert not await GroupChange.all().exists()


async def test_one_wecom_read_per_customer_per_batch(deps: Deps, wecom: FakeWeCom) -> None:
    """A customer adding two staff members in one burst: one externalcontact/get."""
    from bot import inbox
    from storage.core import InboxEvent, InboxStatus

    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1}
    wecom.follows[EXT] = [{"userid": u, "createtime": T0, "add_way": 1} for u in ("alice", "bob")]
    ids = []
    for userid in ("alice", "bob"):
        event = contact_event("add_external_contact", userid, EXT, T0)
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in event.raw.items())
        row, _ = await inbox.store(f"<xml>{xml}</xml>", event, deps.now())
        ids.append(row.id)
    assert await inbox.process_batch(deps, ids) == 2
    assert wecom.calls.count("get_external_contact") == 1
    assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 2
    assert await FollowRelation.filter(external_userid=EXT, active=True).count() == 2


async def test_a_groups_new_facts_are_published_in_one_statement(
    settings: Settings, db: None, wecom: FakeWeCom, redis: Redis
) -> None:
    """Five customers joining at once: their facts are published together, in WeCom's order
    (one INSERT of the events, not one each), and each subscriber hears every join once."""
    heard: list[str] = []
    probe = Router("probe")

    @probe.listen(GroupJoined)
    async def joined(d: Deps, event: GroupJoined) -> None:
        heard.append(event.member_id)

    deps = make_deps(settings, redis, wecom, extra=[probe])
    exts = [f"wmJoin{n}" for n in range(5)]
    members = [{**MEMBER, "userid": ext, "join_time": T0 + n} for n, ext in enumerate(exts)]
    wecom.groups[CHAT] = _group(members)
    with logged_statements("INSERT INTO domain_event") as inserts:
        await deliver(deps, chat_event(CHAT, "add_member", exts, T0 + 5, JoinScene="0"))
    assert inserts.count == 1, inserts.count
    assert heard == exts
