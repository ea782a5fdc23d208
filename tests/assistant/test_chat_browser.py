"""In the sandbox's WeCom page a staff member types to the app, uses its menu, and presses a
card button: the answers and the updated card show as WeCom's app chat shows them."""

from __future__ import annotations

from pathlib import Path

from bot.conversation import publish_menu
from bot.embedded_redis import EmbeddedRedis
from tests.assistant.test_buttons import alert_for
from tests.browser import chromium, needs_chromium
from tests.harness import running_stack
from tests.leaderboard.stack import sales_corp, sync_directory

pytestmark = needs_chromium


async def test_type_menu_and_card_button_in_the_inbox_page(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        await publish_menu(stack.deps)
        await alert_for(stack, "visit-b")
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(stack.sandbox_url + "/sandbox?user=lina")
            await page.get_by_text("客户 王芳 正在查看《产品手册》").wait_for(timeout=5000)

            await page.fill("#compose-text", "帮助")
            async with page.expect_response("**/sandbox/api/play/send_text"):
                await page.click("#compose-send")
            await page.locator(".bubble.mine", has_text="帮助").wait_for(timeout=5000)
            await page.locator(".bubble", has_text="· 雷达：").wait_for(timeout=5000)

            await page.click("#menu-toggle")
            await page.get_by_role("button", name="我的数据").click()
            async with page.expect_response("**/sandbox/api/play/click_menu"):
                await page.get_by_role("button", name="我的排名").click()
            await stack.run_jobs()
            await page.locator(".bubble", has_text="没有参加").wait_for(timeout=5000)

            async with page.expect_response("**/sandbox/api/play/click_card"):
                await page.get_by_role("button", name="已跟进").click()
            await page.get_by_text("已由 李娜 跟进").wait_for(timeout=5000)
            assert await page.get_by_role("button", name="已跟进").count() == 0
            await page.screenshot(path=str(tmp_path / "sandbox-chat.png"))
