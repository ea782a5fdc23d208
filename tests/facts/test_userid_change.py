"""A member's userid changes in WeCom: every row naming them moves to the new id, in every
feature's tables, instead of an IntegrityError sending the callback to the dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.deps import Deps
from bot.events import event_from_dict
from bot.sessions import userid_of
from storage.core import ConsoleRole
from storage.directory import Staff
from storage.facts import Customer, FollowRelation, FollowTag
from storage.leaderboard import Activity, Participant
from storage.radar import Radar, Share
from tests.facts.fakes import FakeWeCom, deliver
from tests.support import session_value

AT = datetime(2026, 1, 5, tzinfo=UTC)


def _renamed(old: str, new: str) -> object:
    return event_from_dict(
        {
            "ToUserName": "corp",
            "FromUserName": "sys",
            "CreateTime": "1700000000",
            "MsgType": "event",
            "Event": "change_contact",
            "ChangeType": "update_user",
            "UserID": old,
            "NewUserID": new,
        }
    )


async def test_a_userid_change_moves_every_reference(deps: Deps, wecom: FakeWeCom) -> None:
    wecom.users = [{"userid": "zhang.wei", "name": "张伟", "department": [1], "status": 1}]
    await Staff.create(userid="zhangwei", name="张伟", departments=[1])
    await Customer.create(external_userid="wm1", name="客户")
    await FollowRelation.create(userid="zhangwei", external_userid="wm1", added_at=AT)
    # a sync that ran between the change and its callback already made rows under the new id
    await Staff.create(userid="zhang.wei", name="张伟", departments=[1])
    await FollowRelation.create(userid="zhang.wei", external_userid="wm1", added_at=AT, state="x")
    await FollowTag.create(userid="zhangwei", external_userid="wm1", tag_id="t1", added_at=AT)
    await ConsoleRole.create(userid="zhangwei", role="admin")
    activity = await Activity.create(name="a", start_at=AT, end_at=AT, created_by="zhangwei")
    await Participant.create(activity_id=activity.id, userid="zhangwei")
    radar = await Radar.create(name="x", type="link", title="x", url="https://a.b/")
    await Share.create(token="tok", radar=radar, userid="zhangwei", created_at=AT)
    cookie = await session_value(deps, "zhangwei")

    await deliver(deps, _renamed("zhangwei", "zhang.wei"))  # asserts no handler failed

    assert await Staff.filter(userid="zhangwei").count() == 0
    assert (await Staff.get(userid="zhang.wei")).name == "张伟"
    relation = await FollowRelation.get(external_userid="wm1")
    assert (relation.userid, relation.state) == ("zhang.wei", "")  # the original row kept
    assert await FollowTag.filter(userid="zhang.wei").count() == 1
    assert (await ConsoleRole.get(userid="zhang.wei")).role == "admin"
    assert (await Activity.get(id=activity.id)).created_by == "zhang.wei"
    assert await Participant.filter(userid="zhang.wei").count() == 1
    assert (await Share.get(token="tok")).userid == "zhang.wei"
    session_id = deps.signer.loads("session", cookie)["s"]  # type: ignore[index]
    assert await userid_of(session_id) == "zhang.wei"  # still signed in, as the new id
