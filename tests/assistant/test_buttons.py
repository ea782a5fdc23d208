"""Card buttons that work end to end: the radar alert's 已跟进 and the leaderboard's 即将上榜
card's 查看我的客户 — the passive update, a replayed key and a forged key."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.models import AppMessage
from cards.radar import too_long
from handlers.radar.followup import send_alert
from storage.facts import Customer
from storage.radar import AlertLog, Visit
from tests.harness import Stack, running_stack
from tests.leaderboard.stack import running_activity, sales_corp, sync_directory
from tests.radar.support import make_radar

UPDATE = "/cgi-bin/message/update_template_card"


def button(message: AppMessage, text: str) -> str:
    card = message.card or {}
    return next(b["key"] for b in card["button_list"] if b["text"] == text)


async def alert_for(stack: Stack, visit_id: str) -> AppMessage:
    radar = await make_radar(stack.deps, title="产品手册")
    await Customer.create(external_userid="wm_ann", name="王芳")
    visit = await Visit.create(
        id=visit_id, share_id=1, radar_id=radar.id, visitor_id="v1", external_userid="wm_ann",
        root_userid="lina", started_at=stack.deps.now(),
    )  # fmt: skip
    assert await send_alert(stack.deps, visit, radar)
    return stack.corp.inbox("lina")[-1]


async def test_followed_button_updates_the_alert_once(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        message = await alert_for(stack, "visit1")
        card = message.card or {}
        assert card["card_type"] == "button_interaction"
        assert card["main_title"]["title"] == "客户 王芳 正在查看《产品手册》"
        key = button(message, "已跟进")
        result = await stack.driver.click_card("lina", message.id, key)
        assert result.info.get("reply") == "update_template_card", result.info
        updated = message.card or {}
        alert = await AlertLog.get()
        assert alert.followed_by == "lina" and alert.followed_at is not None
        at = alert.followed_at.astimezone(stack.deps.settings.tz).strftime("%H:%M")
        assert updated["card_type"] == "text_notice"
        assert updated["main_title"]["desc"] == f"已由 李娜 跟进 · {at}"
        assert "button_list" not in updated and too_long(updated) == []
        await stack.run_jobs()
        # the same key sent again (a replay with a fresh ResponseCode) does nothing
        replay = await stack.driver.click_card("lina", message.id, key)
        await stack.run_jobs()
        assert replay.status == 200 and replay.body == ""
        assert message.card == updated
        assert await stack.sandbox_calls(UPDATE) == []
        assert (await AlertLog.get()).followed_at == alert.followed_at


async def test_forged_followed_key_does_nothing(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        message = await alert_for(stack, "visit2")
        alert = await AlertLog.get()
        forged = f"radar.done:{alert.id}:AAAAAAAAAAAA"
        result = await stack.driver.click_card("lina", message.id, forged)
        await stack.run_jobs()
        assert result.body == ""
        assert (await AlertLog.get()).followed_by == ""
        assert (message.card or {})["card_type"] == "button_interaction"
        assert await stack.sandbox_calls(UPDATE) == []


async def test_about_to_rank_card_shows_my_customers(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        await running_activity(stack, top_n=1)
        plan = [("wangwei", "客户甲"), ("wangwei", "客户丁"), ("lina", "客户乙")]
        for userid, name in plan:
            await stack.driver.customer_adds_staff(userid, name=name, welcome=False)
            await stack.run_jobs()
        near = [m for m in stack.corp.inbox("lina") if (m.card or {}).get("task_id")]
        assert len(near) == 1, [m.card for m in stack.corp.inbox("lina")]
        message = near[0]
        card = message.card or {}
        assert card["card_type"] == "button_interaction"
        assert card["main_title"]["title"] == "即将上榜，加油！"
        result = await stack.driver.click_card("lina", message.id, button(message, "查看我的客户"))
        assert result.info.get("reply") == "update_template_card", result.info
        updated = message.card or {}
        rows = {r["keyname"]: r["value"] for r in updated["horizontal_content_list"]}
        assert rows["本活动我的客户"] == "1位" and "客户乙" in rows
        assert updated["card_type"] == "text_notice" and "button_list" not in updated
        assert updated["jump_list"][0]["url"] == card["button_list"][1]["url"]
