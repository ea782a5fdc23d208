"""The SOP pages in a real browser (system Chromium) against the whole stack: an admin makes
a plan in the console editor (phone preview, calendar, a field error shown at its field); a
staff member presses 已发布 on the reminder card in the sandbox inbox; another opens 去发布
in the sidebar, which hands the content with the tracked link to shareToExternalMoments."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from storage.sop import SopPlan, SopTask, TaskState
from tests.browser import chromium, needs_chromium
from tests.harness import running_stack
from tests.leaderboard.stack import session_cookie, sync_directory
from tests.sop.test_sandbox_e2e import running_plan, sop_corp

pytestmark = needs_chromium


async def test_console_editor(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sop_corp()) as stack:
        await sync_directory(stack)
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 1280, "height": 1000})
            cookie = (await session_cookie(stack, "admin"))["Cookie"].split("=", 1)
            await context.add_cookies(
                [{"name": cookie[0], "value": cookie[1], "url": stack.app_url}]
            )
            page = await context.new_page()
            page.set_default_timeout(8000)
            await page.goto(f"{stack.app_url}/admin#f//static/sop/admin.js")
            await page.locator("#sop-new").click()
            await page.locator("#sop-name").fill("每周新品")
            await page.locator("#sop-freq").select_option("weekly")
            await page.locator("[data-day='0']").check()
            await page.locator("textarea[data-item='0']").fill("本周新品到店")
            await page.wait_for_function(
                "() => document.querySelector('#sop-preview').textContent.includes('本周新品到店')"
            )
            await page.wait_for_function(
                "() => document.querySelectorAll('#sop-calendar li').length >= 3"
            )
            await page.screenshot(path=str(tmp_path / "sop-editor.png"), full_page=True)
            await page.locator("#sop-save").click()  # no staff chosen: the error at its field
            error = page.locator("[data-field='userids'] .error")
            await error.wait_for()
            assert "请选择执行员工或执行部门" in await error.inner_text()
            await page.locator("[data-field='userids'] input").fill("张")
            await page.locator(".ui-picker-options [role='option']", has_text="张丽").first.click()
            await page.locator("#sop-save").click()
            await page.get_by_text("每周新品").wait_for()
            await page.screenshot(path=str(tmp_path / "sop-admin.png"), full_page=True)
        plan = await SopPlan.get(name="每周新品")
        assert plan.userids == ["alice"] and plan.weekdays == [0]
        assert plan.items == [{"text": "本周新品到店", "kind": "text"}]


async def test_card_button_in_inbox_and_sidebar_post(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=sop_corp()) as stack:
        await sync_directory(stack)
        plan = await running_plan(stack)
        async with chromium() as browser:
            page = await browser.new_page()
            page.set_default_timeout(8000)
            await page.goto(stack.sandbox_url + "/sandbox?user=alice")
            async with page.expect_response("**/sandbox/api/play/click_card"):
                await page.get_by_role("button", name="已发布").click()
            await stack.run_jobs()
            await page.get_by_text("已发布 ·").wait_for()
            assert (await SopTask.get(userid="alice")).state is TaskState.POSTED
            # the sandbox page plays customers reacting to a member's moment
            moment = stack.corp.post_personal_moment("bob", "看看新品", [])
            await page.reload()
            async with page.expect_response("**/sandbox/api/play/customer_likes_moment"):
                await page.get_by_role("button", name="客户甲 点赞").click()
            assert len(stack.corp.moments[moment.moment_id].likes) == 1

            context = await browser.new_context(viewport={"width": 390, "height": 844})
            await context.add_cookies(
                [{"name": "sandbox_user", "value": "bob", "url": stack.sandbox_url}]
            )
            phone = await context.new_page()
            phone.set_default_timeout(8000)
            bob = await SopTask.get(userid="bob")
            await phone.goto(f"{stack.app_url}/sidebar?open=sop&task={bob.id}")
            await phone.locator(f"[data-task='{bob.id}'] [data-action='post']").click()
            await phone.wait_for_function("() => (window.__sharedMoments || []).length === 1")
            shared = await phone.evaluate("() => window.__sharedMoments[0]")
            assert shared["text"]["content"] == "看看新品"
            assert shared["attachments"][0]["link"]["url"].endswith(f"/m/{bob.token}")
            await phone.locator(f"[data-task='{bob.id}'] [data-action='skip']").click()
            await phone.locator(f"[data-task='{bob.id}']", has_text="已跳过").wait_for()
            await phone.screenshot(path=str(tmp_path / "sop-sidebar.png"), full_page=True)
            # the console's data page: the run with its numbers, and who did what
            admin = await browser.new_context(viewport={"width": 1280, "height": 1000})
            cookie = (await session_cookie(stack, "admin"))["Cookie"].split("=", 1)
            await admin.add_cookies([{"name": cookie[0], "value": cookie[1], "url": stack.app_url}])
            console = await admin.new_page()
            console.set_default_timeout(8000)
            await console.goto(f"{stack.app_url}/admin?plan={plan.id}#f//static/sop/admin.js")
            await console.get_by_role("button", name="明细").click()
            await console.locator(".sop-badge.posted", has_text="已发布").wait_for()
            rows = await console.locator(".ui-modal tbody tr").all_inner_texts()
            assert any("张丽" in r and "卡片确认" in r for r in rows), rows
            await console.get_by_role("button", name="关闭").click()
            await console.locator(".sop-cal li", has_text="已发送").wait_for()  # the calendar
            await console.wait_for_function("() => !!document.querySelector('#sop-chart canvas')")
            await console.locator("[data-tab='staff']").click()
            await console.wait_for_function(
                "() => !!document.querySelector('#sop-staff-trend canvas')"
            )
            await console.locator("tbody td", has_text="张丽").wait_for()
            await console.screenshot(path=str(tmp_path / "sop-data.png"), full_page=True)
        assert (await SopTask.get(id=bob.id)).state is TaskState.SKIPPED
