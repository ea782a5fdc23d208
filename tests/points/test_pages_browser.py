"""The points pages in a real browser (system Chromium) against the whole stack: the customer
page on a phone-sized screen (sign in, calendar, redeem, the profile form's field errors), the
console (settings, a reward, the customers table, a reversal) and the 客户画像 block (award).
Screenshots go to /tmp/points_*.png."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from handlers.points.page import personal_path
from storage.points import PointsAccount, PointsEntry, PointsProgram, PointsReward
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.harness import Stack, running_stack
from tests.points.test_sandbox_e2e import shop_corp

pytestmark = needs_chromium


@contextlib.asynccontextmanager
async def member_stack(
    tmp_path: Path, db_url: str, redis_url: str
) -> AsyncIterator[tuple[Stack, str]]:
    """A customer of zhangsan's in the programme's one group, with 100 newcomer points."""
    async with running_stack(tmp_path, db_url, redis_url, corp=shop_corp()) as stack:
        for _, hook in stack.deps.dispatcher.hooks("sync"):
            await hook(stack.deps)
        created = await stack.driver.create_group("zhangsan", "会员群")
        chat_id = str(created.info["chat_id"])
        now = stack.deps.now()
        config = {
            "enabled": True,
            "chat_ids": [chat_id],
            "newcomer_points": 100,
            "signin_points": 10,
            "profile_points": 5,
            "profile_fields": ["phone"],
        }
        await PointsProgram.create(id=1, config=config, started_at=now, updated_at=now)
        added = await stack.driver.customer_adds_staff("zhangsan", name="小王", welcome=False)
        ext = str(added.info["external_userid"])
        await stack.driver.customer_joins_group(chat_id, ext)
        await stack.run_jobs()
        yield stack, ext


async def test_customer_page_on_a_phone(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with member_stack(tmp_path, db_url, redis_server.url) as (stack, ext):
        await PointsReward.create(name="帆布袋", cost=80, stock=3, created_at=stack.deps.now())
        async with chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, timezone_id="Asia/Shanghai"
            )
            page = await context.new_page()
            page.set_default_timeout(20000)  # a loaded machine, not a slow page
            page.on("dialog", lambda d: d.accept())
            await page.goto(stack.app_url + personal_path(stack.deps, ext))
            await page.wait_for_function(
                "() => document.getElementById('points-app').dataset.ready"
            )
            assert await page.inner_text("#balance") == "100"
            await page.click("#signin")
            await page.wait_for_function(
                "() => document.getElementById('balance').textContent === '110'"
            )
            assert await page.inner_text("#signin") == "今日已签到"
            today = stack.deps.local_now().date().isoformat()
            assert (
                await page.get_attribute(f"#calendar [data-day='{today}']", "class")
                == "day on today"
            )
            await page.click("[data-reward]")
            await page.wait_for_selector("#redemptions li:has-text('待发放')")
            await page.wait_for_function(
                "() => document.getElementById('balance').textContent === '30'"
            )
            await page.fill("#pf-phone", "123")
            await page.click("#profile-form button[type=submit]")
            await page.wait_for_selector("#profile-form .err:has-text('手机号')")
            await page.fill("#pf-phone", "13800000000")
            await page.click("#profile-form button[type=submit]")
            await page.wait_for_function(
                "() => document.getElementById('balance').textContent === '35'"
            )
            history = await page.inner_text("#history")
            assert "每日签到" in history and "完善信息：手机号" in history
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390  # nothing wider than the phone
            await page.screenshot(path="/tmp/points_customer_page.png", full_page=True)
            await context.close()
        assert (await PointsAccount.get(external_userid=ext)).balance == 35


async def test_console_settings_reward_customers_and_reversal(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with member_stack(tmp_path, db_url, redis_server.url) as (stack, ext):
        async with chromium() as browser:
            page = await signed_in_page(
                browser,
                stack.deps,
                stack.app_url,
                "admin",
                viewport={"width": 1280, "height": 1400},
            )
            page.set_default_timeout(20000)
            await page.goto(f"{stack.app_url}/admin#f//static/points/admin.js")
            await page.wait_for_selector("#points-entry-points li:has-text('群公告')")
            await page.fill("[data-field='signin_points'] input", "15")
            await page.click("form.ui-form button[type=submit]")
            await page.wait_for_selector(".ui-toast:has-text('积分规则已保存')")
            saved = await PointsProgram.get(id=1)
            assert saved.config["signin_points"] == 15 and saved.version == 2

            await page.click("[data-tab='rewards']")
            await page.click("#points-new-reward")
            await page.fill(".ui-modal [data-field='name'] input", "保温杯")
            await page.fill(".ui-modal [data-field='cost'] input", "200")
            await page.fill(".ui-modal [data-field='stock'] input", "4")
            await page.click(".ui-modal button[type=submit]")
            await page.wait_for_selector("td:has-text('保温杯')")
            assert (await PointsReward.get(name="保温杯")).stock == 4

            await page.click("[data-tab='customers']")
            await page.wait_for_selector("td:has-text('小王')")
            await page.get_by_role("button", name="调整").first.click()
            await page.fill(".ui-modal [data-field='points'] input", "-30")
            await page.fill(".ui-modal [data-field='reason'] input", "测试扣除")
            await page.click(".ui-modal button[type=submit]")
            await page.wait_for_selector("td:has-text('70')")

            await page.click("[data-tab='ledger']")
            row = page.locator("tr", has_text="测试扣除")
            await row.get_by_role("button", name="撤销").click()
            await page.get_by_role("button", name="确定").click()
            await page.wait_for_selector(".ui-toast:has-text('已撤销')")
            await page.screenshot(path="/tmp/points_console.png", full_page=True)
        assert (await PointsAccount.get(external_userid=ext)).balance == 100
        assert await PointsEntry.filter(kind="reverse").count() == 1


async def test_profile_block_awards_points(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with member_stack(tmp_path, db_url, redis_server.url) as (stack, ext):
        async with chromium() as browser:
            page = await signed_in_page(
                browser,
                stack.deps,
                stack.app_url,
                "zhangsan",
                viewport={"width": 400, "height": 1000},
            )
            page.set_default_timeout(20000)
            await page.goto(f"{stack.app_url}/sidebar?open=profile&external_userid={ext}")
            await page.wait_for_selector("#points-balance:has-text('积分 100')")
            await page.click("#points-award")
            await page.fill(".ui-modal [data-field='points'] input", "20")
            await page.fill(".ui-modal [data-field='reason'] input", "活动奖励")
            await page.click(".ui-modal button[type=submit]")
            await page.wait_for_selector("#points-balance:has-text('积分 120')")
            assert "活动奖励" in await page.inner_text("#points-profile")
            await page.screenshot(path="/tmp/points_profile_block.png", full_page=True)
        assert (await PointsAccount.get(external_userid=ext)).balance == 120


async def test_console_import_data_and_signals(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with member_stack(tmp_path, db_url, redis_server.url) as (stack, ext):
        await stack.driver.create_group("zhangsan", "其他群")
        csv_file = tmp_path / "points.csv"
        csv_file.write_text(f"客户,积分,原因\n{ext},50,老会员迁移\n小王,-20,扣回\n", "utf-8")
        async with chromium() as browser:
            page = await signed_in_page(
                browser,
                stack.deps,
                stack.app_url,
                "admin",
                viewport={"width": 1280, "height": 1400},
            )
            page.set_default_timeout(20000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{stack.app_url}/admin#f//static/points/admin.js")
            await page.click("[data-tab='import']")
            await page.set_input_files("#points-import-file", str(csv_file))
            await page.click("#points-import-upload")
            await page.wait_for_selector("#points-import-preview tr[data-row='3']:has-text('✓')")
            await page.click("#points-import-apply")
            await page.wait_for_selector("#points-import-apply:has-text('已导入')")
            assert (await PointsAccount.get(external_userid=ext)).balance == 130

            await page.click("[data-tab='stats']")
            await page.wait_for_selector("#points-stats tr:has-text('会员群')")
            await page.wait_for_function(
                "() => document.querySelectorAll('#points-stats canvas').length >= 2"
            )
            row = await page.inner_text("#points-stats tr:has-text('会员群')")
            assert row.split("\t")[1:] == ["0", "1", "0"]  # no sign-in, one join, no quit

            await page.click("[data-tab='signals']")
            await page.wait_for_selector("#points-signals h3")
            assert "规则尚未修改过" in await page.inner_text("#points-signals")
            await page.screenshot(path="/tmp/points_console_data.png", full_page=True)
            assert errors == []
