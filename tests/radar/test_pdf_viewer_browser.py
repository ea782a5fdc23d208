"""The PDF viewer on a phone: the first page shows at once as the image drawn at upload, the
viewer loads after it and draws the others only when the reader scrolls near them; the
viewer's scripts come gzipped."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers import facts as facts_pkg
from handlers.radar import router as radar_router
from handlers.radar import uploads
from handlers.radar.common import SHARE_PURPOSE, clear_caches
from handlers.radar.demo import demo_pdf
from handlers.system import router as system_router
from storage.radar import Radar, RadarGroup, RadarType, Share
from tests.browser import chromium, needs_chromium
from tests.harness import Stack, running_stack

pytestmark = needs_chromium
PHONE = {"viewport": {"width": 390, "height": 760}, "device_scale_factor": 2, "is_mobile": True}


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    clear_caches()
    corp = Corp()
    corp.add_department(2, "销售部")
    corp.add_staff("alice", "艾丽丝", [2])
    corp.add_customer("张三", "wmPdfReader01")
    corp.add_follow("alice", "wmPdfReader01", "", 1, int(time.time()) - 86400)
    routers = [system_router, facts_pkg.router, radar_router]
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp, routers=routers) as s:
        yield s


async def pdf_share(stack: Stack, pages: int = 12) -> Share:
    entry = uploads.store_pdf(stack.deps.settings, demo_pdf(pages), "PDF")  # as uploaded
    assert entry["pages"] == pages
    group = await RadarGroup.create(name="资料")
    radar = await Radar.create(
        group=group, name="长文档", type=RadarType.PDF, title=f"{pages}页手册", files=[entry],
    )  # fmt: skip
    return await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid="", chat_id="wr_chat", created_at=stack.deps.now(),
    )  # fmt: skip


async def test_pages_drawn_lazily_and_viewer_gzipped(stack: Stack) -> None:
    share = await pdf_share(stack)
    encodings: dict[str, str] = {}
    async with chromium() as browser:
        page: Any = await (await browser.new_context(**PHONE)).new_page()
        page.set_default_timeout(8000)

        async def seen(response: Any) -> None:
            if "/static/vendor/pdfjs/" in response.url:
                encodings[response.url.rsplit("/", 1)[1]] = (await response.all_headers()).get(
                    "content-encoding", ""
                )

        page.on("response", seen)
        await page.goto(f"{stack.app_url}/r/{share.token}")
        await page.wait_for_selector("#pdf-status:has-text('共 12 页')")
        assert await page.evaluate("() => document.getElementById('pdf-first').naturalWidth") > 0
        await page.wait_for_selector("canvas[data-page='2'][data-rendered]")
        assert await page.locator("canvas[data-page]").count() == 11  # page 1 is the image
        assert await page.locator("canvas[data-page='12'][data-rendered]").count() == 0
        await page.locator("canvas[data-page='12']").scroll_into_view_if_needed()
        await page.wait_for_selector("canvas[data-page='12'][data-rendered]")
    assert encodings == {"pdf.min.mjs": "gzip", "pdf.worker.min.mjs": "gzip"}


async def test_worker_download_does_not_wait_for_the_library(stack: Stack) -> None:
    """The worker (the viewer's biggest file) is requested while pdf.min.mjs is still on its
    way: held back here until the worker's request shows up (or for a while, if it never
    does), the library must not be what starts the worker's download."""
    share = await pdf_share(stack)
    worker_requested = asyncio.Event()
    before_library: list[bool] = []
    async with chromium() as browser:
        context = await browser.new_context(**PHONE)
        context.on(
            "request",
            lambda r: worker_requested.set() if r.url.endswith("pdf.worker.min.mjs") else None,
        )

        async def hold(route: Any) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker_requested.wait(), 10)
            before_library.append(worker_requested.is_set())
            await route.continue_()

        await context.route("**/pdf.min.mjs", hold)
        page: Any = await context.new_page()
        page.set_default_timeout(20000)
        await page.goto(f"{stack.app_url}/r/{share.token}")
        await page.wait_for_selector("canvas[data-page='2'][data-rendered]")
        assert before_library and all(before_library)


async def test_a_large_pdf_is_read_by_the_ranges_its_pages_need(stack: Stack) -> None:
    """An 80-page PDF (750 KB) on a slow line: the file's first request is dropped once its
    headers show range support, and the first page is drawn from byte ranges; the whole file
    is not downloaded beside them (which took the first page 3.2 s at 4 Mbps)."""
    share = await pdf_share(stack, pages=80)
    radar = await Radar.get(id=share.radar_id)  # type: ignore[attr-defined]
    size = int(radar.files[0]["size"])
    whole_done, ranged = asyncio.Event(), asyncio.Event()
    whole: list[str] = []  # how the request for the whole file ended
    ranges: list[int] = []  # bodies of the 206 answers, in bytes

    async def finished(request: Any) -> None:
        if not request.url.endswith(".pdf"):
            return
        response = await request.response()
        body = (await request.sizes())["responseBodySize"]
        if response.status == 206:
            ranges.append(body)
            ranged.set()
        else:
            whole.append(f"finished with {body} bytes")
            whole_done.set()

    def failed(request: Any) -> None:
        if request.url.endswith(".pdf") and "range" not in request.headers:
            whole.append("dropped")
            whole_done.set()

    async with chromium() as browser:
        context = await browser.new_context(**PHONE)
        context.on("requestfinished", finished)
        context.on("requestfailed", failed)
        page: Any = await context.new_page()
        page.set_default_timeout(30000)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        conditions = {"offline": False, "latency": 20, "downloadThroughput": 500_000}
        await cdp.send("Network.emulateNetworkConditions", conditions | {"uploadThroughput": -1})
        await page.goto(f"{stack.app_url}/r/{share.token}")
        await page.wait_for_selector("canvas[data-page='2'][data-rendered]")
        await asyncio.wait_for(asyncio.gather(whole_done.wait(), ranged.wait()), 30)
        assert whole == ["dropped"]
        assert ranges and sum(ranges) < size / 2
        assert await page.locator("canvas[data-page]").count() == 79


async def test_viewer_loads_after_the_first_page_image(stack: Stack) -> None:
    """On a slow line the first page's image is on screen before any of the viewer's
    scripts is requested (they would share the bandwidth); without the image (a PDF it
    could not be drawn from) the viewer draws page 1 itself."""
    share = await pdf_share(stack)
    order: list[str] = []
    async with chromium() as browser:
        context = await browser.new_context(**PHONE)

        def requested(request: Any) -> None:
            if "/static/vendor/pdfjs/" in request.url or request.url.endswith("-p1.jpg"):
                order.append(request.url.rsplit("/", 1)[1])

        context.on("request", requested)
        page: Any = await context.new_page()
        page.set_default_timeout(20000)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        conditions = {"offline": False, "latency": 40, "downloadThroughput": 500_000}
        await cdp.send("Network.emulateNetworkConditions", conditions | {"uploadThroughput": -1})
        await page.goto(f"{stack.app_url}/r/{share.token}")
        await page.wait_for_function(
            "() => performance.getEntriesByName('pdf-viewer-ready').length > 0"
        )
        first = await page.evaluate(
            "() => performance.getEntriesByName('pdf-first-page')[0].startTime"
        )
        requests = await page.evaluate(
            "() => performance.getEntriesByType('resource').map(e => [e.name, e.fetchStart])"
        )
        viewer = [t for name, t in requests if "/static/vendor/pdfjs/" in name]
        assert viewer and min(viewer) >= first
        assert order[0].endswith("-p1.jpg") and len(order) == 3
        await context.route("**/*-p1.jpg", lambda route: route.fulfill(status=404))
        page = await context.new_page()
        await page.goto(f"{stack.app_url}/r/{share.token}")
        await page.wait_for_selector("canvas[data-page='1'][data-rendered]")
        assert await page.locator("#pdf-first").count() == 0
