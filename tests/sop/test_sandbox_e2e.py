"""A plan running through the sandbox WeCom with real encrypted callbacks: the reminder card
arrives in the sandbox inbox, 已发布 and 跳过 work (the card turns into its outcome, a replayed
press changes nothing), a customer's click on a member's tracked link alerts that member once
per window, and the member's personal post is found in get_moment_list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiohttp

from bot import schedule
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers.sop import media
from storage.sop import SopClick, SopPlan, SopTask, TaskState
from tests.harness import Stack, running_stack
from tests.leaderboard.stack import sync_directory
from tests.sop.conftest import PNG


def sop_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    corp.add_staff("alice", "张丽", [2])
    corp.add_staff("bob", "王博", [2])
    corp.add_customer("客户甲", "wm_c1")
    corp.add_follow("bob", "wm_c1")
    return corp


def _cards(corp: Corp, userid: str) -> list[dict]:  # type: ignore[type-arg]
    return [m.card or {} for m in corp.inbox(userid) if m.msgtype == "template_card"]


async def running_plan(stack: Stack) -> SopPlan:
    """A link plan for alice and bob whose run has just gone out (cards in their inboxes)."""
    deps = stack.deps
    cover = "abcdefghijklmnopqrstuvwx.png"
    (media.upload_dir(deps.settings) / cover).write_bytes(PNG)
    now = deps.now()
    link = {"title": "新品手册", "url": "https://example.com/book", "cover": cover}
    plan = await SopPlan.create(
        name="新品推荐",
        userids=["alice", "bob"],
        start_date=now.date(),
        items=[{"text": "看看新品", "kind": "link", "link": link}],
    )
    key = f"{plan.id}:{now.astimezone(deps.settings.tz):%Y-%m-%dT%H:%M}"
    await schedule.plan("sop.run", key, now - timedelta(seconds=5), {"item": 0})
    await schedule.sweep(deps)
    await stack.run_jobs()
    return plan


async def test_reminder_buttons_link_clicks_and_detection(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = sop_corp()
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        deps = stack.deps
        await running_plan(stack)

        alice_msg = next(m for m in corp.inbox("alice") if m.msgtype == "template_card")
        card = alice_msg.card or {}
        assert card["main_title"]["title"].endswith("的朋友圈待发布")
        posted_key = card["button_list"][1]["key"]
        result = await stack.driver.click_card("alice", alice_msg.id, posted_key)
        assert result.status == 200
        await stack.run_jobs()
        alice = await SopTask.get(userid="alice")
        assert alice.state is TaskState.POSTED and alice.posted_via == "card"
        shown = corp.find_message("alice", alice_msg.id).card or {}
        assert shown["card_type"] == "text_notice" and shown["main_title"]["desc"].startswith(
            "已发布"
        )

        bob_msg = next(m for m in corp.inbox("bob") if m.msgtype == "template_card")
        skip_key = (bob_msg.card or {})["button_list"][2]["key"]
        await stack.driver.click_card("bob", bob_msg.id, skip_key)
        await stack.run_jobs()
        bob = await SopTask.get(userid="bob")
        assert bob.state is TaskState.SKIPPED

        # a visitor opens bob's tracked link three times (a reload within the minute is not a
        # new click; the later open is, but its alert is coalesced), another visitor once
        url = f"{stack.app_url}/m/{bob.token}"

        def alerts() -> int:
            return sum(
                "点开了你朋友圈的链接" in c["main_title"]["title"] for c in _cards(corp, "bob")
            )

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            for _ in range(2):
                async with browser.get(url, allow_redirects=False) as resp:
                    assert resp.status == 302
                    assert resp.headers["Location"] == "https://example.com/book"
            await stack.run_jobs()
            assert await SopClick.filter(userid="bob").count() == 1 and alerts() == 1
            await SopClick.all().update(key="older")  # as if the minute had passed
            async with browser.get(url, allow_redirects=False) as resp:
                assert resp.status == 302
            await stack.run_jobs()
            assert await SopClick.filter(userid="bob").count() == 2 and alerts() == 1
        async with aiohttp.ClientSession() as other, other.get(url, allow_redirects=False) as resp:
            assert resp.status == 302
        await stack.run_jobs()
        assert alerts() == 2
        forged = f"{stack.app_url}/m/forged.token-value-xxxxxx"
        async with aiohttp.ClientSession() as browser, browser.get(forged) as resp:
            assert resp.status == 404

        # bob posts after all, from the reminder page (shareToExternalMoments): detected
        corp.post_personal_moment(
            "bob", "看看新品", [{"msgtype": "link", "link": {"title": "新品手册", "url": url}}]
        )
        poll_key = next(
            r.key for r in await schedule.runs_of("sop.poll") if r.state.value == "pending"
        )
        from storage.schedule import ScheduledRun

        await ScheduledRun.filter(feature="sop.poll", key=poll_key).update(due_at=deps.now())
        await schedule.sweep(deps)
        await stack.run_jobs()
        bob = await SopTask.get(id=bob.id)
        assert bob.state is TaskState.POSTED and bob.posted_via == "link"
