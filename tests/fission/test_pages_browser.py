"""The fission pages in a real browser (system Chromium) against the whole stack: an admin
creates an activity in the console editor and drags the QR box on the poster; a customer on a
phone-sized screen joins on their personal link, sees their poster, and watches a friend's
help arrive. Screenshots go to /tmp/fission_*.png."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from handlers.fission.pages import personal_url
from storage.contact_ways import ContactWay
from storage.fission import FissionActivity, FissionTier
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.fission.test_sandbox_chain import market_corp, running_activity, sync_directory
from tests.harness import running_stack

pytestmark = needs_chromium


async def test_console_editor_creates_and_places_the_qr(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        async with chromium() as browser:
            page = await signed_in_page(
                browser,
                stack.deps,
                stack.app_url,
                "admin",
                viewport={"width": 1280, "height": 1400},
            )
            await page.goto(f"{stack.app_url}/admin#f//static/fission/admin.js")
            await page.click("#fx-new")
            await page.fill("[data-field='name'] input", "周末助力")
            await page.fill("[data-field='start_at'] input", "2030-01-01T10:00")
            await page.fill("[data-field='end_at'] input", "2030-01-08T10:00")
            await page.fill("[data-field='tiers'] input[placeholder='奖品名称']", "帆布袋")
            await page.fill("[data-field='staff'] .ui-picker-search", "张三")
            await page.locator("[data-field='staff'] .ui-picker-option", has_text="张三").click()
            # a refusal is shown next to its field
            await page.fill("[data-field='revoke_hours'] input", "99999")
            await page.click("#fx-save")
            error = page.locator("[data-field='revoke_hours'] .fx-field-error")
            await error.wait_for()
            assert "删除好友作废时限" in await error.inner_text()
            await page.fill("[data-field='revoke_hours'] input", "12")
            await page.fill("[data-field='remind_times'] input", "18:00, 18:00")
            await page.click("#fx-save")
            await page.wait_for_function(
                "() => document.querySelector(\"[data-field='remind_times'] .fx-field-error\")"
                ".textContent.includes('提醒时间')"
            )
            await page.fill("[data-field='remind_times'] input", "18:00，09:30")
            await page.click("#fx-save")
            await page.get_by_role("heading", name="编辑活动：周末助力").wait_for()
            activity = await FissionActivity.get(name="周末助力")
            assert activity.staff == ["zhangsan"] and not activity.published
            assert activity.revoke_hours == 12
            assert activity.options["remind_times"] == ["09:30", "18:00"]

            box = page.locator("[data-box='qr']")
            await box.wait_for()
            start = await box.bounding_box()
            assert start is not None
            await page.mouse.move(start["x"] + 10, start["y"] + 10)
            await page.mouse.down()
            await page.mouse.move(start["x"] - 90, start["y"] - 190, steps=5)
            await page.mouse.up()
            await page.screenshot(path="/tmp/fission_editor.png", full_page=True)
            await page.click("#fx-save")
            await page.get_by_role("button", name="新建活动").wait_for()
            moved = await FissionActivity.get(id=activity.id)
            qr = moved.poster_layout["qr"]
            assert qr["x"] < 487 - 200 and qr["y"] < 1071 - 400, qr  # 300 px shows 750: × 2.5
            assert (await FissionTier.get(activity_id=activity.id)).prize == "帆布袋"

            await page.get_by_role("button", name="复制").first.click()
            await page.locator("a", has_text="周末助力（副本）").wait_for()
            await page.get_by_role("button", name="数据").first.click()
            await page.locator("#fx-funnel .fx-step").first.wait_for()
            await page.locator("#fx-risks", has_text="暂无风险信号").wait_for()


async def test_editor_offers_the_acquisition_link_with_its_quota(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        stack.corp.acquisition_api_allowed = False
        async with chromium() as browser:
            page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
            await page.goto(f"{stack.app_url}/admin#f//static/fission/admin.js")
            await page.click("#fx-new")
            note = page.locator("#fx-qr-kind-note", has_text="可调用应用")
            await note.wait_for()
            assert await page.locator("#fx-qr-kind option[value='link']").is_disabled()

            stack.corp.acquisition_api_allowed = True
            stack.corp.acquisition_balance = 88
            await page.reload()
            await page.click("#fx-new")
            await page.locator("#fx-qr-kind-note", has_text="剩余额度：88 / 1000").wait_for()
            await page.fill("[data-field='name'] input", "获客助力")
            await page.fill("[data-field='start_at'] input", "2030-01-01T10:00")
            await page.fill("[data-field='end_at'] input", "2030-01-08T10:00")
            await page.fill("[data-field='tiers'] input[placeholder='奖品名称']", "帆布袋")
            await page.fill("[data-field='staff'] .ui-picker-search", "张三")
            await page.locator("[data-field='staff'] .ui-picker-option", has_text="张三").click()
            await page.select_option("#fx-qr-kind", "link")
            await page.click("#fx-save")
            await page.get_by_role("heading", name="编辑活动：获客助力").wait_for()
            activity = await FissionActivity.get(name="获客助力")
            assert activity.options["qr_kind"] == "link"
            assert await page.locator("#fx-qr-kind").input_value() == "link"


async def test_customer_pages_on_a_phone(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack)
        await stack.driver.customer_adds_staff("zhangsan", name="小王", welcome=False)
        await stack.run_jobs()
        wang = next(c.external_userid for c in stack.corp.customers.values() if c.name == "小王")
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            page.set_default_timeout(8000)
            await page.goto(personal_url(stack.deps, activity.id, wang))
            await page.click("#join")
            await page.locator("#progress").wait_for()
            await page.wait_for_function(
                "() => { const i = document.getElementById('poster-img');"
                " return i && i.complete && i.naturalWidth === 750; }"
            )
            assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390
            way = await ContactWay.get(feature="fission")
            await stack.driver.customer_scans_contact_way(way.config_id, name="好友甲")
            await stack.run_jobs()
            await page.wait_for_function(
                "() => document.getElementById('help-count').textContent === '1'", timeout=20000
            )
            assert "好友甲" in await page.locator("#helpers").inner_text()
            assert "再邀请 1 位好友" in await page.locator("#next").inner_text()
            await page.screenshot(path="/tmp/fission_phone.png", full_page=True)
