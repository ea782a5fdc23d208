"""What staff see: newcomers in a participating department, a lowered cutoff, the end card
and the start card's length."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from cards import leaderboard as lb
from handlers.leaderboard import counting, listeners, schedule
from handlers.leaderboard.activities import set_members, sync_participants
from storage.core import ConsoleRole
from storage.directory import Staff
from tests.auth.support import csrf, sign_in
from tests.leaderboard.conftest import T0, Clock, add, make_activity
from tests.support import run_due

URL = "/api/leaderboard/activities"


async def test_a_later_department_member_enters_the_sidebar_ranking(
    client: TestClient, deps: Deps, corp: None
) -> None:
    activity = await make_activity()
    await set_members(activity.id, [], [2])
    await sync_participants(deps.redis, activity)
    await counting.rebuild(deps.redis, activity)  # the live ranking exists
    await Staff.create(userid="erin", name="Erin", departments=[2])
    await add("erin", "c1", 5)
    await sync_participants(deps.redis, activity)  # the periodic department sync
    await sign_in(client, deps, "erin")
    data = await (await client.get(f"{URL}/{activity.id}/ranking")).json()
    assert data["me"] is not None and data["me"]["count"] == 1
    assert data["rows"][0]["userid"] == "erin"


async def test_lowering_the_cutoff_drops_people_with_a_card(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    await ConsoleRole.create(userid="bob", role="admin")
    activity = await make_activity(top_n=3, about_to_rank_distance=1)
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    clock.now = T0 + timedelta(minutes=30)
    for i, (who, n) in enumerate((("alice", 3), ("bob", 2), ("carol", 1))):
        for k in range(n):
            await listeners.on_follow_added(deps, [await add(who, f"{who}{k}", i * 5 + k)])
    assert all(
        "恭喜上榜！" in [c["main_title"]["title"] for c in deps.wecom.to(u)]
        for u in ("alice", "bob", "carol")
    )
    await sign_in(client, deps, "bob")
    resp = await client.post(f"{URL}/{activity.id}", json={"top_n": 1}, headers=csrf(client))
    assert resp.status == 200, await resp.text()
    for name, args in deps.queue.take():  # type: ignore[attr-defined]
        job = next(j for j in deps.dispatcher.jobs if j.__name__ == name)
        await job({"deps": deps}, *args)
    for who in ("bob", "carol"):
        assert deps.wecom.to(who)[-1]["main_title"]["title"] == "你已落榜", who
    assert [c["main_title"]["title"] for c in deps.wecom.to("alice")] == ["恭喜上榜！"]


async def test_the_end_card_shows_every_rank(deps: Deps, corp: None, clock: Clock) -> None:
    activity = await make_activity(top_n=1, end_at=T0 + timedelta(hours=2), remind_daily=False)
    await set_members(activity.id, ["alice", "bob"], [])
    await add("alice", "c1", 1)
    await add("alice", "c2", 2)
    await add("bob", "c3", 3)
    await schedule.plan_runs(deps, activity)
    clock.now = T0 + timedelta(hours=3)
    await run_due(deps)
    bob = [c for c in deps.wecom.to("bob") if "结束" in c["main_title"]["title"]][0]
    assert bob["emphasis_content"]["title"] == "第 2 名"
    assert "未进前 1 名" in bob["emphasis_content"]["desc"]


def test_the_start_card_keeps_a_long_description_short() -> None:
    long = "规则" * 400
    activity = lb.CardActivity(1, "名" * 64, "new_customers", 10, long, "2026-11-01", "2026-11-30")
    card = lb.start_card(activity, "https://x/sidebar?open=leaderboard&activity=1")
    assert len(card["sub_title_text"]) <= lb.MAX_SUB_TITLE
    assert card["sub_title_text"].endswith("完整说明请点击查看")
    assert len(card["main_title"]["desc"]) <= lb.MAX_TITLE_DESC
    assert card["card_action"]["url"].endswith("activity=1")
    short = lb.start_card(lb.CardActivity(1, "A", "new_customers", 3, "多拉新"), "https://x")
    assert short["sub_title_text"].endswith("活动说明：多拉新")
