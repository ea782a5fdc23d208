"""PDF radar on a phone (prints; not a test): time until the first page is drawn in Chromium.

The app runs with a seeded 12-page PDF radar; Debian's Chromium opens its landing page with a
phone viewport, a cold cache and CDP network throttling (4 Mbps / 40 ms, then 3G 1.6 Mbps /
150 ms). The first page counts as shown when the page's `pdf-first-page` performance mark
fires (after the first page's image drawn at upload is painted, or page 1 on the viewer's
canvas without it); "viewer ready" is the `pdf-viewer-ready` mark, when the viewer has the
document and draws the other pages as the reader scrolls. The baseline, measured in the same run and the
same way, is a bare static HTML page of the landing page's size: the ratio is the price of
the viewer over the network's floor. Bytes are those on the wire (compressed).

    python -m bench.pdf_phone [--runs 3] [--pages 12]
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from bench.procs import free_port  # noqa: E402
from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.sandbox.corp import Corp  # noqa: E402
from handlers import facts as facts_pkg  # noqa: E402
from handlers.radar import router as radar_router  # noqa: E402
from handlers.radar import uploads  # noqa: E402
from handlers.radar.common import SHARE_PURPOSE  # noqa: E402
from handlers.radar.demo import demo_pdf  # noqa: E402
from handlers.system import router as system_router  # noqa: E402
from storage.radar import Radar, RadarGroup, RadarType, Share  # noqa: E402
from tests import dbtemplate  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.harness import Stack, running_stack  # noqa: E402

PHONE = {"viewport": {"width": 390, "height": 760}, "device_scale_factor": 2, "is_mobile": True}
# CDP takes bytes per second; 4 Mbps ≈ 500,000 B/s.
PROFILES = {"4 Mbps / 40 ms": (500_000, 40), "3G 1.6 Mbps / 150 ms": (200_000, 150)}
SHOWN = "() => performance.getEntriesByName(%r).length > 0"
READY = "pdf-viewer-ready"  # the viewer has the document: the other pages can be drawn


async def seed(stack: Stack, pages: int) -> str:
    pdf = demo_pdf(pages)
    entry = uploads.store_pdf(stack.deps.settings, pdf, "PDF")  # as an admin's upload is
    group = await RadarGroup.create(name="资料")
    radar = await Radar.create(
        group=group, name="手册", type=RadarType.PDF, title="产品手册", files=[entry],
    )  # fmt: skip
    share = await Share.create(
        token=stack.deps.signer.token(SHARE_PURPOSE), radar=radar, userid="alice",
        external_userid="", chat_id="wr_bench", created_at=stack.deps.now(),
    )  # fmt: skip
    print(f"seeded a {pages}-page PDF of {len(pdf):,} bytes ({entry['size']:,} as stored)")
    return share.token


async def open_once(browser: Any, url: str, profile: tuple[int, int], mark: str | None) -> Any:
    """One cold open (fresh context): (ms until shown, bytes on the wire, ms until the viewer
    is ready)."""
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    page.set_default_timeout(60_000)
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    # Counted per request by Playwright, which also sees the worker's own fetches.
    wire = [0]

    async def count(request: Any) -> None:
        sizes = await request.sizes()
        body = sizes["responseBodySize"]
        if body <= 0:  # a module worker's script comes without sizes: its gzipped length
            response = await request.response()
            body = int((await response.all_headers()).get("content-length", 0))
        wire[0] += sizes["responseHeadersSize"] + body

    context.on("requestfinished", count)
    down, latency = profile
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": latency,
            "downloadThroughput": down,
            "uploadThroughput": down,
        },
    )
    await page.goto(url, wait_until="commit")
    ready = None
    if mark:
        await page.wait_for_function(SHOWN % mark)
        ms = await page.evaluate(f"() => performance.getEntriesByName({mark!r})[0].startTime")
        # the code before the first-page image has no such mark (its first page is the viewer's)
        if await page.evaluate("() => !document.getElementById('pdf-first')"):
            ready = ms
        else:
            await page.wait_for_function(SHOWN % READY)
            ready = await page.evaluate(
                f"() => performance.getEntriesByName({READY!r})[0].startTime"
            )
    else:
        await page.wait_for_load_state("load")
        ms = await page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    await context.close()
    return ms, wire[0], ready


async def bare_site(size: int) -> tuple[web.AppRunner, str]:
    html = '<!doctype html><meta name="viewport" content="width=device-width">' + "x" * size
    app = web.Application()
    app.router.add_get("/", lambda _: web.Response(text=html, content_type="text/html"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/"


def line(label: str, down: int, pdf: list[Any], bare: list[Any]) -> str:
    p, b = statistics.median(r[0] for r in pdf), statistics.median(r[0] for r in bare)
    ready = statistics.median(r[2] for r in pdf)
    runs = " / ".join(f"{r[0]:,.0f}" for r in pdf)
    floor = pdf[0][1] / down * 1000  # the bytes alone at this bandwidth
    return (
        f"{label:22} first page {p:7,.0f} ms (runs {runs}) {pdf[0][1]:>10,} B "
        f"(bytes alone {floor:,.0f} ms), viewer ready {ready:,.0f} ms | "
        f"bare page {b:5,.0f} ms {bare[0][1]:>7,} B | ratio {p / b:5.1f}x"
    )


async def main(tmp: Path, db_url: str, runs: int, pages: int) -> None:
    redis_server = EmbeddedRedis(persist=False)
    redis_server.start()
    corp = Corp()
    corp.add_staff("alice", "艾丽丝", [1])
    routers = [system_router, facts_pkg.router, radar_router]
    try:
        async with running_stack(tmp, db_url, redis_server.url, corp=corp, routers=routers) as s:
            url = f"{s.app_url}/r/{await seed(s, pages)}"
            async with s.session.get(url) as r:
                landing = len(await r.read())
            runner, bare_url = await bare_site(landing)
            async with chromium() as browser:
                for label, profile in PROFILES.items():
                    pdf, bare = [], []
                    for _ in range(runs):  # interleaved so both see the same machine load
                        pdf.append(await open_once(browser, url, profile, "pdf-first-page"))
                        bare.append(await open_once(browser, bare_url, profile, None))
                    print(line(label, profile[0], pdf, bare), flush=True)
            await runner.cleanup()
    finally:
        redis_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="pdf-bench-"))
    # Migrated outside the benchmark's event loop (the template runs one of its own).
    db_url = dbtemplate.sqlite_copy(dbtemplate.sqlite_template(tmp), tmp / "bench.sqlite3")
    asyncio.run(main(tmp, db_url, args.runs, args.pages))
    print(f"done in {time.monotonic() - started:.0f} s")
