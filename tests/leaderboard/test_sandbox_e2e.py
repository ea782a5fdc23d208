"""Customers add participants in the sandbox WeCom: real encrypted callbacks → facts →
listeners → live ranking and crossing cards in the sandbox inbox. Every callback is delivered
twice (WeCom retries) and that changes nothing."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.player import sandbox_enabled
from handlers.leaderboard import counting, demo
from storage.leaderboard import Activity
from tests.harness import running_stack
from tests.leaderboard.stack import api_get, running_activity, sales_corp, sync_directory


def _cards(stack, userid: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m.card) for m in stack.corp.inbox(userid) if m.msgtype == "template_card"]


async def test_referrals_rank_and_cards(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack)
        plan = [("wangwei", "客户甲"), ("lina", "客户乙"), ("lina", "客户丙")]
        for userid, name in plan:
            result = await stack.driver.customer_adds_staff(userid, name=name, welcome=False)
            assert result.status == 200
            await stack.driver.deliver_raw(result.xml)  # the retry of the same callback
            await stack.run_jobs()

        ranking = await api_get(stack, "lina", f"/api/leaderboard/activities/{activity.id}/ranking")
        rows = [(r["userid"], r["rank"], r["count"]) for r in ranking["rows"]]
        assert rows[:2] == [("lina", 1, 2), ("wangwei", 2, 1)]
        assert ranking["me"]["rank"] == 1 and ranking["me"]["me"] is True
        assert ranking["rows"][0]["name"] == "李娜"

        # wangwei led first, then lina passed him: one on-list card each, a dropped one for him
        # (lina also gets 即将上榜 when her first add lands in a later second than his: the tie
        # then goes to him)
        lina, wang = _cards(stack, "lina"), _cards(stack, "wangwei")
        assert "恭喜上榜" in lina[-1] and all("即将上榜" in c for c in lina[:-1]) and len(lina) <= 2
        assert ["恭喜上榜" in wang[0], "你已落榜" in wang[1]] == [True, True] and len(wang) == 2
        assert all(f"activity={activity.id}" in c for c in lina + wang)

        mine = await api_get(stack, "lina", f"/api/leaderboard/activities/{activity.id}/customers")
        assert sorted(c["name"] for c in mine["items"]) == ["客户丙", "客户乙"]
        assert mine["items"][0]["profile_url"].startswith("/sidebar?open=profile&external_userid=")

        # replaying every callback once more changes neither the counts nor the cards
        for entry in list(stack.driver.log):
            await stack.driver.deliver_raw(entry.xml)
        await stack.run_jobs()
        fresh = await Activity.get(id=activity.id)
        table = [(r.userid, r.count) for r in await counting.recompute(fresh)]
        assert table[:2] == [("lina", 2), ("wangwei", 1)]
        assert _cards(stack, "lina") == lina and _cards(stack, "wangwei") == wang


def test_play_is_only_for_a_loopback_sandbox() -> None:
    assert sandbox_enabled("http://127.0.0.1:8081")
    assert sandbox_enabled("http://localhost:9000/")
    assert not sandbox_enabled("https://qyapi.weixin.qq.com")
    assert not sandbox_enabled("http://10.0.0.5:8081")


async def test_demo_seed_plays_a_day_through_the_sandbox(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        await demo.seed(stack.deps)
        await demo.seed(stack.deps)  # a second `scrmbot demo` start adds nothing
        await stack.run_jobs()  # the callbacks, then the deferred daily broadcast
        activity = await Activity.get(name=demo.DEMO_NAME)
        rows = await counting.recompute(activity)
        assert sum(r.count for r in rows) == 8 and len(rows) == 4
        assert len(await Activity.filter(name=demo.DEMO_NAME)) == 1
        for row in rows:
            titles = [str(m.card) for m in stack.corp.inbox(row.userid)]
            assert sum("拉新排行榜每日播报" in t for t in titles) == 1, row.userid
