"""The seed's sidebar entries in a real browser: the bar on 客户画像 that leads a participant
to 我参与的, 添加为联系人 behind a count, and 查看群聊 with a group's members and joins."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from tests.browser import chromium, needs_chromium
from tests.harness import Stack, running_stack
from tests.leaderboard.stack import running_activity, sales_corp, session_cookie, sync_directory

pytestmark = needs_chromium


async def _page(stack: Stack, browser: object, userid: str) -> object:
    context = await browser.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    cookie = (await session_cookie(stack, userid))["Cookie"].split("=", 1)
    await context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": stack.app_url}])
    page = await context.new_page()
    page.set_default_timeout(8000)
    return page


async def test_profile_bar_add_contact_and_groups(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = sales_corp()
    chat = corp.create_group("lina", "VIP群", ["wangwei"])
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack)
        groups = await running_activity(
            stack, name="入群赛", metric="group_joins", chat_ids=[chat.chat_id]
        )
        added = await stack.driver.customer_adds_staff("wangwei", name="客户甲", welcome=False)
        ext = added.info["external_userid"]
        await stack.driver.customer_joins_group(chat.chat_id, ext, scene=0, invitor="wangwei")
        await stack.run_jobs()
        async with chromium() as browser:
            page = await _page(stack, browser, "wangwei")
            await page.goto(f"{stack.app_url}/sidebar?open=profile&external_userid={ext}")  # type: ignore[attr-defined]
            bar = page.locator("#lb-profile-bar")  # type: ignore[attr-defined]
            await bar.wait_for()
            assert "六月拉新" in await bar.inner_text() or "入群赛" in await bar.inner_text()
            await bar.click()
            await page.wait_for_url("**open=leaderboard**")  # type: ignore[attr-defined]
            await page.locator(f"[data-activity='{activity.id}']").wait_for()  # type: ignore[attr-defined]

            admin = await _page(stack, browser, "admin")
            await admin.goto(f"{stack.app_url}/sidebar?open=leaderboard&activity={activity.id}")  # type: ignore[attr-defined]
            await admin.locator("tr[data-userid='wangwei'] button.lb-count").click()  # type: ignore[attr-defined]
            await admin.locator(f"[data-add='{ext}']").click()  # type: ignore[attr-defined]
            opened = await admin.evaluate("() => window.__openedProfiles || []")  # type: ignore[attr-defined]
            assert opened == [ext]

            await admin.goto(f"{stack.app_url}/sidebar?open=leaderboard&activity={groups.id}")  # type: ignore[attr-defined]
            await admin.get_by_role("button", name="查看群聊").click()  # type: ignore[attr-defined]
            await admin.locator(f"li[data-chat='{chat.chat_id}'] button").click()  # type: ignore[attr-defined]
            joins = admin.locator(".lb-group-joins li")  # type: ignore[attr-defined]
            await joins.first.wait_for()
            assert (
                "客户甲" in await joins.first.inner_text()
                and "王伟" in await joins.first.inner_text()
            )
            members = await admin.locator(".lb-group-members li").all_inner_texts()  # type: ignore[attr-defined]
            assert any("客户甲" in m and "邀请人 王伟" in m for m in members), members
