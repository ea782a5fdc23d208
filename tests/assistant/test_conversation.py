"""Staff talk to the app: text commands, unknown text, enter_agent, the menu — each answered
once however often WeCom delivers the message, with cards WeCom accepts (the sandbox checks)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bot.conversation import publish_menu
from bot.embedded_redis import EmbeddedRedis
from bot.events import TextMessage
from bot.replies import MessageReply
from bot.router import Router
from bot.sandbox.models import AppMessage
from cards.radar import too_long
from storage.core import ConversationReply
from storage.radar import Visit
from tests.harness import Stack, running_stack
from tests.leaderboard.stack import running_activity, sales_corp, sync_directory
from tests.radar.support import make_radar

SEND = "/cgi-bin/message/send"


def chat(stack: Stack, userid: str = "lina") -> list[AppMessage]:
    return stack.corp.inbox(userid)


async def test_help_is_a_passive_text_listing_the_commands(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        result = await stack.driver.send_text("lina", "帮助", times=3)
        assert result.info.get("reply") == "text"
        await stack.run_jobs()
        messages = chat(stack)
        assert len(messages) == 1  # three deliveries, one answer
        text = messages[0].payload["text"]["content"]
        for line in ("· 帮助：", "· 排名：", "· 雷达："):
            assert line in text
        assert "也可发：rank" in text
        assert await stack.sandbox_calls(SEND) == []  # passive, not message/send
        assert await ConversationReply.filter(kind="text", via="passive").count() == 1


async def test_unknown_text_gets_a_help_card_once(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        result = await stack.driver.send_text("lina", "今天天气怎么样", times=3)
        assert result.body == ""  # a card is never a passive reply
        await stack.run_jobs()
        await stack.run_jobs()
        messages = chat(stack)
        assert len(messages) == 1
        card = messages[0].card or {}
        assert card["card_type"] == "text_notice"
        assert card["main_title"]["title"] == "没看懂「今天天气怎么样」"
        names = [row["keyname"] for row in card["horizontal_content_list"]]
        assert names[:3] == ["帮助", "排名", "雷达"]
        assert len(await stack.sandbox_calls(SEND)) == 1


async def test_rank_command_shows_my_places(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        result = await stack.driver.send_text("lina", "排名")
        assert result.info.get("reply") == "text"  # no activity: a short passive text
        assert "没有参加" in chat(stack)[-1].payload["text"]["content"]
        await running_activity(stack, name="六月拉新", top_n=2)
        await stack.driver.send_text("lina", "RANK")  # an alias, any case
        await stack.run_jobs()
        card = chat(stack)[-1].card or {}
        assert card["card_type"] == "text_notice"
        assert card["main_title"]["title"] == "我的排名"
        assert card["emphasis_content"]["desc"] == "六月拉新"
        row = card["horizontal_content_list"][0]
        assert row["keyname"] == "六月拉新" and row["value"].startswith("第")
        assert card["card_action"]["url"].endswith("/sidebar?open=leaderboard")


async def test_radar_command_counts_todays_visits(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        deps = stack.deps
        radar = await make_radar(deps, title="产品手册")
        now = deps.now()
        for i, (visitor, ext) in enumerate([("v1", "wm_a"), ("v1", "wm_a"), ("v2", "")]):
            await Visit.create(
                id=f"visit{i}", share_id=1, radar_id=radar.id, visitor_id=visitor,
                external_userid=ext, root_userid="lina", started_at=now,
            )  # fmt: skip
        await Visit.create(
            id="old", share_id=1, radar_id=radar.id, visitor_id="v3",
            root_userid="lina", started_at=now - timedelta(days=2),
        )  # fmt: skip
        await stack.driver.send_text("lina", "雷达")
        await stack.run_jobs()
        card = chat(stack)[-1].card or {}
        assert card["emphasis_content"]["title"] == "3"
        rows = {r["keyname"]: r["value"] for r in card["horizontal_content_list"]}
        assert rows == {"访客": "2人（客户 1 人）"}
        assert card["sub_title_text"] == "《产品手册》3次"
        assert too_long(card) == []
        await stack.driver.send_text("wangwei", "雷达")
        assert "还没有人打开" in chat(stack, "wangwei")[-1].payload["text"]["content"]


async def test_enter_agent_sends_the_menu_card_once_a_day(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = sales_corp()
    now = [1_780_000_000.0]
    corp.clock = lambda: now[0]
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        for _ in range(3):
            await stack.driver.enter_agent("lina")
            now[0] += 60
        await stack.run_jobs()
        assert len(chat(stack)) == 1
        card = chat(stack)[0].card or {}
        assert card["main_title"]["title"] == "李娜，你好"
        assert [j["title"] for j in card["jump_list"]] == ["排行榜", "雷达数据", "全部功能"]
        now[0] += 86_400
        await stack.driver.enter_agent("lina")
        await stack.run_jobs()
        assert len(chat(stack)) == 2


async def test_menu_is_published_and_clicks_reach_the_feature(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        menu = await publish_menu(stack.deps)
        assert stack.corp.menu == menu
        top = [b["name"] for b in menu["button"]]
        assert top == ["我的数据", "工作台", "帮助"]
        subs = {b["name"]: [s["name"] for s in b.get("sub_button", [])] for b in menu["button"]}
        assert subs["我的数据"] == ["我的排名", "今日雷达"]
        result = await stack.driver.click_menu("lina", "assistant.help")
        assert result.info.get("reply") == "text"
        assert "· 排名：" in chat(stack)[-1].payload["text"]["content"]
        await stack.driver.click_menu("lina", "lb.rank")
        await stack.run_jobs()
        assert "没有参加" in chat(stack)[-1].payload["text"]["content"]
        link = menu["button"][1]["sub_button"][0]["url"]
        view = await stack.driver.open_menu_link("lina", link)
        await stack.run_jobs()
        assert view.status == 200 and view.body == ""
        assert len(chat(stack)) == 2  # opening a view item answers nothing


async def test_slow_text_answer_goes_through_message_send_once(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    router = Router("probe")
    calls: list[str] = []

    @router.text("慢", description="慢慢回答")
    async def slow(deps: object, event: TextMessage, args: str) -> MessageReply:
        calls.append(event.msg_id)
        await asyncio.sleep(0.3)
        return MessageReply.text("慢慢来")

    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=sales_corp(), routers=[router],
        inbox={"card_reply_budget_seconds": 0.1},
    ) as stack:  # fmt: skip
        result = await stack.driver.send_text("lina", "慢", times=2)
        assert result.body == ""  # over the budget: no passive reply
        await stack.run_jobs()
        await stack.run_jobs()
        assert [m.payload["text"]["content"] for m in chat(stack)] == ["慢慢来"]
        assert len(await stack.sandbox_calls(SEND)) == 1
        row = await ConversationReply.get()
        assert (row.key, row.via) == (f"msg:{result.info['msg_id']}", "api")
