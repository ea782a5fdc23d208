"""The group metric can be played from the sandbox page: a 被成员邀请 join names its inviter,
as WeCom does, and the leaderboard credits that participant."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.errors import SandboxError
from handlers.leaderboard import counting
from tests.browser import chromium, needs_chromium
from tests.harness import running_stack
from tests.leaderboard.stack import running_activity, sales_corp, sync_directory


def test_only_a_staff_member_inside_the_group_can_invite() -> None:
    corp = sales_corp()
    chat = corp.create_group("lina", "VIP群")
    ext = corp.add_customer("客户甲").external_userid
    for outsider in ("wangwei", "nobody"):
        try:
            corp.join_group(chat.chat_id, ext, 1, outsider)
        except SandboxError as exc:
            assert exc.errcode == 40058
        else:
            raise AssertionError(f"{outsider} invited into a group they are not in")


@needs_chromium[0]
@needs_chromium[1]
async def test_an_invited_join_from_the_sandbox_page_counts(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = sales_corp()
    chat = corp.create_group("lina", "VIP群", ["wangwei"])
    corp.add_customer("客户甲")
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack, metric="group_joins", chat_ids=[chat.chat_id])
        async with chromium() as browser:
            page = await browser.new_page()
            page.set_default_timeout(8000)
            await page.goto(stack.sandbox_url + "/sandbox")
            form = page.locator("#f-group")
            await form.locator("select[name=chat_id] option").first.wait_for(state="attached")
            await form.locator("select[name=chat_id]").select_option(chat.chat_id)
            await form.locator("select[name=external_userid]").select_option(label="客户甲")
            await form.locator("select[name=scene]").select_option(label="被成员邀请")
            await form.locator("select[name=invitor]").select_option("wangwei")
            async with page.expect_response("**/sandbox/api/play/customer_joins_group") as resp:
                await form.get_by_role("button", name="入群").click()
            assert (await resp.value).ok
        joined = [m for m in stack.corp.groups[chat.chat_id].members if m.type == 2]
        assert [(m.join_scene, m.invitor) for m in joined] == [(1, "wangwei")]
        await stack.run_jobs()
        rows = {r.userid: r.count for r in await counting.recompute(activity)}
        assert rows["wangwei"] == 1
