"""Radar benchmark (prints; not a test).

1. Throughput of the landing page and the heartbeat beacon against a bare aiohttp handler
   measured in the same run (the ratio is what matters on a shared machine).
2. A viral radar: a fixed rate of visits (default 1,000/s) to one radar for `--seconds`, then
   every visit row is counted to show none were lost.

Loopback only, bounded concurrency:  python bench/radar.py --seconds 10
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

import aiohttp  # noqa: E402
import jinja2  # noqa: E402
from aiohttp import web  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bot.deps import Deps  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.http import wrap_view  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.signing import Signer  # noqa: E402
from bot.web_keys import DEPS_KEY  # noqa: E402
from storage.db import init_db  # noqa: E402


class CountingQueue:
    def __init__(self) -> None:
        self.count = 0

    async def enqueue(self, name: str, *args: Any, **kwargs: Any) -> bool:
        self.count += 1
        return True


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def hammer(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any,
    seconds: float,
    concurrency: int,
    fresh: bool,
) -> float:
    """Requests per second with `concurrency` workers for `seconds`."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            if fresh:
                session.cookie_jar.clear()
            data = body[done % len(body)] if isinstance(body, list) else body
            async with session.request(method, url, data=data, allow_redirects=False) as resp:
                await resp.read()
                if resp.status < 400:
                    done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / seconds


async def viral(base: str, path: str, rate: int, seconds: float, limit: int) -> dict[str, Any]:
    """Open `rate` visits per second (fresh visitors) with at most `limit` in flight."""
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(limit)
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as s:

        async def one() -> None:
            nonlocal errors
            async with gate:
                start = time.perf_counter()
                try:
                    async with s.get(base + path, allow_redirects=False) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        tasks, begin = [], time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    latencies.sort()
    return {
        "sent": total,
        "errors": errors,
        "elapsed": elapsed,
        "achieved_rate": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def main(args: argparse.Namespace) -> None:
    from handlers.radar import router
    from handlers.radar.common import SHARE_PURPOSE
    from storage.radar import RadarGroup, Share, Visit
    from tests.radar.support import make_radar

    tmp = Path(tempfile.mkdtemp(prefix="radar-bench-"))
    redis_server = EmbeddedRedis(persist=False)
    redis_server.start()
    db_url = args.db or f"sqlite://{tmp}/bench.sqlite3"
    settings = load_settings(
        None,
        environ={},
        overrides={
            "database": {"url": db_url},
            "redis": {"url": redis_server.url},
            "storage": {"upload_dir": str(tmp / "up")},
            "logging": {"level": "WARNING"},
            # All load comes from one address: a limit nobody reaches keeps its cost measured.
            "radar": {"landing_per_minute": 10**9},
        },
    )
    ctx = await init_db(db_url)
    redis = Redis.from_url(redis_server.url)
    queue = CountingQueue()
    deps = Deps(
        settings,
        redis,
        object(),  # type: ignore[arg-type]
        queue,  # type: ignore[arg-type]
        Signer(settings.security.secret),
        Dispatcher([router]),
        jinja2.Environment(),
    )
    try:
        radar = await make_radar(deps)
        assert await RadarGroup.exists()
        share = await Share.create(
            token=deps.signer.token(SHARE_PURPOSE),
            radar=radar,
            userid="alice",
            external_userid="",
            chat_id="wr1",
            created_at=deps.now(),
        )
        app = web.Application()
        app[DEPS_KEY] = deps
        for route in deps.dispatcher.http_routes:
            app.router.add_route(route.method, route.path, wrap_view(route))
        runner, base = await serve(app)
        page = "x" * 1800

        async def bare(request: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        bare_app = web.Application()
        bare_app.router.add_get("/", bare)
        bare_app.router.add_post("/", bare)
        bare_runner, bare_base = await serve(bare_app)
        await report_throughput(deps, base, bare_base, share.token, args)
        rows_before = await Visit.all().count()
        result = await viral(base, f"/r/{share.token}", args.rate, args.seconds, args.limit)
        rows = await Visit.all().count() - rows_before
        print(
            f"viral: {result['sent']} visits at {args.rate}/s target, "
            f"achieved {result['achieved_rate']:.0f}/s over {result['elapsed']:.1f}s, "
            f"errors {result['errors']}, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
        )
        ok = result["sent"] - result["errors"]
        print(
            f"visit rows recorded: {rows} of {ok} successful opens "
            f"({'no loss' if rows == ok else 'MISMATCH'}); follow-up jobs enqueued: {queue.count}"
        )
        await runner.cleanup()
        await bare_runner.cleanup()
    finally:
        await redis.aclose()
        await ctx.close_connections()
        redis_server.stop()


async def report_throughput(
    deps: Deps, base: str, bare: str, token: str, args: argparse.Namespace
) -> None:
    from handlers.radar.visits import beat_key

    started = int(deps.now().timestamp())
    beat = [
        f'{{"k":"{beat_key(deps, token, f"v{n}", started)}","t":3,"p":10,"pg":1}}'
        for n in range(5000)
    ]
    secs, conc = args.burst, args.concurrency
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        bare_get = await hammer(s, "GET", bare + "/", None, secs, conc, False)
        landing = await hammer(s, "GET", f"{base}/r/{token}", None, secs, conc, False)
        bare_post = await hammer(s, "POST", bare + "/", beat[0], secs, conc, False)
        beats = await hammer(s, "POST", f"{base}/r/{token}/beat", beat, secs, conc, False)
    print(
        f"landing: {landing:.0f} req/s vs bare {bare_get:.0f} req/s (ratio {landing / bare_get:.2f})"
    )
    print(
        f"beacon:  {beats:.0f} req/s vs bare {bare_post:.0f} req/s (ratio {beats / bare_post:.2f}); "
        "(distinct visits, so the per-visitor limit is not what is measured)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the viral run")
    parser.add_argument("--rate", type=int, default=1000, help="visits per second")
    parser.add_argument("--limit", type=int, default=200, help="requests in flight at most")
    parser.add_argument("--burst", type=float, default=3.0, help="seconds per throughput test")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite)")
    asyncio.run(main(parser.parse_args()))
