"""A button whose update is for everyone who received the card goes through
message/update_template_card with the click's ResponseCode, once, for all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.callback_data import CallbackData
from bot.embedded_redis import EmbeddedRedis
from bot.events import TemplateCardEvent
from bot.replies import CardReply
from bot.router import Router
from bot.sandbox.corp import Corp
from tests.harness import running_stack


class Done(CallbackData, prefix="probe.done"):
    item: int


DONE_CARD = {
    "card_type": "text_notice",
    "main_title": {"title": "已处理", "desc": "已由 张三 处理"},
    "card_action": {"type": 1, "url": "https://example.com"},
}


def router() -> Router:
    r = Router("probe")

    @r.button(Done)
    async def done(deps: Any, event: TemplateCardEvent, data: Done) -> CardReply:
        return CardReply(card=DONE_CARD, userids=("zhangsan", "lisi"))

    return r


async def test_update_reaches_every_recipient(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = Corp()
    corp.add_staff("zhangsan", "张三")
    corp.add_staff("lisi", "李四")
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp, routers=[router()]
    ) as stack:
        key = Done(item=1).pack(stack.deps.signer)
        card = {
            "card_type": "button_interaction",
            "main_title": {"title": "待处理"},
            "task_id": "everyone-1",
            "button_list": [{"text": "处理", "style": 1, "key": key}],
        }
        await stack.deps.wecom.send_template_card(["zhangsan", "lisi"], card)
        message = stack.corp.inbox("zhangsan")[-1]
        result = await stack.driver.click_card("zhangsan", message.id, key)
        assert result.body == ""  # a passive reply would change only the clicker's copy
        await stack.run_jobs()
        assert [m.card for m in stack.corp.messages] == [DONE_CARD, DONE_CARD]
        assert len(await stack.sandbox_calls("/cgi-bin/message/update_template_card")) == 1
