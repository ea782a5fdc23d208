"""查看群聊: the activity's groups with their customers and joins, and one group's detail."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.leaderboard.activities import set_members
from storage.facts import Customer, CustomerGroup, GroupMember
from tests.auth.support import sign_in
from tests.leaderboard.conftest import T0, join, make_activity

URL = "/api/leaderboard/activities"


async def test_groups_show_members_and_joins(client: TestClient, deps: Deps, corp: None) -> None:
    await CustomerGroup.create(chat_id="g1", name="VIP群", owner="alice")
    await CustomerGroup.create(chat_id="g2", name="其他群", owner="bob")
    activity = await make_activity(metric="group_joins", chat_ids=["g1"])
    await set_members(activity.id, ["alice", "bob"], [])
    await Customer.create(external_userid="wm1", name="张三")
    await join("g1", "wm1", 1, invitor="bob")
    await join("g1", "wm2", 2, scene=3)  # the owner's QR: alice
    await join("g1", "wm3", -30, invitor="bob")  # before the window
    await join("g2", "wm1", 3, invitor="bob")  # not an activity group
    for member, name, scene, invitor in (("wm1", "", 1, "bob"), ("wm2", "李四", 3, "")):
        await GroupMember.create(
            chat_id="g1",
            member_id=member,
            member_type=2,
            join_time=T0 + timedelta(minutes=1),
            join_scene=scene,
            invitor=invitor,
            name=name,
        )
    await GroupMember.create(chat_id="g1", member_id="alice", member_type=1, join_time=T0)
    await sign_in(client, deps, "bob")  # a participant
    data = await (await client.get(f"{URL}/{activity.id}/groups")).json()
    assert [(g["name"], g["owner_name"], g["customers"], g["joins"]) for g in data["items"]] == [
        ("VIP群", "Alice", 2, 2)
    ]
    one = await (await client.get(f"{URL}/{activity.id}/groups/g1")).json()
    assert [(m["name"], m["invitor_name"]) for m in one["members"]] == [
        ("张三", "Bob"),
        ("李四", ""),
    ]
    assert [(j["name"], j["credited_name"]) for j in one["joins"]] == [
        ("张三", "Bob"),
        ("李四", "Alice"),
    ]
    resp = await client.get(f"{URL}/{activity.id}/groups/g2")
    assert resp.status == 404
