"""The pages work under their Content-Security-Policy: no script, style, image, worker or
request of the console, the sidebar or a radar page is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.demo import seed_features
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from storage.radar import Share
from tests.browser import chromium, needs_chromium, signed_in_page

pytestmark = needs_chromium


def _watch(page: Any, refused: list[str]) -> None:
    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            refused.append(msg.text)

    page.on("console", on_console)


async def test_pages_run_under_their_policy(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    from tests.harness import running_stack

    corp = seed_demo_corp(Corp())
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await seed_features(stack.runtime)
        share = await Share.all().order_by("id").first()
        assert share is not None
        refused: list[str] = []
        async with chromium() as browser:
            page = await signed_in_page(browser, stack.deps, stack.app_url, "admin")
            _watch(page, refused)
            await page.goto(stack.app_url + "/admin")
            await page.wait_for_selector("#user-role:has-text('超级管理员')")
            links = await page.eval_on_selector_all("#nav a", "els => els.map(e => e.href)")
            assert len(links) >= 4
            for link in links:
                await page.goto(link)
                await page.wait_for_load_state("networkidle")
            await page.goto(stack.app_url + "/sidebar?sandbox_contact=" + share.token[:4])
            await page.wait_for_load_state("networkidle")
            await page.goto(f"{stack.app_url}/r/{share.token}")
            await page.wait_for_load_state("networkidle")
        assert refused == []


@pytest.mark.parametrize("path", ["/admin/login"])
async def test_login_page_script_runs(
    path: str, tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    """The login page's own script (moved out of the page) still keeps ?next= in the link."""
    from tests.harness import running_stack

    async with running_stack(tmp_path, db_url, redis_server.url) as stack:
        async with chromium() as browser:
            page = await browser.new_page()
            refused: list[str] = []
            _watch(page, refused)
            await page.goto(stack.app_url + path + "?next=%2Fadmin%23roles")
            await page.wait_for_function(
                "() => document.getElementById('login').href.includes('roles')"
            )
        assert refused == []
