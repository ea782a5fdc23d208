"""Card clicks: the passive reply inside WeCom's 5 s, or later through update_template_card."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.callback_data import CallbackData
from bot.embedded_redis import EmbeddedRedis
from bot.events import TemplateCardEvent
from bot.replies import CardReply
from bot.router import Router
from bot.sandbox.corp import Corp
from storage.core import InboxEvent, InboxStatus
from tests.harness import Stack, running_stack


class Confirm(CallbackData, prefix="probe.ok"):
    item: int


def card_router(delay: float, clicks: list[int]) -> Router:
    router = Router("probe")

    @router.button(Confirm)
    async def on_confirm(deps: Any, event: TemplateCardEvent, data: Confirm) -> CardReply:
        clicks.append(data.item)
        await asyncio.sleep(delay)
        return CardReply(replace_name=f"已确认 {data.item}")

    return router


def corp_with_staff() -> Corp:
    corp = Corp()
    corp.add_staff("zhangsan", "张三")
    return corp


async def send_card(stack: Stack, key: str) -> str:
    card = {
        "card_type": "button_interaction",
        "main_title": {"title": "请确认"},
        "task_id": "t1",
        "button_list": [{"text": "确认", "style": 1, "key": key}],
    }
    await stack.deps.wecom.send_template_card(["zhangsan"], card)
    return stack.corp.inbox("zhangsan")[-1].id


async def test_fast_click_updates_card_passively(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clicks: list[int] = []
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        corp=corp_with_staff(),
        routers=[card_router(0, clicks)],
    ) as stack:
        key = Confirm(item=7).pack(stack.deps.signer)
        message_id = await send_card(stack, key)
        result = await stack.driver.click_card("zhangsan", message_id, key)
        assert result.status == 200 and result.info.get("reply") == "update_button"
        assert stack.corp.inbox("zhangsan")[-1].replace_name == "已确认 7"
        await stack.run_jobs()
        assert clicks == [7]  # the worker does not run the handler again
        assert await stack.sandbox_calls("/cgi-bin/message/update_template_card") == []
        assert (await InboxEvent.get()).status == InboxStatus.DONE


async def test_slow_click_updates_card_through_api(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clicks: list[int] = []
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        corp=corp_with_staff(),
        routers=[card_router(0.3, clicks)],
        inbox={"card_reply_budget_seconds": 0.1},
    ) as stack:
        key = Confirm(item=8).pack(stack.deps.signer)
        message_id = await send_card(stack, key)
        result = await stack.driver.click_card("zhangsan", message_id, key)
        assert result.status == 200 and result.body == ""
        assert stack.corp.inbox("zhangsan")[-1].replace_name == ""
        await stack.run_jobs()
        assert stack.corp.inbox("zhangsan")[-1].replace_name == "已确认 8"
        assert len(await stack.sandbox_calls("/cgi-bin/message/update_template_card")) == 1


async def test_forged_key_does_nothing(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clicks: list[int] = []
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        corp=corp_with_staff(),
        routers=[card_router(0, clicks)],
    ) as stack:
        forged = "probe.ok:9:AAAAAAAAAAAA"
        message_id = await send_card(stack, forged)
        result = await stack.driver.click_card("zhangsan", message_id, forged)
        await stack.run_jobs()
        assert result.status == 200 and clicks == []
        assert stack.corp.inbox("zhangsan")[-1].replace_name == ""
