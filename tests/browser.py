"""Playwright with Debian's Chromium (never a downloaded browser); skipped where none exists.

The app's Content-Security-Policy forbids eval: give `wait_for_function` a function
("() => ...") rather than a bare expression, which Playwright would evaluate as a string."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.auth import SESSION_COOKIE
from bot.deps import Deps
from tests.support import session_value

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
    ),
]
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in_page(
    browser: Browser, deps: Deps, base_url: str, userid: str, **options: Any
) -> Page:
    """A page whose context carries a valid session for `userid` (skips the login flow);
    `options` go to the browser context (viewport, timezone_id ...)."""
    context = await browser.new_context(**options)
    value = await session_value(deps, userid)
    cookie: Any = {"name": SESSION_COOKIE, "value": value, "url": base_url}
    await context.add_cookies([cookie])
    page = await context.new_page()
    page.set_default_timeout(5000)
    return page
