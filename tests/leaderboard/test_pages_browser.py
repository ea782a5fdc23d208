"""The leaderboard pages in a real browser (system Chromium) against the whole stack: a
participant opens the sidebar page from a card link through the sandbox OAuth; an admin uses
the console page. Screenshots go to /tmp/lb_sidebar.png and /tmp/lb_admin.png."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from tests.browser import chromium, needs_chromium
from tests.harness import Stack, running_stack
from tests.leaderboard.stack import running_activity, sales_corp, session_cookie, sync_directory

pytestmark = needs_chromium


async def _referrals(stack: Stack) -> None:
    plan = [("wangwei", "客户甲"), ("wangwei", "客户乙"), ("lina", "客户丙"), ("zhaomin", "客户丁")]
    for userid, name in plan:
        await stack.driver.customer_adds_staff(userid, name=name, welcome=False)
    await stack.run_jobs()


async def test_sidebar_ranking_as_participant(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack, top_n=2)
        await _referrals(stack)
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            await context.add_cookies(
                [{"name": "sandbox_user", "value": "lina", "url": stack.sandbox_url}]
            )
            page = await context.new_page()
            page.set_default_timeout(8000)
            # the card's link: through the sandbox OAuth straight into the activity
            await page.goto(f"{stack.app_url}/sidebar?open=leaderboard&activity={activity.id}")
            mine = page.locator("tr.lb-me")
            await mine.wait_for()
            assert "李娜" in await mine.inner_text()
            names = await page.locator(".lb-rank tbody tr td:nth-child(2)").all_inner_texts()
            assert names[0] == "王伟" and len(names) == 3
            assert await page.locator("tr.lb-me").count() == 1
            assert await page.locator(".lb-countdown").inner_text()
            await page.screenshot(path="/tmp/lb_sidebar.png", full_page=True)

            await mine.locator("button.lb-count").click()
            customers = page.locator(".lb-customers li")
            await customers.first.wait_for()
            assert (await customers.all_inner_texts())[0].startswith("客户丙")
            await page.get_by_role("button", name="客户画像").click()
            await page.wait_for_url("**open=profile**")
            await page.locator("h2", has_text="客户丙").wait_for()

            # the list: staff see only 我参与的, defaulting to running activities
            await page.goto(f"{stack.app_url}/sidebar?open=leaderboard")
            await page.locator(f"[data-activity='{activity.id}']").click()
            await page.locator("tr.lb-me").wait_for()
            assert await page.locator("[data-tab='all']").count() == 0


async def test_console_data_page_and_form(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sales_corp()) as stack:
        await sync_directory(stack)
        await running_activity(stack, top_n=2)
        await _referrals(stack)
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 1280, "height": 1000})
            cookie = (await session_cookie(stack, "admin"))["Cookie"].split("=", 1)
            await context.add_cookies(
                [{"name": cookie[0], "value": cookie[1], "url": stack.app_url}]
            )
            page = await context.new_page()
            page.set_default_timeout(8000)
            await page.goto(f"{stack.app_url}/admin#f//static/leaderboard/admin.js")
            await page.get_by_role("button", name="数据").first.click()
            # the worker computes the tables: the page says so until they are there
            computing = page.locator(".lb-computing", has_text="数据计算中")
            await page.locator("#lb-top10 .lb-computing").wait_for()  # both jobs queued
            await computing.nth(1).wait_for()
            await page.screenshot(path="/tmp/lb_admin_computing.png", full_page=True)
            await stack.run_jobs()
            await page.locator("#lb-top10 canvas").wait_for()
            await computing.first.wait_for(state="detached")
            rows = page.locator(".ui-table tbody tr")
            await rows.nth(2).wait_for()
            assert (await rows.first.inner_text()).split("\t")[:2] == ["1", "王伟"]
            await page.wait_for_timeout(300)  # the chart animation
            await page.screenshot(path="/tmp/lb_admin.png", full_page=True)

            async with page.expect_download() as download:
                await page.get_by_role("button", name="导出 Excel").click()
            assert (await download.value).suggested_filename.endswith(".xlsx")

            # 按日期 waits for its own table, then shows it
            await page.get_by_role("button", name="按日期").click()
            await page.locator(".lb-computing").wait_for()
            await stack.run_jobs()
            await page.locator("#lb-dates-chart canvas").wait_for()

            await page.get_by_role("button", name="按客户").click()
            await page.get_by_text("客户丁").wait_for()

            # the form: a refusal is shown next to its field
            await page.get_by_role("button", name="‹ 返回").click()
            await page.get_by_role("button", name="编辑").first.click()
            await page.fill("[data-field='top_n'] input", "0")
            await page.get_by_role("button", name="保存修改").click()
            error = page.locator("[data-field='top_n'] .lb-field-error")
            await error.wait_for()
            assert await error.inner_text()
            await page.screenshot(path="/tmp/lb_form.png", full_page=True)
