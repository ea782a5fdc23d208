"""A dismissed group: every member still in it gets one quit (scene 1), even when WeCom
delivers the dismiss callback twice."""

from __future__ import annotations

from bot.deps import Deps
from storage.facts import CustomerGroup, GroupMember, GroupMembershipEvent, TimelineEntry
from tests.facts.fakes import T0, FakeWeCom, chat_event, deliver

CHAT = "wrDismissChat"


async def test_dismiss_records_one_quit_per_member(deps: Deps, wecom: FakeWeCom) -> None:
    wecom.groups[CHAT] = {
        "chat_id": CHAT,
        "name": "解散群",
        "owner": "bob",
        "create_time": T0 - 100,
        "member_version": "v1",
        "member_list": [
            {"userid": "bob", "type": 1, "join_time": T0 - 100, "join_scene": 1},
            {"userid": "wmA", "type": 2, "join_time": T0 + 5, "join_scene": 3},
        ],
    }
    await deliver(deps, chat_event(CHAT, "add_member", ["wmA"], T0 + 5, JoinScene="3"))
    assert await GroupMember.filter(chat_id=CHAT).count() == 2
    dismiss = chat_event(CHAT, "", [], T0 + 60, ChangeType="dismiss")
    for _ in range(2):
        await deliver(deps, dismiss)
    quits = await GroupMembershipEvent.filter(chat_id=CHAT, kind="quit").order_by("member_id")
    assert [(q.member_id, q.scene) for q in quits] == [("bob", 1), ("wmA", 1)]
    assert await GroupMember.filter(chat_id=CHAT).count() == 0
    assert (await CustomerGroup.get(chat_id=CHAT)).status == "dismissed"
    assert await TimelineEntry.filter(external_userid="wmA", kind="group_quit").count() == 1
