"""The 客户画像 sidebar page and the console's 客户管理 page in a real browser (system
Chromium), against the real app, the sandbox WeCom (its OAuth too) and synced facts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers import facts as facts_pkg
from handlers.facts.sync import full_sync
from handlers.system import router as system_router
from storage.facts import FollowTag, TimelineEntry
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.harness import Stack, running_stack

pytestmark = needs_chromium
EXT = "wmBrowserCustomer1"
SCREENSHOT = Path("/tmp/facts_profile.png")


def small_corp() -> tuple[Corp, dict[str, str]]:
    corp = Corp()
    for userid, name in (("admin", "陈静"), ("alice", "艾丽丝"), ("bob", "鲍勃")):
        corp.add_staff(userid, name)
    group = corp.add_tags("客户等级", ["A类客户", "B类客户"])
    tags = {t.name: t.id for t in group.tags}
    corp.add_customer("张三", EXT, gender=1)
    day = int(time.time()) - 86400
    corp.add_follow("alice", EXT, "qr_store", 1, day).tag_ids = [tags["A类客户"]]
    corp.follows[("alice", EXT)].remark = "张总"
    corp.add_follow("bob", EXT, "", 2, day + 3600)
    corp.create_group("alice", "VIP客户交流群", [EXT])
    return corp, tags


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    corp, _ = small_corp()
    routers = [system_router, facts_pkg.router]
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp, routers=routers) as s:
        await full_sync({"deps": s.deps})
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def test_profile_page_through_sandbox_oauth(stack: Stack, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 400, "height": 1000})
    # The sandbox's OAuth page signs in whoever its `sandbox_user` cookie names, at once.
    await context.add_cookies(
        [{"name": "sandbox_user", "value": "alice", "url": stack.sandbox_url}]
    )
    page = await context.new_page()
    page.set_default_timeout(5000)
    await page.goto(f"{stack.app_url}/sidebar?sandbox_contact={EXT}")
    await page.wait_for_selector("#facts-name:has-text('张三')")
    assert "艾丽丝 · 当前客户会话" in await page.inner_text("#context")

    follows = await page.inner_text("#facts-follows")
    assert "艾丽丝" in follows and "鲍勃" in follows and "备注：张总" in follows
    assert "A类客户" in follows and "跟进中" in follows
    assert "VIP客户交流群" in await page.inner_text("#facts-groups")
    await page.wait_for_selector("#facts-timeline li")
    timeline = await page.inner_text("#facts-timeline")
    assert "添加了员工 艾丽丝" in timeline and "加入了群聊「VIP客户交流群」" in timeline

    tag_id = _tag_id(stack.corp, "B类客户")
    assert await page.get_attribute(f"#facts-tags [data-tag='{tag_id}']", "aria-pressed") == "false"
    await page.click(f"#facts-tags [data-tag='{tag_id}']")
    await page.wait_for_selector(f"#facts-tags [data-tag='{tag_id}'][aria-pressed='true']")
    await page.wait_for_selector("#facts-timeline li:has-text('添加标签 B类客户')")
    mine = page.locator("#facts-follows li[data-userid='alice']")
    assert "B类客户" in await mine.inner_text()
    assert tag_id in stack.corp.follows[("alice", EXT)].tag_ids
    assert await FollowTag.exists(userid="alice", external_userid=EXT, tag_id=tag_id)
    assert await TimelineEntry.filter(external_userid=EXT, kind="tag").count() == 1
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    await context.close()


def _tag_id(corp: Corp, name: str) -> str:
    return next(t.id for g in corp.tag_groups.values() for t in g.tags if t.name == name)


async def test_profile_of_a_customer_not_mine_is_refused(stack: Stack, browser: Any) -> None:
    stack.corp.add_staff("carol", "卡罗尔")
    await stack.driver.staff_created("carol", "卡罗尔")
    await stack.run_jobs()
    page = await signed_in_page(browser, stack.deps, stack.app_url, "carol")
    await page.goto(f"{stack.app_url}/sidebar?sandbox_contact={EXT}")
    await page.wait_for_selector("#facts-error:has-text('只能查看自己添加的客户')")


async def test_console_customer_list_and_export(stack: Stack, browser: Any, tmp_path: Path) -> None:
    page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
    await page.goto(f"{stack.app_url}/admin")
    await page.wait_for_selector("#user-role:has-text('超级管理员')")
    await page.click("#nav >> text=客户管理")
    await page.wait_for_selector("#facts-customers td:has-text('张三')")
    rows = await page.locator("#facts-customers tbody tr").all_inner_texts()
    assert len(rows) == 2 and any("艾丽丝" in r and "qr_store" in r for r in rows)
    async with page.expect_download() as info:
        await page.click("#facts-customers button:has-text('导出 Excel')")
    download = await info.value
    assert download.suggested_filename.startswith("客户列表-")
    target = tmp_path / "export.xlsx"
    await download.save_as(target)
    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["客户", "客户类型", "跟进员工"]
    assert sorted(r[2] for r in values[1:]) == ["艾丽丝", "鲍勃"]
