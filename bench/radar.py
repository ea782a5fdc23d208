"""Radar benchmark (prints; not a test), driven by wrk with the server's CPU read from /proc.

The server runs in its own process: the radar's public routes on the embedded default
(SQLite + embedded Redis) and, in the same process, a bare aiohttp handler answering a page of
the same size — the baseline measured in the same run. For each pair, interleaved:

1. landing page opens (every request a new visitor: wrk keeps no cookies), against bare GET;
2. heartbeat beacons, against bare POST: each round beats for visits of its own, enough of
   them that none passes the per-visit limit (`BEAT_LIMIT` a minute; a real page beats every
   5 s), so every beat is answered 204 rather than counted as a 429;

printing requests/s, server CPU per request and the ratios to bare (the server process's CPU;
the embedded Redis's, a process of its own, beside it). Then a viral run: wrk on
one radar for `--seconds`, and every answered open is checked to have its visit row.

    python -m bench.radar [--seconds 20] [--burst 5] [--connections 32]
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jinja2  # noqa: E402
from aiohttp import web  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bench.loadgen import Run, cycle_bodies, wrk  # noqa: E402
from bot.deps import Deps  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.http import wrap_view  # noqa: E402
from bot.lifecycle import feature_lifecycle, settle_heap  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.signing import Signer  # noqa: E402
from bot.web_keys import DEPS_KEY  # noqa: E402
from storage.db import init_db  # noqa: E402

# Visits beating in one round: at up to ~20,000 beats/s for 8 s each beats 13 times or less,
# under the product's 40 a minute per visit.
BEAT_VISITS = 12_000


class CountingQueue:
    def __init__(self) -> None:
        self.count = 0

    async def enqueue(self, name: str, *args: Any, **kwargs: Any) -> bool:
        self.count += 1
        return True


async def serve_forever(db: str, rounds: int) -> None:
    """The server process: build the radar app and the bare app, print where they listen (one
    JSON line), serve until SIGTERM."""
    from handlers.radar import router

    tmp = Path(tempfile.mkdtemp(prefix="radar-bench-"))
    redis_server = EmbeddedRedis(persist=False)
    redis_server.start()
    db_url = db or f"sqlite://{tmp}/bench.sqlite3"
    settings = load_settings(
        None,
        environ={},
        overrides={
            "database": {"url": db_url},
            "redis": {"url": redis_server.url},
            "storage": {"upload_dir": str(tmp / "up")},
            "logging": {"level": "WARNING"},
            # All load comes from one address without cookies: a limit nobody reaches keeps
            # the limiter's cost in the figures.
            "radar": {"landing_per_minute": 10**9, "new_visitors_per_minute": 10**9},
        },
    )
    ctx = await init_db(db_url)
    redis = Redis.from_url(redis_server.url)
    deps = Deps(
        settings,
        redis,
        object(),  # type: ignore[arg-type]
        CountingQueue(),  # type: ignore[arg-type]
        Signer(settings.security.secret),
        Dispatcher([router]),
        jinja2.Environment(),
    )
    async with feature_lifecycle(deps):
        await _serve(deps, rounds)
    await redis.aclose()
    await ctx.close_connections()
    redis_server.stop()


async def _serve(deps: Deps, rounds: int) -> None:
    from handlers.radar.common import SHARE_PURPOSE
    from handlers.radar.visits import beat_key
    from storage.radar import Share, Visit
    from tests.radar.support import make_radar

    radar = await make_radar(deps)
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
    page = "x" * 1800

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=page, content_type="text/html")

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"visits": await Visit.all().count()})

    bare_app = web.Application()
    bare_app.router.add_route("*", "/", bare)
    bare_app.router.add_get("/count", count)
    runners = []
    ports = []
    for one in (app, bare_app):
        runner = web.AppRunner(one, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    started = int(deps.now().timestamp())
    beats = [
        [
            f'{{"k":"{beat_key(deps, share.token, f"v{r}-{n}", started)}","t":3,"p":10,"pg":1}}'
            for n in range(BEAT_VISITS)
        ]
        for r in range(rounds)
    ]
    settle_heap()  # as `scrmbot serve` does
    info = {"app": ports[0], "bare": ports[1], "token": share.token, "beats": beats}
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def line(name: str, run: Run, bare: Run) -> str:
    return (
        f"{name:<8} {run.rate:7.0f} req/s  {run.cpu_us:6.0f} us CPU/req  p99 {run.p99_ms:6.1f} ms"
        f"  | bare {bare.rate:7.0f} req/s {bare.cpu_us:5.0f} us  "
        f"| ratio {run.rate / bare.rate:.2f} by throughput, {bare.cpu_us / run.cpu_us:.2f} by CPU"
        f"  (+ {run.children_cpu_us:.0f} us in the embedded Redis)"
        + (f"  ({run.errors} errors)" if run.errors else "")
    )


def drive(args: argparse.Namespace) -> None:
    cmd = [sys.executable, "-m", "bench.radar", "--serve", "--db", args.db]
    cmd += ["--rounds", str(args.rounds)]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        assert server.stdout is not None
        info: dict[str, Any] = json.loads(server.stdout.readline())
        app, bare = f"http://127.0.0.1:{info['app']}", f"http://127.0.0.1:{info['bare']}"
        landing_url = f"{app}/r/{info['token']}"
        load = {"seconds": args.burst, "connections": args.connections}
        wrk(landing_url, server.pid, seconds=1, connections=8)  # warm up
        for round_beats in info["beats"]:
            beat_lua = cycle_bodies("POST", round_beats)
            bare_get = wrk(bare + "/", server.pid, **load)
            landing = wrk(landing_url, server.pid, **load)
            print(line("landing", landing, bare_get), flush=True)
            bare_post = wrk(bare + "/", server.pid, lua=beat_lua, **load)
            beacon = wrk(f"{landing_url}/beat", server.pid, lua=beat_lua, **load)
            print(line("beacon", beacon, bare_post), flush=True)
        before = _visits(bare)
        viral = wrk(landing_url, server.pid, seconds=args.seconds, connections=args.connections)
        rows = _visits(bare) - before
        answered = viral.requests - viral.errors
        print(
            f"viral: {answered} opens answered in {viral.seconds:.0f} s ({viral.rate:.0f}/s, "
            f"p99 {viral.p99_ms:.0f} ms, {viral.errors} errors); visit rows {rows} "
            f"({'none lost' if rows >= answered else 'LOST ' + str(answered - rows)})"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _visits(bare: str) -> int:
    with urllib.request.urlopen(bare + "/count") as resp:  # noqa: S310 (loopback)
        return int(json.load(resp)["visits"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the viral run")
    parser.add_argument("--burst", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved A/B rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        asyncio.run(serve_forever(parsed.db, parsed.rounds))
    else:
        drive(parsed)
