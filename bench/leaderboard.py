"""Leaderboard benchmark: N participants in 20 teams, M credited facts in SQLite (temp dir) +
embedded Redis; every customer with its first add (as recording an add keeps it). Prints rank lookup, ranking page, the sidebar's ranking API (with the team
ranking), full recomputation with and without 去重, and the console data pages (按成员,
按日期, a 按客户 page, the 按客户 Excel streamed) as ratios to a plain SELECT COUNT(*) over the
facts measured in the same run. The heavy calls run three times (after one unmeasured warm-up
recomputation, so the first is not the one that reads the file into the page cache): the
median wall time, its CPU time (the process's, report threads included) and the peak resident
memory above what the process held before the call.

    python -m bench.leaderboard [participants] [facts]
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bot.embedded_redis import EmbeddedRedis
from handlers.leaderboard import counting, report, report_customers, sql
from storage.db import init_db
from storage.leaderboard import Activity

T0 = datetime(2024, 6, 1, tzinfo=UTC)
TEAMS = 20


def bulk_insert(path: Path, activity_id: int, people: int, facts: int) -> None:
    """Facts spread over the participants; one customer in five was added by someone else
    first (so 去重 has work), one add in ten ended by the customer."""
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO lb_team (activity_id, name, members) VALUES (?,?,'[]')",
        ((activity_id, f"team{t}") for t in range(TEAMS)),
    )
    first_team = db.execute("SELECT MIN(id) FROM lb_team").fetchone()[0]
    db.executemany(
        "INSERT INTO lb_participant (activity_id, userid, picked, via_dept, team_id)"
        " VALUES (?,?,1,0,?)",
        ((activity_id, f"u{i}", first_team + i % TEAMS) for i in range(people)),
    )
    db.executemany(
        "INSERT INTO staff (userid, name, departments, main_department, avatar, status,"
        " updated_at) VALUES (?,?,'[]',0,'',1,?)",
        ((f"u{i}", f"员工{i}", str(T0)) for i in range(people)),
    )

    def rows() -> Any:
        for i in range(facts):
            at = str(T0 + timedelta(seconds=i % 600000))
            ext = f"c{i}"
            yield (f"k{i}", f"u{(i * 7919) % people}", ext, "add", at, "")
            if i % 5 == 0:
                yield (f"o{i}", "outsider", ext, "add", str(T0 - timedelta(days=1)), "")
            if i % 10 == 0:
                yield (f"e{i}", f"u{(i * 7919) % people}", ext, "end", at, "deleted_by_customer")

    db.executemany(
        "INSERT INTO follow_event (key, userid, external_userid, kind, at, add_way, state,"
        " end_reason, source) VALUES (?,?,?,?,?,0,'',?,'callback')",
        rows(),
    )
    # Every customer with its first add, as recording an add keeps it.
    db.execute(
        "INSERT INTO customer (external_userid, name, avatar, type, gender, unionid, corp_name,"
        " first_added_at, first_added_by, updated_at)"
        " SELECT external_userid, '', '', 1, 0, '', '', at, userid, at FROM ("
        "  SELECT external_userid, userid, at, ROW_NUMBER() OVER"
        "  (PARTITION BY external_userid ORDER BY at, id) AS n FROM follow_event WHERE kind = 'add'"
        " ) WHERE n = 1"
    )
    db.commit()
    db.close()


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        await fn()
    return (time.perf_counter() - start) / repeat


def _status_kb(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(found.group(1)) if found else 0


class Heavy:
    """Median wall time of three calls, with the CPU time and peak memory growth of that one:
    the process's own memory (anonymous: Python objects, SQLite's caches), sampled every 5 ms,
    apart from the database file's pages that report connections map (the shared file cache)."""

    def __init__(self, wall: float, cpu: float, own_mb: float, mapped_mb: float) -> None:
        self.wall, self.cpu, self.own_mb, self.mapped_mb = wall, cpu, own_mb, mapped_mb


class _Peak(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.anon = self.file = 0

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.anon = max(self.anon, _status_kb("RssAnon"))
            self.file = max(self.file, _status_kb("RssFile"))


async def heavy(fn: Callable[[], Awaitable[Any]], runs: int = 3) -> Heavy:
    measured = []
    for _ in range(runs):
        anon, file = _status_kb("RssAnon"), _status_kb("RssFile")
        peak = _Peak()
        peak.start()
        cpu, start = time.process_time(), time.perf_counter()
        await fn()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak.stop.set()
        peak.join()
        measured.append(Heavy(wall, cpu, (peak.anon - anon) / 1024, (peak.file - file) / 1024))
    measured.sort(key=lambda m: m.wall)
    return measured[len(measured) // 2]


async def api_time(redis: Redis, activity: Activity) -> float:
    """The sidebar page's call, through the real view, auth and JSON, on a loopback server."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.settings import load_settings
    from handlers.leaderboard import router
    from tests.auth.support import build_app, sign_in
    from tests.support import fake_deps

    settings = load_settings(None, environ={}, overrides={"security": {"super_admins": ["boss"]}})
    deps = fake_deps(settings, redis, [router], wecom=None)
    async with TestClient(TestServer(build_app(deps))) as client:
        await sign_in(client, deps, "boss")
        url = f"/api/leaderboard/activities/{activity.id}/ranking"

        async def get() -> None:
            async with client.get(url) as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.json()
                assert len(body["teams"]) == TEAMS

        await get()  # warm the caches
        return await timed(get, 50)


async def export_rows(activity: Activity, limit: int) -> int:
    """The 按客户 Excel's row source (keyset chunks from SQL) for `limit` rows."""
    count = 0
    chunks = report_customers.stream(activity, "")
    try:
        async for chunk in chunks:
            count += len(chunk)
            if count >= limit:
                break
    finally:
        await chunks.aclose()  # its report connection, before the database is closed
    return count


async def measure(path: Path, people: int, facts: int) -> list[tuple[str, float | Heavy]]:
    activity = await Activity.create(
        name="bench", start_at=T0, end_at=T0 + timedelta(days=30), top_n=10
    )
    bulk_insert(path, activity.id, people, facts)
    server = EmbeddedRedis(persist=False)
    server.start()
    redis = Redis.from_url(server.url)
    tz = timedelta(hours=8)
    try:
        await counting.recompute(activity)  # warm-up: the file into the page cache
        base = await timed(lambda: sql.fetch("SELECT COUNT(*) FROM follow_event", []), 5)
        results: list[tuple[str, float | Heavy]] = [("baseline SELECT COUNT(*)", base)]
        results.append(("full recomputation", await heavy(lambda: counting.recompute(activity))))
        activity.dedup = True
        results.append(
            ("full recomputation with 去重", await heavy(lambda: counting.recompute(activity)))
        )
        results.append(
            ("Redis ranking rebuild", await heavy(lambda: counting.rebuild(redis, activity)))
        )
        results += [
            ("rank lookup", await timed(lambda: counting.live_rank(redis, activity, "u42"), 200)),
            (
                "ranking page (50)",
                await timed(lambda: counting.live_page(redis, activity, 0, 50), 200),
            ),
            (
                "recount one participant",
                await timed(lambda: counting.count_for(activity, "u42"), 20),
            ),
            ("ranking API with 20 teams, GET …/ranking", await api_time(redis, activity)),
            ("按成员 table (去重)", await heavy(lambda: report.member_rows(activity))),
            ("按日期 table (去重)", await heavy(lambda: report.date_rows(activity, _zone(tz)))),
            (
                "按客户 page 1 (20 rows, with total)",
                await heavy(lambda: report_customers.page(activity, "", 1, 20)),
            ),
            (
                "按客户 page 2,000",
                await heavy(lambda: report_customers.page(activity, "", 2000, 20)),
            ),
            (
                "按客户 Excel rows, first 100,000",
                await heavy(lambda: export_rows(activity, 100_000), runs=1),
            ),
        ]
    finally:
        await redis.aclose()
        server.stop()
    return results


def _zone(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


async def main(people: int, facts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        ctx = await init_db(f"sqlite://{path}")
        try:
            results = await measure(path, people, facts)
        finally:
            await ctx.close_connections()
    base = results[0][1]
    assert isinstance(base, float)
    print(f"participants={people} teams={TEAMS} facts={facts}")  # noqa: T201
    print(f"baseline SELECT COUNT(*): {base * 1000:.1f} ms")  # noqa: T201
    for label, value in results[1:]:
        if isinstance(value, Heavy):
            print(  # noqa: T201
                f"{label}: {value.wall * 1000:.0f} ms = {value.wall / base:.1f} x baseline"
                f"  (CPU {value.cpu:.2f} s, peak memory +{value.own_mb:.0f} MB of its own,"
                f" +{value.mapped_mb:.0f} MB of mapped database pages)"
            )
        else:
            print(f"{label}: {value * 1000:.2f} ms = {value / base:.3f} x baseline")  # noqa: T201


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args or [10_000, 1_000_000])))
