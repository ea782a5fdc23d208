"""The console and sidebar shells in a real browser (system Chromium), against the test app."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Error as PlaywrightError

from bot.auth import SESSION_COOKIE
from bot.auth_types import Role
from bot.deps import Deps
from bot.dispatcher import Dispatcher
from bot.router import Router
from handlers.system import router as system_router
from storage.core import InboxEvent, InboxStatus
from tests.auth.support import build_app
from tests.support import session_value

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STATIC = Path(__file__).resolve().parents[2] / "static"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

FEATURE_JS = """
export async function mount(el, ui) {
  el.append(ui.h("p", {id: "feature"}, `功能已加载：${ui.user.userid}`));
  if (ui.wecom) {
    const c = await ui.wecom.getCurExternalContact();
    await ui.wecom.sendChatMessage({msgtype: "text", text: {content: "你好 " + c.userId}});
    el.append(ui.h("p", {id: "sent"}, "sent"));
  }
}
"""

feature = Router("browser_probe")
feature.page("admin", "测试功能", "/__test__/feature.js", role=Role.STAFF)
feature.page("sidebar", "测试工具", "/__test__/feature.js")
feature.page("sidebar", "另一个工具", "/__test__/other.js")


async def _feature_js(request: web.Request) -> web.Response:
    return web.Response(text=FEATURE_JS, content_type="text/javascript")


@pytest.fixture
async def server(
    deps: Deps, corp: None, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> TestServer:
    object.__setattr__(deps, "dispatcher", Dispatcher([system_router, feature]))
    app = build_app(deps)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/__test__/feature.js", _feature_js)
    return await aiohttp_server(app)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


async def _page(browser: Any, server: TestServer, deps: Deps, userid: str) -> Any:
    context = await browser.new_context()
    value = await session_value(deps, userid)
    url = str(server.make_url("/"))
    await context.add_cookies([{"name": SESSION_COOKIE, "value": value, "url": url}])
    page = await context.new_page()
    page.set_default_timeout(5000)
    return page


async def test_console_shell_as_super_admin(browser: Any, server: TestServer, deps: Deps) -> None:
    from datetime import UTC, datetime

    row = await InboxEvent.create(
        key="k1", kind="change_contact/update_user", xml="<xml/>", attempts=6,
        received_at=datetime.now(UTC), status=InboxStatus.DEAD, last_error="boom",
    )  # fmt: skip
    page = await _page(browser, server, deps, "admin")
    await page.goto(str(server.make_url("/admin")))
    await page.wait_for_selector("#user-role:has-text('超级管理员')")
    await page.wait_for_selector("#nav >> text=权限设置")  # the nav renders after the role
    nav = await page.inner_text("#nav")
    for title in ("首页", "测试功能", "回调收件箱", "权限设置"):
        assert title in nav
    await page.click("#nav >> text=测试功能")
    await page.wait_for_selector("#feature:has-text('admin')")
    await page.click("#nav >> text=回调收件箱")
    await page.click(f"[data-retry='{row.id}']")
    await page.wait_for_selector(".ui-toast")
    assert (await InboxEvent.get(id=row.id)).status is InboxStatus.PENDING
    await page.click("#nav >> text=权限设置")
    await page.click("form.ui-form button[type=submit]")  # nobody picked
    await page.wait_for_selector("[data-field=userid].invalid .error:has-text('成员账号不能为空')")


async def test_console_hides_system_pages_from_staff(
    browser: Any, server: TestServer, deps: Deps
) -> None:
    page = await _page(browser, server, deps, "carol")
    await page.goto(str(server.make_url("/admin")))
    await page.wait_for_selector("#user-role:has-text('普通员工')")
    await page.wait_for_selector("#nav >> text=测试功能")  # the nav renders after the role
    nav = await page.inner_text("#nav")
    assert "测试功能" in nav and "回调收件箱" not in nav and "权限设置" not in nav


async def test_sidebar_shell_with_the_shim(browser: Any, server: TestServer, deps: Deps) -> None:
    page = await _page(browser, server, deps, "carol")
    await page.goto(str(server.make_url("/sidebar?sandbox_contact=wm-42")))
    await page.wait_for_selector("#context:has-text('当前客户会话')")
    await page.click("[data-path='/__test__/feature.js']")
    await page.wait_for_selector("#sent")
    sent = await page.evaluate("window.__sentMessages")
    assert sent[0]["msg"] == {"msgtype": "text", "text": {"content": "你好 wm-42"}}
    assert sent[0]["contact"] == "wm-42"


async def test_sidebar_without_session_goes_through_oauth(browser: Any, server: TestServer) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    await page.route("https://open.weixin.qq.com/**", lambda route: route.abort())
    with contextlib.suppress(PlaywrightError):  # the aborted WeCom page fails the navigation
        await page.goto(str(server.make_url("/sidebar")), wait_until="commit")
    assert any(u.startswith("https://open.weixin.qq.com/connect/oauth2/authorize") for u in seen)
    await context.close()
