"""The console API: create as a draft, publish, edit by state, copy as a draft, the poster
background, the attempts with their reasons, marking a prize given; the won card and its
button; the start card and the ways' expiry planned as scheduled runs."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from PIL import Image

from bot.deps import Deps
from bot.events import TemplateCardEvent
from handlers.fission.credit import credit, state_of
from handlers.fission.notify import PrizeGiven, on_helped, prize_given
from storage.contact_ways import ContactWay, WayKind
from storage.fission import AwardState, FissionActivity, FissionAward, FissionTier
from tests.auth.support import csrf, sign_in
from tests.fission.conftest import T0, make_activity, make_participant
from tests.support import Clock, run_due

URL = "/api/fission/activities"


def body(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "好友助力",
        "start_at": T0.isoformat(),
        "end_at": (T0 + timedelta(days=3)).isoformat(),
        "rules": "邀请好友扫码",
        "tiers": [{"helpers": 2, "prize": "帆布袋", "stock": 10, "redeem_text": "到店领取"}],
        "staff": ["alice"],
        "revoke_hours": 24,
        "welcome_text": "欢迎！",
        "layout": {"qr": {"x": 400, "y": 1000, "w": 300}},
    }
    return values | kw


async def post(client: TestClient, deps: Deps, who: str, url: str, data: Any) -> tuple[int, Any]:
    await sign_in(client, deps, who)
    resp = await client.post(url, json=data, headers=csrf(client))
    return resp.status, await resp.json()


async def test_edit_rules_by_state_publish_and_copy(
    client: TestClient, deps: Deps, clock: Clock
) -> None:
    await make_activity()  # creates staff alice and bob
    clock.now = T0 - timedelta(days=1)
    status, created = await post(client, deps, "admin", URL, body(staff=["nobody"]))
    assert status == 400 and created["field"] == "staff"
    status, created = await post(client, deps, "admin", URL, body())
    assert status == 201 and created["phase"] == "draft", created
    assert created["layout"]["qr"] == {"x": 400, "y": 1000, "w": 300}
    one = f"{URL}/{created['id']}"
    status, err = await post(
        client, deps, "admin", one, body(end_at=(T0 - timedelta(days=1)).isoformat())
    )
    assert status == 400 and err["field"] == "end_at"
    status, _ = await post(client, deps, "admin", one + "/publish", {})
    assert status == 200
    clock.now = T0 + timedelta(hours=1)  # running
    later = body(start_at=(T0 + timedelta(hours=2)).isoformat())
    status, err = await post(client, deps, "admin", one, later)
    assert status == 409 and err["field"] == "start_at" and "开始时间" in err["error"]
    more = body(tiers=[{"helpers": 3, "prize": "帆布袋", "stock": 10}])
    status, err = await post(client, deps, "admin", one, more)
    assert status == 409 and err["field"] == "tiers.helpers"
    # stock may change, never below what was already awarded
    await FissionTier.filter(activity_id=created["id"]).update(stock_left=7)
    status, err = await post(
        client, deps, "admin", one, body(tiers=[{"helpers": 2, "prize": "帆布袋", "stock": 2}])
    )
    assert status == 400 and err["field"] == "tiers.0.stock"
    status, ok = await post(
        client,
        deps,
        "admin",
        one,
        body(name="好友助力2", tiers=[{"helpers": 2, "prize": "帆布袋", "stock": 20}]),
    )
    assert status == 200 and ok["tiers"][0]["stock_left"] == 17 and ok["name"] == "好友助力2"
    jobs = [j for j in deps.queue.jobs if j[0] == "fission_update_ways"]  # type: ignore[attr-defined]
    assert jobs == []  # the staff did not change
    status, ok = await post(
        client,
        deps,
        "admin",
        one,
        body(
            name="好友助力2", staff=["bob"], tiers=[{"helpers": 2, "prize": "帆布袋", "stock": 20}]
        ),
    )
    assert status == 200
    jobs = [j for j in deps.queue.jobs if j[0] == "fission_update_ways"]  # type: ignore[attr-defined]
    assert [j[1] for j in jobs] == [(created["id"],)]
    status, copy = await post(client, deps, "admin", one + "/copy", {})
    assert status == 201 and copy["phase"] == "draft" and copy["tiers"][0]["stock_left"] == 20
    assert copy["name"] == "好友助力2（副本）"
    clock.now = T0 + timedelta(days=4)  # ended
    status, err = await post(client, deps, "admin", one, body())
    assert status == 409


async def test_background_upload_checked(client: TestClient, deps: Deps) -> None:
    activity = await make_activity()
    await sign_in(client, deps, "admin")
    url = f"{URL}/{activity.id}/background"
    resp = await client.post(url, data=b"not an image", headers=csrf(client))
    assert resp.status == 400 and (await resp.json())["field"] == "poster_bg"
    buf = io.BytesIO()
    Image.new("RGB", (600, 900), "#123456").save(buf, format="PNG")
    resp = await client.post(url, data=buf.getvalue(), headers=csrf(client))
    assert resp.status == 200 and await resp.json() == {"width": 600, "height": 900}
    resp = await client.get(f"{URL}/{activity.id}")
    assert (await resp.json())["background"] == {"width": 600, "height": 900, "custom": True}


async def test_attempts_with_reasons_and_prize_given(client: TestClient, deps: Deps) -> None:
    activity = await make_activity(tiers=((1, 1),), options={"customer_script": "邀请好友来助力"})
    p = await make_participant(activity, "wm_p")
    await credit(
        deps, state=state_of(p.code), helper="wm_h", userid="alice", at=T0 + timedelta(minutes=3)
    )
    await credit(
        deps, state=state_of(p.code), helper="wm_p", userid="alice", at=T0 + timedelta(minutes=4)
    )
    await sign_in(client, deps, "admin")
    resp = await client.get(f"{URL}/{activity.id}/attempts")
    items = (await resp.json())["items"]
    assert [(i["outcome"], i["label"]) for i in items] == [
        ("self", "自己助力"),
        ("counted", "助力成功"),
    ]
    award = await FissionAward.get(participant_id=p.id)
    status, err = await post(client, deps, "bob", f"/api/fission/awards/{award.id}/given", {})
    assert status == 403
    status, ok = await post(client, deps, "alice", f"/api/fission/awards/{award.id}/given", {})
    assert status == 200 and ok["state"] == "given"
    await sign_in(client, deps, "alice")
    mine = await (await client.get("/api/fission/mine")).json()
    assert mine["items"][0]["awards"][0]["state"] == "given"
    assert mine["items"][0]["link"].startswith(deps.url(f"/f/{activity.id}?t="))
    assert mine["items"][0]["script"] == "邀请好友来助力"


async def test_won_card_sent_once_and_its_button(deps: Deps) -> None:
    activity = await make_activity(tiers=((1, 3),))
    p = await make_participant(activity, "wm_p")
    await credit(
        deps, state=state_of(p.code), helper="wm_h", userid="alice", at=T0 + timedelta(minutes=3)
    )
    from bot.domain_events import FissionHelped

    event = FissionHelped(
        activity_id=activity.id,
        participant_external_userid="wm_p",
        helper_external_userid="wm_h",
        userid="alice",
        helps=1,
        at=T0,
    )
    sent: list[tuple[list[str], dict[str, Any]]] = []

    async def send_message(touser: list[str], message: dict[str, Any]) -> dict[str, Any]:
        sent.append((touser, message))
        return {"errcode": 0}

    deps.wecom.send_message = send_message  # type: ignore[method-assign]
    await on_helped(deps, event)
    await on_helped(deps, event)  # redelivered: no second card
    assert len(sent) == 1 and sent[0][0] == ["alice"]
    card = sent[0][1]["template_card"]
    assert card["card_type"] == "button_interaction" and "奖品1" in str(card)
    award = await FissionAward.get(participant_id=p.id)
    key = card["button_list"][1]["key"]
    data = PrizeGiven.unpack(key, deps.signer)
    assert data is not None and data.award_id == award.id

    def press(who: str) -> TemplateCardEvent:
        return TemplateCardEvent(
            to_user="corp",
            from_user=who,
            create_time=0,
            msg_type="event",
            event="template_card_event",
            agent_id="1",
            raw={},
            event_key=key,
            task_id="t",
            card_type="button_interaction",
        )

    assert await prize_given(deps, press("bob"), data) is None  # not bob's customer
    reply = await prize_given(deps, press("alice"), data)
    assert reply is not None and "已由 Alice 发放" in str(reply.card)
    assert (await FissionAward.get(id=award.id)).state is AwardState.GIVEN


async def test_start_card_and_ways_expired_after_the_end(deps: Deps, clock: Clock) -> None:
    from handlers.fission import participants, schedule

    activity = await make_activity(way_keep_days=2, options={"staff_script": "快邀请客户参加"})
    p = await make_participant(activity, "wm_p")
    way = await participants.qr_way(deps, activity, p)
    assert way.state == state_of(p.code)
    assert way.expires_at == activity.end_at + timedelta(days=2)
    again = await participants.qr_way(deps, activity, p)
    assert again.config_id == way.config_id  # one way per participant
    # the end moves: the way's expiry follows
    await FissionActivity.filter(id=activity.id).update(end_at=T0 + timedelta(days=10))
    activity = await FissionActivity.get(id=activity.id)
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(days=10, minutes=1)
    sent: list[Any] = []

    async def send_message(touser: list[str], message: dict[str, Any]) -> dict[str, Any]:
        sent.append((touser, message))
        return {"errcode": 0}

    deps.wecom.send_message = send_message  # type: ignore[method-assign]
    await run_due(deps)
    assert sorted(u for users, _ in sent for u in users) == ["alice", "bob"]
    assert "快邀请客户参加" in str(sent[0][1])
    task_ids = {m["template_card"]["task_id"] for _, m in sent}
    assert len(task_ids) == 2  # WeCom refuses a task_id used before
    row = await ContactWay.get(kind=WayKind.CONTACT, config_id=way.config_id)
    assert row.expires_at == T0 + timedelta(days=12)
    from bot import contact_ways

    clock.now = T0 + timedelta(days=12, minutes=1)
    assert await contact_ways.delete_expired(deps) == 1
    assert way.config_id in deps.wecom.deleted  # type: ignore[attr-defined]


async def test_quota_guard_refuses_new_posters(deps: Deps) -> None:
    from bot.contact_ways import ContactWayError
    from handlers.fission import participants

    deps.settings.contact_ways.max_live = 1  # type: ignore[misc]
    activity = await make_activity()
    one = await make_participant(activity, "wm_1")
    two = await make_participant(activity, "wm_2")
    await participants.qr_way(deps, activity, one)
    try:
        await participants.qr_way(deps, activity, two)
    except ContactWayError as exc:
        assert exc.status == 409
    else:
        raise AssertionError("the quota guard let a way through")


async def test_created_card_on_publish_and_recommended_customers_at_start(
    client: TestClient, deps: Deps, clock: Clock
) -> None:
    from storage.directory import Department, Staff
    from storage.facts import Customer, FollowTag

    await make_activity()
    await Department.create(id=7, name="门店", parent_id=0)
    await Staff.create(userid="carol", name="Carol", departments=[7])
    await Customer.create(external_userid="wm_vip", name="老顾客甲")
    await FollowTag.create(userid="alice", external_userid="wm_vip", tag_id="tag_vip", added_at=T0)
    sent: list[tuple[list[str], dict[str, Any]]] = []

    async def send_message(touser: list[str], message: dict[str, Any]) -> dict[str, Any]:
        sent.append((touser, message))
        return {"errcode": 0}

    deps.wecom.send_message = send_message  # type: ignore[method-assign]
    clock.now = T0 - timedelta(days=1)
    status, made = await post(
        client, deps, "admin", URL, body(departments=[7], recommend_tags=["tag_vip"])
    )
    assert status == 201, made
    status, _ = await post(client, deps, "admin", f"{URL}/{made['id']}/publish", {})
    assert status == 200
    await run_due(deps)
    created = {u for users, m in sent for u in users if "新活动" in str(m)}
    assert created == {"alice", "carol"}
    sent.clear()
    clock.now = T0 + timedelta(minutes=1)
    await run_due(deps)
    start = {users[0]: str(m) for users, m in sent if "活动开始" in str(m)}
    assert set(start) == {"alice", "carol"}
    assert "推荐邀请：老顾客甲" in start["alice"] and "推荐邀请" not in start["carol"]


async def test_daily_red_list(deps: Deps, clock: Clock) -> None:
    from handlers.fission import schedule

    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    for i, userid in enumerate(("alice", "bob", "alice")):
        await credit(
            deps,
            state=state_of(p.code),
            helper=f"wm_h{i}",
            userid=userid,
            at=T0 + timedelta(minutes=i),
        )
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(hours=9, minutes=1)  # 18:01 in Shanghai on the first day
    wecom = deps.wecom
    await run_due(deps)
    cards = [m["template_card"] for _, m in wecom.sent if "红榜" in str(m)]  # type: ignore[attr-defined]
    assert len(cards) == 2 and {c["task_id"] for c in cards}.__len__() == 2
    rows = cards[0]["horizontal_content_list"]
    assert rows[0] == {"keyname": "统计时段", "value": "05-31 18:00–06-01 18:00"}
    assert [r["value"] for r in rows[1:]] == ["Alice 2人", "Bob 1人"]
    await run_due(deps)  # nothing twice
    assert len([m for _, m in wecom.sent if "红榜" in str(m)]) == 2  # type: ignore[attr-defined]


async def test_published_late_plans_no_red_list_for_days_gone(deps: Deps, clock: Clock) -> None:
    """An activity published after its start gets red lists from now on, none for the days
    already gone (they would go out late, or be skipped with a warning)."""
    from bot.schedule import runs_of
    from handlers.fission import schedule

    activity = await make_activity()
    clock.now = activity.start_at + timedelta(days=2, hours=1)
    await schedule.plan_runs(deps, activity)
    dues = [r.due_at for r in await runs_of("fission.daily", f"{activity.id}:")]
    assert dues and min(dues) >= clock.now


async def test_two_reminder_times_two_cards_a_day_each_once(deps: Deps, clock: Clock) -> None:
    """12:00 and 18:00: every staff member gets two red lists a day, each once, the second
    covering only the new customers since the first."""
    from handlers.fission import schedule

    activity = await make_activity(options={"remind_times": ["12:00", "18:00"]})
    p = await make_participant(activity, "wm_p")
    for i, (userid, hours) in enumerate((("alice", 0), ("bob", 0), ("alice", 4))):
        await credit(  # 09:00, 09:01 and 13:02 in Shanghai
            deps,
            state=state_of(p.code),
            helper=f"wm_h{i}",
            userid=userid,
            at=T0 + timedelta(hours=hours, minutes=i),
        )
    await schedule.plan_runs(deps, activity)
    wecom = deps.wecom

    def cards() -> list[dict[str, Any]]:
        return [m["template_card"] for _, m in wecom.sent if "红榜" in str(m)]  # type: ignore[attr-defined]

    clock.now = T0 + timedelta(hours=9, minutes=1)  # 18:01 the first day: 12:00 and 18:00 due
    await run_due(deps)
    await run_due(deps)  # nothing twice
    got = cards()
    assert len(got) == 4 and len({c["task_id"] for c in got}) == 4
    assert sorted(u for users, m in wecom.sent for u in users if "红榜" in str(m)) == [  # type: ignore[attr-defined]
        "alice",
        "alice",
        "bob",
        "bob",
    ]
    by_window = {c["horizontal_content_list"][0]["value"]: c for c in got}
    noon = by_window["05-31 18:00–06-01 12:00"]["horizontal_content_list"]
    assert [r["value"] for r in noon[1:]] == ["Alice 1人", "Bob 1人"]
    evening = by_window["06-01 12:00–18:00"]["horizontal_content_list"]
    assert [r["value"] for r in evening[1:]] == ["Alice 1人"]
    assert noon[0]["keyname"] == "统计时段"


async def test_editing_reminder_times_replans_future_runs_only(
    client: TestClient, deps: Deps, clock: Clock
) -> None:
    from bot.schedule import runs_of
    from storage.schedule import RunState

    await make_activity()  # staff alice and bob
    clock.now = T0 - timedelta(days=1)
    status, created = await post(client, deps, "admin", URL, body())
    assert status == 201 and created["remind_times"] == ["18:00"]
    one = f"{URL}/{created['id']}"
    for bad in ([], ["18:00", "18:00"], ["25:00"], ["9:00"], ["08:00", "12:00", "18:00", "20:00"]):
        status, err = await post(client, deps, "admin", one, body(remind_times=bad))
        assert status == 400 and err["field"] == "remind_times", (bad, err)
        assert "提醒时间" in err["error"], err
    status, _ = await post(client, deps, "admin", one, body(remind_times=["18:00", "12:00"]))
    assert status == 200
    status, _ = await post(client, deps, "admin", one + "/publish", {})
    assert status == 200
    prefix = f"{created['id']}:"
    dues = [r.due_at for r in await runs_of("fission.daily", prefix)]
    assert len(dues) == 6  # 3 days × 2 times, keys unique per time
    clock.now = T0 + timedelta(hours=3, minutes=1)  # 12:01 the first day
    await run_due(deps)
    status, saved = await post(client, deps, "admin", one, body(remind_times=["20:00", "10:30"]))
    assert status == 200 and saved["remind_times"] == ["10:30", "20:00"]
    runs = await runs_of("fission.daily", prefix)
    done = [r for r in runs if r.state != RunState.PENDING and r.state != RunState.CANCELLED]
    assert [r.due_at for r in done] == [T0 + timedelta(hours=3)]  # 12:00 kept as it ran
    pending = sorted(r.due_at for r in runs if r.state == RunState.PENDING)
    # 10:30 on the first day is already past: not planned; 20:00 today, then both each day
    assert pending[0] == T0 + timedelta(hours=11)
    assert min(pending) >= clock.now and len(pending) == 5
    assert T0 + timedelta(hours=9) not in pending  # 18:00 no longer planned
