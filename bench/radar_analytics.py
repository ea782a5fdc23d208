"""Radar analytics at scale: one radar with N visits (default 1,000,000; a viral spread four
levels deep over 250,000 browsers, a third of them identified customers). Every analytics
call the console and the sidebar make is timed over HTTP (auth, view, SQL, JSON) and printed
as a ratio to a plain `SELECT COUNT(*)` of the radar's visits measured in the same run. While
the Excel export runs, a cheap request is timed too: the export must not stall the process.

    python -m bench.radar_analytics [--visits N] [--db postgres://…]   (default: SQLite in a
    temporary directory; PostgreSQL is what a radar this size runs on)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SCRMBOT_LOG_LEVEL", "WARNING")

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from handlers.radar.people import rebuild  # noqa: E402
from storage.db import init_db  # noqa: E402
from storage.sql import conn, fetch, is_sqlite  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
STAFF = 20


def _generate(visits: int, sqlite: bool) -> str:
    """INSERT … SELECT over a generated series: visitor b = i % V; level 1 + b % 4; a level-n
    browser came through browser b - 1 (level n - 1); every third browser is a customer."""
    browsers = max(visits // 4, 1)
    b = f"(i % {browsers})"
    ts = (
        "strftime('%Y-%m-%d %H:%M:%S', '2025-01-01', '+' || (i % 2592000) || ' seconds') || '+00:00'"
        if sqlite
        else "TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i % 2592000) * INTERVAL '1 second'"
    )
    cat = "||"
    select = f"""SELECT 'v' {cat} i, 1, 1, 'b' {cat} {b},
        CASE WHEN {b} % 3 = 0 THEN 'wm' {cat} {b} ELSE '' END,
        CASE WHEN {b} % 4 = 0 OR {b} = 0 THEN '' ELSE 'b' {cat} ({b} - 1) END,
        1 + {b} % 4, 'u' {cat} ({b} / 4 % {STAFF}),
        CASE WHEN {b} % 4 = 0 THEN 'single' ELSE 'forward' END,
        {ts}, i % 120, i % 101, i % 9, {"1" if sqlite else "TRUE"}"""
    cols = (
        "id, share_id, radar_id, visitor_id, external_userid, parent_visitor_id, level,"
        " root_userid, channel, started_at, duration_seconds, progress, max_page, finalized"
    )
    if sqlite:
        return (
            f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {visits - 1}) "
            f"INSERT INTO radar_visit ({cols}) {select} FROM s"
        )
    return (
        f"INSERT INTO radar_visit ({cols}) {select} FROM generate_series(0, {visits - 1}) AS s(i)"
    )


async def _reset_postgres(url: str) -> None:
    """An empty schema (the benchmark's own database, never a shared one)."""
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        await db.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await db.close()


async def seed(visits: int) -> None:
    from storage.radar import Radar, RadarType, Share

    radar = await Radar.create(name="爆款", type=RadarType.PDF, title="爆款手册", files=[])
    await Share.create(token="t1", radar=radar, userid="u0", created_at=T0)
    assert radar.id == 1
    db = conn()
    await db.execute_script(_generate(visits, is_sqlite(db)))
    if not is_sqlite(db):
        await db.execute_script("VACUUM ANALYZE radar_visit")
    else:
        await db.execute_script("ANALYZE")


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    """Mean wall time and mean process CPU time per call (the server runs in this process)."""
    await fn()  # warm the caches once
    cpu0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(repeat):
        await fn()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return (time.perf_counter() - start) / repeat, cpu / repeat


async def paired(
    fn: Callable[[], Awaitable[Any]], base: Callable[[], Awaitable[Any]], rounds: int
) -> tuple[float, float, float, float]:
    """The call and the baseline interleaved, one of each per round, so both see the same
    load on a shared machine: (median call s, median baseline s, median of the per-round
    ratios, the largest per-round ratio)."""
    await fn()  # warm the caches once
    await base()
    calls, bases = [], []
    for _ in range(rounds):
        bases.append((await timed(base, 1))[0])
        calls.append((await timed(fn, 1))[0])
    ratios = [c / b for c, b in zip(calls, bases, strict=True)]
    return (
        statistics.median(calls),
        statistics.median(bases),
        statistics.median(ratios),
        max(ratios),
    )


async def stall_during(client: TestClient, work: Callable[[], Awaitable[Any]]) -> float:
    """The slowest answer of a cheap request sent every 20 ms while `work` runs."""
    worst, done = 0.0, False

    async def probe() -> None:
        nonlocal worst
        while not done:
            start = time.perf_counter()
            async with client.get("/api/radar/groups") as resp:
                await resp.read()
            worst = max(worst, time.perf_counter() - start)
            await asyncio.sleep(0.02)

    task = asyncio.create_task(probe())
    try:
        await work()
    finally:
        done = True
        await task
    return worst


async def main(args: argparse.Namespace) -> None:
    from handlers.radar import router
    from tests.auth.support import build_app, sign_in
    from tests.support import fake_deps

    tmp = Path(tempfile.mkdtemp(prefix="radar-analytics-"))
    db_url = args.db or f"sqlite://{tmp}/bench.sqlite3"
    if args.db.startswith("postgres") and not args.reuse:
        await _reset_postgres(args.db)
    ctx = await init_db(db_url)
    redis_server = EmbeddedRedis(persist=False)
    redis_server.start()
    redis = Redis.from_url(redis_server.url)
    settings = load_settings(None, environ={}, overrides={"security": {"super_admins": ["boss"]}})
    deps = fake_deps(settings, redis, [router], wecom=None)
    try:
        from storage.radar import Radar

        start = time.perf_counter()
        if not (args.reuse and await Radar.exists()):
            await seed(args.visits)
        took = time.perf_counter() - start
        print(f"{args.visits:,} visits ready in {took:.1f} s ({db_url.split(':')[0]})")
        start = time.perf_counter()
        if args.reuse and await fetch("SELECT 1 FROM radar_person LIMIT 1", []):
            await conn().execute_script("ANALYZE")  # indexes added since the last run
            print("per-person summary kept from the last run")
        else:
            people = await rebuild(1)  # generated rows bypass the visit batch that keeps it
            await conn().execute_script("ANALYZE radar_person")  # as autovacuum would by now
            took = time.perf_counter() - start
            print(f"per-person summary of {people:,} people computed in {took:.1f} s")

        def count() -> Awaitable[Any]:
            return fetch("SELECT COUNT(*) FROM radar_visit WHERE radar_id = ?", [1])

        base, _ = await timed(count, 5)
        print(f"baseline SELECT COUNT(*) of the radar's visits: {base * 1000:.1f} ms")
        timeout = aiohttp.ClientTimeout(total=900)
        async with TestClient(TestServer(build_app(deps)), timeout=timeout) as client:
            await sign_in(client, deps, "boss")

            def get(url: str) -> Callable[[], Awaitable[None]]:
                async def call() -> None:
                    async with client.get(url) as resp:
                        assert resp.status == 200, await resp.text()
                        await resp.read()

                return call

            calls = [
                ("analytics page (stats)", "/api/radar/radars/1/stats"),
                ("live refresh (stats?live=1)", "/api/radar/radars/1/stats?live=1"),
                ("customer table, page 1", "/api/radar/radars/1/customers"),
                ("customer table, one staff member", "/api/radar/radars/1/customers?userid=u3"),
                ("customer table, search by name", "/api/radar/radars/1/customers?q=wm300"),
                ("source path + network of a customer", "/api/radar/radars/1/people/b1"),
                ("console radar list (sends, visits)", "/api/radar/radars"),
            ]

            def report(label: str, found: tuple[float, float, float, float]) -> None:
                wall, b, ratio, worst = found
                print(
                    f"{label}: {wall * 1000:.0f} ms, baseline {b * 1000:.0f} ms "
                    f"-> {ratio:.1f}x (median of {args.rounds} interleaved rounds, worst {worst:.1f}x)",
                    flush=True,
                )

            for label, url in calls:
                report(label, await paired(get(url), count, args.rounds))
            await sign_in(client, deps, "u3")
            report("staff sidebar (mine)", await paired(get("/api/radar/mine"), count, args.rounds))
            if args.no_export:
                return
            await sign_in(client, deps, "boss")
            export = get("/api/radar/radars/1/customers.xlsx")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            start = time.perf_counter()
            worst = await stall_during(client, export)
            wall = time.perf_counter() - start
            print(
                f"Excel export of the customer table ({args.visits // 4:,} people, at most 200,000 rows): "
                f"{wall:.1f} s = {wall / base:.0f}x baseline; slowest other request meanwhile "
                f"{worst * 1000:.0f} ms; peak resident set {peak} MB before it, "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB after"
            )
    finally:
        await redis.aclose()
        redis_server.stop()
        await ctx.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument(
        "--db", default="", help="a PostgreSQL URL (its schema is reset) or sqlite:///path"
    )
    parser.add_argument("--no-export", action="store_true", help="skip the Excel export")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per call")
    parser.add_argument("--reuse", action="store_true", help="keep the visits of the last run")
    parsed = parser.parse_args()
    if parsed.db.startswith("sqlite://") and not parsed.reuse:
        Path(parsed.db.removeprefix("sqlite://")).unlink(missing_ok=True)
    asyncio.run(main(parsed))
