"""智能雷达 in a real browser (system Chromium) against the whole stack: the chat toolbar's
send through the JS-SDK shim, and the landing page's heartbeats, forward levels and alert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers import facts as facts_pkg
from handlers.facts.sync import full_sync
from handlers.radar import followup, uploads, visits
from handlers.radar import router as radar_router
from handlers.radar.common import SHARE_PURPOSE, clear_caches
from handlers.radar.demo import COLORS, demo_pdf, demo_png
from handlers.system import router as system_router
from storage.facts import TimelineEntry
from storage.radar import Radar, RadarGroup, RadarType, Share, Visit
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.harness import Stack, running_stack

pytestmark = needs_chromium
EXT = "wmRadarCustomer01"
PHONE = {"viewport": {"width": 390, "height": 760}, "device_scale_factor": 2, "is_mobile": True}


def radar_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    corp.add_department(3, "客服部")
    corp.add_staff("alice", "艾丽丝", [2])
    corp.add_staff("carol", "卡罗尔", [3])
    corp.add_customer("张三", EXT)
    corp.add_follow("alice", EXT, "", 1, int(time.time()) - 86400)
    return corp


async def seed_radars(deps: Deps) -> dict[str, Radar]:
    s = deps.settings
    sales = await RadarGroup.create(name="产品资料", order=0, departments=[2])
    service = await RadarGroup.create(name="客服专用", order=1, departments=[3])
    public = await RadarGroup.create(name="公司介绍", order=2)
    cover = uploads.store(s, demo_png("Cover", COLORS[1]), "image", "封面图")
    pdf = demo_pdf(4)
    images = [
        {"name": uploads.store(s, demo_png(f"Case {i}", COLORS[i]), "image", "图片"), "size": 0}
        for i in range(3)
    ]
    return {
        "pdf": await Radar.create(
            group=sales, name="手册", type=RadarType.PDF, title="产品手册 2025 版",
            description="四页看懂我们的产品", cover=cover, tag_ids=[],
            files=[{"name": uploads.store(s, pdf, "pdf", "PDF"), "size": len(pdf), "pages": 4}],
        ),
        "images": await Radar.create(
            group=sales, name="案例", type=RadarType.IMAGES, title="客户案例图集",
            description="三个真实案例", files=images, order=1,
        ),
        "service": await Radar.create(
            group=service, name="售后", type=RadarType.LINK, title="售后服务指南",
            url="https://example.com/after-sales",
        ),
        "link": await Radar.create(
            group=public, name="官网", type=RadarType.LINK, title="公司官网",
            url="https://example.com/",
        ),
    }  # fmt: skip


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    clear_caches()
    routers = [system_router, facts_pkg.router, radar_router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=radar_corp(), routers=routers
    ) as s:
        await full_sync({"deps": s.deps})
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def staff_page(browser: Any, stack: Stack, userid: str) -> Any:
    """A phone-sized page whose visits to the app sign in through the sandbox's OAuth."""
    context = await browser.new_context(**PHONE)
    await context.add_cookies([{"name": "sandbox_user", "value": userid, "url": stack.sandbox_url}])
    page = await context.new_page()
    page.set_default_timeout(8000)
    return page


async def open_radar_tool(page: Any, url: str) -> None:
    # `open=radar` opens the tool whatever else the toolbar offers (a lone tool opens by
    # itself, and a tile clicked while it mounts would be a race)
    await page.goto(f"{url}&open=radar")
    await page.wait_for_selector("#context:has-text('艾丽丝')")
    await page.wait_for_selector(".radar-item")


async def test_toolbar_sends_a_share_as_news(stack: Stack, browser: Any) -> None:
    radars = await seed_radars(stack.deps)
    page = await staff_page(browser, stack, "alice")
    await open_radar_tool(page, f"{stack.app_url}/toolbar?sandbox_contact={EXT}")
    assert "当前客户会话" in await page.inner_text("#context")
    headings = await page.locator(".radar-list h3").all_inner_texts()
    assert headings == ["产品资料", "公司介绍"]  # 客服专用 is for another department
    titles = await page.locator(".radar-item strong").all_inner_texts()
    assert titles == ["产品手册 2025 版", "客户案例图集", "公司官网"]
    await page.screenshot(path="/tmp/radar_toolbar.png")

    await page.fill(".radar-search", "图集")
    await page.wait_for_function("() => document.querySelectorAll('.radar-item').length === 1")
    assert await page.inner_text(".radar-item strong") == "客户案例图集"
    await page.fill(".radar-search", "没有这个")
    await page.wait_for_selector(".radar-list:has-text('没有找到匹配的雷达')")
    await page.fill(".radar-search", "手册")
    await page.wait_for_function("() => document.querySelectorAll('.radar-item').length === 1")
    await page.click(f"[data-radar='{radars['pdf'].id}']")
    await page.wait_for_function(
        "() => window.__sentMessages && window.__sentMessages.length === 1"
    )
    await page.wait_for_selector(".ui-toast:has-text('已发送《产品手册 2025 版》')")

    share = await Share.get()
    assert (share.radar_id, share.userid, share.external_userid, share.chat_id) == (  # type: ignore[attr-defined]
        radars["pdf"].id, "alice", EXT, "",
    )  # fmt: skip
    sent = (await page.evaluate("window.__sentMessages"))[0]
    link = f"{stack.app_url}/r/{share.token}"
    assert sent["contact"] == EXT
    assert sent["msg"]["msgtype"] == "news"
    assert sent["msg"]["news"] == {
        "link": link,
        "title": "产品手册 2025 版",
        "desc": "四页看懂我们的产品",
        "imgUrl": f"{link}/cover",
    }
    cover = await stack.session.get(sent["msg"]["news"]["imgUrl"])
    assert cover.status == 200 and cover.headers["Content-Type"] == "image/png"

    # The same radar again from a customer group's toolbar: a new share bound to the chat.
    chat = stack.corp.create_group("alice", "VIP 客户群", [EXT]).chat_id
    page2 = await staff_page(browser, stack, "alice")
    await open_radar_tool(page2, f"{stack.app_url}/toolbar?sandbox_chat={chat}")
    assert "当前客户群会话" in await page2.inner_text("#context")
    await page2.click(f"[data-radar='{radars['images'].id}']")
    await page2.wait_for_function(
        "() => window.__sentMessages && window.__sentMessages.length === 1"
    )
    group_share = await Share.get(chat_id=chat)
    sent = (await page2.evaluate("window.__sentMessages"))[0]
    assert sent["chat"] == chat
    assert group_share.external_userid == "" and group_share.radar_id == radars["images"].id  # type: ignore[attr-defined]
    assert sent["msg"]["news"]["link"] == f"{stack.app_url}/r/{group_share.token}"
    assert sent["msg"]["news"]["imgUrl"] == f"{stack.app_url}/static/radar/cover.png"
    assert await Share.all().count() == 2


async def wait_beats(deps: Deps, visit_id: str, check: Any, within: float = 8.0) -> dict[str, int]:
    deadline = time.monotonic() + within
    while True:
        beats = await visits.read_beats(deps, visit_id)
        if beats and check(beats):
            return beats
        assert time.monotonic() < deadline, f"no matching beat for {visit_id}: {beats}"
        await asyncio.sleep(0.1)


async def hide(page: Any) -> None:
    """What WeChat does when the reader switches away: the page becomes hidden."""
    await page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


async def read_to_the_end(page: Any, kind: str) -> None:
    """Wait for the content, take the phone screenshot, then read: page 2 of the PDF, or
    scroll to the last image."""
    if kind == "pdf":
        await page.wait_for_selector("#pdf-status:has-text('共 4 页')")
        await page.wait_for_selector("canvas[data-page='2']")
    else:
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#content img')].every((i) => i.complete)"
        )
    await page.screenshot(path=f"/tmp/radar_landing{'' if kind == 'pdf' else '_images'}.png")
    if kind == "pdf":
        await page.locator("canvas[data-page='2']").scroll_into_view_if_needed()
    else:
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")


@pytest.mark.parametrize("kind", ["pdf", "images"])
async def test_landing_beats_levels_and_one_alert(
    stack: Stack, browser: Any, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Write heartbeats back soon and treat a visit as over at once, so the burst worker ends.
    monkeypatch.setattr(visits, "FINALIZE_AFTER", 0.2)
    monkeypatch.setattr(followup, "ACTIVE_WITHIN", 0)
    radar = (await seed_radars(stack.deps))[kind]
    share = await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid=EXT, chat_id="", created_at=stack.deps.now(),
    )  # fmt: skip
    link = f"{stack.app_url}/r/{share.token}"

    reader = await (await browser.new_context(**PHONE)).new_page()
    reader.set_default_timeout(8000)
    await reader.goto(link)
    await reader.wait_for_function("() => location.search.includes('from=')")
    forwarded = reader.url
    assert forwarded.startswith(link + "?from=")
    first = await Visit.get()
    assert (first.level, first.external_userid, first.channel) == (1, EXT, "single")
    await read_to_the_end(reader, kind)
    await asyncio.sleep(1.2)  # some view time to measure
    if kind == "pdf":
        await hide(reader)
    else:
        await reader.evaluate("window.dispatchEvent(new Event('pagehide'))")
    beats = await wait_beats(stack.deps, first.id, lambda b: b.get("t", 0) >= 1)
    assert beats["p"] >= (50 if kind == "pdf" else 90)

    # A friend opens the forwarded link in their own browser: level 2 under the reader.
    friend = await (await browser.new_context(**PHONE)).new_page()
    await friend.goto(forwarded)
    await friend.wait_for_function("() => location.search.includes('from=')")
    assert friend.url != forwarded  # a forward from the friend would carry the friend
    second = await Visit.get(level=2)
    assert second.parent_visitor_id == first.visitor_id
    assert (second.channel, second.external_userid, second.root_userid) == ("forward", "", "alice")
    await friend.close()

    await reader.reload()  # the customer looks again: a new visit, the same level, no new alert
    await reader.wait_for_function("() => location.search.includes('from=')")
    await hide(reader)
    await stack.run_jobs()

    await first.refresh_from_db()
    assert first.finalized and first.duration_seconds >= 1
    assert first.progress == beats["p"]
    if kind == "pdf":
        assert first.max_page >= 2
    assert await Visit.filter(level=1).count() == 2
    cards = [m for m in stack.corp.inbox("alice") if m.msgtype == "template_card"]
    assert len(cards) == 1, [c.payload for c in cards]
    text = str(cards[0].payload)
    assert "张三" in text and radar.title in text
    entry = await TimelineEntry.get(key=followup.timeline_key(first.id))
    assert entry.external_userid == EXT and radar.title in entry.text


async def pick(page: Any, kind: str, text: str, item_id: Any) -> None:
    """Choose an item in a picker by typing part of its name, as a person does."""
    box = page.locator(f".ui-picker[data-kind='{kind}']").last
    await box.locator("input").fill(text)
    await box.locator(f".ui-picker-option[data-id='{item_id}']").click()
    await box.locator(f".ui-chip[data-id='{item_id}']").wait_for()
    await box.locator("input").press("Escape")  # done choosing: the list closes
    await box.locator(".ui-picker-options").wait_for(state="hidden")


async def test_console_live_numbers_tag_pickers_and_batch_tag(stack: Stack, browser: Any) -> None:
    group = stack.corp.add_tags("客户意向", ["高意向", "看过资料"])
    hot, seen = (t.id for t in group.tags)
    await full_sync({"deps": stack.deps})  # the corp's tags into the facts store
    radar = (await seed_radars(stack.deps))["pdf"]
    share = await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid=EXT, chat_id="", created_at=stack.deps.now(),
    )  # fmt: skip
    link = f"{stack.app_url}/r/{share.token}"
    page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
    await page.set_viewport_size({"width": 1280, "height": 1000})
    page.set_default_timeout(8000)
    await page.goto(f"{stack.app_url}/admin#f//static/radar/admin.js")

    # the radar form's smart follow-up tags: chips by group, saved as tag ids
    row = page.locator("tr", has_text="产品手册 2025 版")
    await row.get_by_role("button", name="编辑").click()
    await pick(page, "tags", "资料", seen)
    await page.get_by_role("button", name="保存").click()
    await page.wait_for_selector(".ui-toast:has-text('已保存')")
    await radar.refresh_from_db()
    assert radar.tag_ids == [seen]

    # the data page updates in place while visits come in
    await (
        page.locator("tr", has_text="产品手册 2025 版")
        .get_by_role("button", name="数据分析")
        .click()
    )
    stats = page.locator(".stats[data-visits='0']")
    await stats.wait_for()
    await asyncio.sleep(0.3)  # the event stream is subscribed
    # the customer's phone (one browser: the link is theirs)
    phone = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    assert (await phone.get(link)).status == 200
    await page.locator(".stats[data-visits='1']").wait_for()
    for _ in range(2):  # a burst: folded into one more refresh within the throttle
        assert (await phone.get(link)).status == 200
    await phone.close()
    await page.locator(".stats[data-visits='3']").wait_for()
    assert "最近访问" in await page.inner_text(".live-note")
    await page.wait_for_timeout(300)  # the chart animation
    await page.screenshot(path="/tmp/radar_admin.png", full_page=True)

    # customer analysis → batch tag through the picker → the sandbox corp has the tag
    await page.get_by_role("button", name="返回").click()
    await (
        page.locator("tr", has_text="产品手册 2025 版")
        .get_by_role("button", name="数据分析")
        .click()
    )
    customer = page.locator("tr", has_text="张三")
    await customer.locator("input[type=checkbox]").check()
    await page.get_by_role("button", name="批量打标签").click()
    await pick(page, "tags", "高意向", hot)
    await page.screenshot(path="/tmp/radar_tag_picker.png")
    await page.get_by_role("button", name="确定").click()
    await page.wait_for_selector(".ui-toast:has-text('已为 1 位客户打标签')")
    assert hot in stack.corp.get_follow("alice", EXT).tag_ids


async def test_console_group_dialog_pickers_errors_and_corp_time(
    stack: Stack, browser: Any
) -> None:
    zone = {"timezone_id": "America/New_York"}  # the browser is not in the corp's zone
    page = await signed_in_page(browser, stack.deps, stack.app_url, "admin", **zone)
    page.set_default_timeout(8000)
    await page.goto(f"{stack.app_url}/admin#f//static/radar/admin.js")
    await page.get_by_role("button", name="新增分组").click()
    dialog = page.locator(".ui-modal")
    await dialog.get_by_role("button", name="保存").click()  # no name yet
    error = dialog.locator("[data-field=name].invalid .error")
    assert await error.inner_text() == "分组名称不能为空"
    await dialog.locator("#f-name").fill("华东资料")
    await pick(page, "departments", "销售", 2)
    await page.screenshot(path="/tmp/radar_group_dialog.png")
    await dialog.get_by_role("button", name="保存").click()
    await page.wait_for_selector("h3:has-text('华东资料') >> text=可见部门：销售部")
    group = await RadarGroup.get(name="华东资料")
    assert group.departments == [2]

    # a visit's time in the customer table is the corp's wall clock, not the browser's
    radar = await Radar.create(group=group, name="价目", type=RadarType.LINK, title="价目表",
                               url="https://example.com/p")  # fmt: skip
    share = await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid=EXT, chat_id="", created_at=stack.deps.now(),
    )  # fmt: skip
    await stack.session.get(f"{stack.app_url}/r/{share.token}", allow_redirects=False)
    visit = await Visit.get(radar_id=radar.id)
    await page.reload()
    await page.locator("tr", has_text="价目表").get_by_role("button", name="数据分析").click()
    row = page.locator("tr", has_text="张三")
    shown = visit.started_at.astimezone(stack.deps.settings.tz).strftime("%Y-%m-%d %H:%M")
    await row.locator(f"td:has-text('{shown}')").wait_for()


async def test_console_analytics_page_for_a_manager(stack: Stack, browser: Any) -> None:
    """客户层级 as a table, no stray 「null」 on a non-PDF radar, 来源路径 and 社交关系网 in a
    panel with counts and times, 客户详情, 重置, and no empty chart under 客户分析."""
    import aiohttp

    from tests.radar.support import page_config

    radar = (await seed_radars(stack.deps))["images"]
    share = await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid=EXT, chat_id="", created_at=stack.deps.now(),
    )  # fmt: skip
    async with aiohttp.ClientSession() as reader, aiohttp.ClientSession() as friend:
        html = await (await reader.get(f"{stack.app_url}/r/{share.token}")).text()
        assert (await friend.get(stack.app_url + page_config(html)["self"])).status == 200
    page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
    await page.set_viewport_size({"width": 1280, "height": 1000})
    page.set_default_timeout(8000)
    await page.goto(f"{stack.app_url}/admin#f//static/radar/admin.js")
    row = page.locator("tr", has_text="客户案例图集")
    await row.wait_for()  # the list renders after its API answers
    cells = await row.locator("td").all_inner_texts()
    assert cells[3:5] == ["1", "2"]  # one send, two visits beside it
    await row.get_by_role("button", name="数据分析").click()
    levels = page.locator(".radar-levels table")
    await levels.wait_for()
    assert await levels.locator("th").all_inner_texts() == [
        "层级",
        "总人数",
        "有效分享人数",
        "分享率",
    ]
    assert await levels.locator("tbody tr").first.locator("td").all_inner_texts() == [
        "1级客户", "1", "1", "100%",
    ]  # fmt: skip
    text = await page.inner_text("#main")
    assert "null" not in text and "PDF 阅读流失" not in text
    customer = page.locator(".card", has_text="客户分析").locator("tr", has_text="张三")
    detail = customer.get_by_role("link", name="客户详情")
    assert await detail.get_attribute("href") == f"/sidebar?open=profile&external_userid={EXT}"
    await customer.get_by_role("button", name="社交关系网").click()
    panel = page.locator(".ui-modal")
    await panel.locator("h3", has_text="有 1 人").wait_for()
    assert await panel.locator(".radar-path li").all_inner_texts() == [
        "艾丽丝（发送员工）", await panel.locator(".radar-path li").nth(1).inner_text(),
    ]  # fmt: skip
    assert "张三（1级 · 首次访问 20" in await panel.locator(".radar-path li").nth(1).inner_text()
    await page.screenshot(path="/tmp/radar_person_panel.png")
    await panel.get_by_role("button", name="关闭").click()
    # 重置 clears a filter and shows everyone again
    await page.fill("input[name=q]", "没有这个人")
    await page.get_by_role("button", name="查询").click()
    await page.locator("td.empty", has_text="暂无数据").wait_for()
    await page.get_by_role("button", name="重置").click()
    await customer.wait_for()
    assert await page.input_value("input[name=q]") == ""
    # nothing but the table under 客户分析 (the network is in the panel now)
    assert await page.locator(".card", has_text="客户分析").locator(".ui-chart").count() == 0


async def test_console_editor_fields_limits_and_errors(stack: Stack, browser: Any) -> None:
    """The editor shows only the chosen type's fields with their limits; a refused upload is
    explained next to its field; editing shows the current file and cover."""
    await seed_radars(stack.deps)
    page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
    await page.set_viewport_size({"width": 1280, "height": 1000})
    page.set_default_timeout(8000)
    await page.goto(f"{stack.app_url}/admin#f//static/radar/admin.js")
    await page.get_by_role("button", name="新增雷达").click()
    editor = page.locator(".radar-editor")
    await editor.wait_for()
    assert await editor.locator("[data-field=url]").is_visible()
    assert not await editor.locator("[data-field=files]").is_visible()
    await editor.locator("select[name=type]").select_option("video")
    assert not await editor.locator("[data-field=url]").is_visible()
    help_text = await editor.locator("[data-field=files] .help").last.inner_text()
    assert "H.264" in help_text and "MB" in help_text
    await editor.locator("input[name=name]").fill("介绍视频")
    await editor.locator("input[name=title]").fill("三分钟了解我们")
    heic = (24).to_bytes(4, "big") + b"ftypheic" + b"\x00" * 12 + b"\x00" * 64
    await editor.locator("input[name=files]").set_input_files(
        {"name": "clip.heic", "mimeType": "video/mp4", "buffer": heic}
    )
    await page.get_by_role("button", name="保存").click()
    error = editor.locator("[data-field=files].invalid .error")
    await error.wait_for()
    assert "MP4" in await error.inner_text()
    await page.get_by_role("button", name="取消").click()

    row = page.locator("tr", has_text="产品手册 2025 版")
    assert await row.locator("img.radar-thumb").count() == 1  # the cover thumbnail
    await row.get_by_role("button", name="编辑").click()
    current = editor.locator(".radar-current")
    assert "PDF（4 页）" in await current.inner_text()
    assert await editor.locator("[data-field=cover] img.radar-thumb").count() == 1
