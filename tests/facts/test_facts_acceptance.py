"""A customer adds two staff members, deletes one, joins a group by QR, leaves, and re-joins
by invite: 2 adds, 1 end, 2 joins (scenes 3 and 0), 1 quit, each timeline entry once — with
every callback delivered three times, in order and reordered."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined
from bot.events import Event
from bot.router import Router
from bot.settings import Settings
from handlers.facts import first_add, is_new_customer
from handlers.facts.base import from_ts
from storage.facts import (
    Customer,
    FollowEvent,
    FollowRelation,
    GroupMember,
    GroupMembershipEvent,
    TimelineEntry,
)
from tests.facts.fakes import T0, FakeWeCom, chat_event, contact_event, deliver, make_deps

CHAT = "wrOgQhDgAAchat1"
EXT = "wmCustomer1"


def final_state(wecom: FakeWeCom) -> None:
    """WeCom after everything happened: handlers run late, so they see this state."""
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1, "gender": 1}
    wecom.follows[EXT] = [
        {
            "userid": "bob",
            "createtime": T0 + 10,
            "add_way": 1,
            "state": "qr1",
            "remark": "张总",
            "tags": [{"tag_id": "t1", "type": 1}],
        },
    ]
    wecom.groups[CHAT] = {
        "chat_id": CHAT,
        "name": "VIP群",
        "owner": "bob",
        "create_time": T0 - 100,
        "member_version": "v3",
        "member_list": [
            {"userid": "bob", "type": 1, "join_time": T0 - 100, "join_scene": 1},
            {
                "userid": EXT,
                "type": 2,
                "join_time": T0 + 50,
                "join_scene": 0,
                "invitor": {"userid": "bob"},
            },
        ],
    }


def events() -> list[Event]:
    return [
        contact_event("add_external_contact", "alice", EXT, T0, State="qr1"),
        contact_event("add_external_contact", "bob", EXT, T0 + 10, State="qr1"),
        contact_event("del_follow_user", "alice", EXT, T0 + 20),
        chat_event(CHAT, "add_member", [EXT], T0 + 30, JoinScene="3"),
        chat_event(CHAT, "del_member", [EXT], T0 + 40, QuitScene="0"),
        chat_event(CHAT, "add_member", [EXT], T0 + 50, JoinScene="0"),
    ]


ORDERS = {
    "in_order": [0, 1, 2, 3, 4, 5] * 3,
    "each_thrice": [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5],
    "reordered": [2, 5, 4, 1, 3, 0, 4, 2, 0, 5, 3, 1, 1, 0, 2, 3, 5, 4],
}


@pytest.mark.parametrize("order", list(ORDERS))
async def test_acceptance(
    settings: Settings, redis: Redis, db: None, wecom: FakeWeCom, order: str
) -> None:
    final_state(wecom)
    seen: dict[str, list[tuple[str, Any]]] = {"add": [], "join": []}
    probe = Router("probe")

    @probe.listen(FollowAdded)
    async def count_add(d: Deps, event: FollowAdded) -> None:
        seen["add"].append((event.userid, event.at))

    @probe.listen(GroupJoined)
    async def count_join(d: Deps, event: GroupJoined) -> None:
        seen["join"].append((event.member_id, event.at))

    deps = make_deps(settings, redis, wecom, extra=[probe])
    evs = events()
    for i in ORDERS[order]:
        await deliver(deps, evs[i])

    adds = await FollowEvent.filter(external_userid=EXT, kind="add").order_by("at")
    ends = await FollowEvent.filter(external_userid=EXT, kind="end")
    assert [(a.userid, a.at) for a in adds] == [("alice", from_ts(T0)), ("bob", from_ts(T0 + 10))]
    assert [(e.userid, e.end_reason, e.at) for e in ends] == [
        ("alice", "deleted_by_customer", from_ts(T0 + 20))
    ]
    assert ends[0].key == f"end:alice:{EXT}:{T0}"
    rel = {r.userid: r for r in await FollowRelation.filter(external_userid=EXT)}
    assert not rel["alice"].active and rel["bob"].active and rel["bob"].remark == "张总"

    joins = await GroupMembershipEvent.filter(member_id=EXT, kind="join").order_by("at")
    quits = await GroupMembershipEvent.filter(member_id=EXT, kind="quit")
    assert [(j.scene, j.at) for j in joins] == [(3, from_ts(T0 + 30)), (0, from_ts(T0 + 50))]
    assert joins[1].invitor == "bob"
    assert [(q.scene, q.at, q.key) for q in quits] == [
        (0, from_ts(T0 + 40), f"quit:{CHAT}:{EXT}:{T0 + 30}")
    ]
    assert await GroupMember.filter(chat_id=CHAT).values_list("member_id", flat=True) == [
        "bob",
        EXT,
    ] or set(await GroupMember.filter(chat_id=CHAT).values_list("member_id", flat=True)) == {
        "bob",
        EXT,
    }

    timeline = await TimelineEntry.filter(external_userid=EXT).order_by("at")
    assert [t.kind for t in timeline] == [
        "added",
        "added",
        "deleted",
        "group_join",
        "group_quit",
        "group_join",
    ]
    customer = await Customer.get(external_userid=EXT)
    assert customer.name == "张三"
    assert (customer.first_added_by, customer.first_added_at) == ("alice", from_ts(T0))
    first = await first_add(EXT)
    assert first is not None and first.userid == "alice"
    assert await is_new_customer(EXT, from_ts(T0))
    assert not await is_new_customer(EXT, from_ts(T0 + 1))
    # Each subscriber got each fact exactly once, however often WeCom delivered it.
    assert sorted(seen["add"]) == sorted((a.userid, a.at) for a in adds)
    customer_joins = [j for j in seen["join"] if j[0] == EXT]
    assert sorted(customer_joins) == sorted((j.member_id, j.at) for j in joins)
