"""A staff member clicks a card button in the sandbox's WeCom inbox page; the card updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.embedded_redis import EmbeddedRedis
from tests.browser import chromium, needs_chromium
from tests.harness import running_stack
from tests.platform.test_card_click import Confirm, card_router, corp_with_staff, send_card

pytestmark = needs_chromium


@pytest.mark.parametrize("delay", [0, 0.3])
async def test_card_click_updates_card_in_inbox_page(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, delay: float
) -> None:
    clicks: list[int] = []
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        corp=corp_with_staff(),
        routers=[card_router(delay, clicks)],
        inbox={"card_reply_budget_seconds": 0.1},
    ) as stack:
        await send_card(stack, Confirm(item=5).pack(stack.deps.signer))
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(stack.sandbox_url + "/sandbox?user=zhangsan")
            async with page.expect_response("**/sandbox/api/play/click_card"):
                await page.get_by_role("button", name="确认").click()
            if delay:  # past the passive-reply budget: the worker updates it via the API
                await stack.run_jobs()
            await page.get_by_text("已确认 5").wait_for(timeout=5000)
            await page.screenshot(path=str(tmp_path / "sandbox-inbox.png"))
        assert clicks[-1] == 5
        assert stack.corp.inbox("zhangsan")[-1].replace_name == "已确认 5"
