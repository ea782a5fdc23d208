"""Leaderboard benchmark: N participants, M credited facts in SQLite (temp dir) + embedded
Redis. Prints rank lookup, ranking page and full recomputation as ratios to a plain
SELECT COUNT(*) over the facts measured in the same run.

    python -m bench.leaderboard [participants] [facts]
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from bot.embedded_redis import EmbeddedRedis
from handlers.leaderboard import counting, sql
from storage.db import init_db
from storage.leaderboard import Activity

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def bulk_insert(path: Path, activity_id: int, people: int, facts: int) -> None:
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO lb_participant (activity_id, userid, picked, via_dept) VALUES (?,?,1,0)",
        ((activity_id, f"u{i}") for i in range(people)),
    )
    rows = (
        (
            f"k{i}",
            f"u{(i * 7919) % people}",
            f"c{i}",
            "add",
            str(T0 + timedelta(seconds=i % 600000)),
        )
        for i in range(facts)
    )
    db.executemany(
        "INSERT INTO follow_event (key, userid, external_userid, kind, at, add_way, state,"
        " end_reason, source) VALUES (?,?,?,?,?,0,'','','callback')",
        rows,
    )
    db.commit()
    db.close()


async def timed(label: str, fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        await fn()
    return (time.perf_counter() - start) / repeat


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
        sign_in(client, deps, "boss")
        url = f"/api/leaderboard/activities/{activity.id}/ranking"

        async def get() -> None:
            async with client.get(url) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

        return await timed("api", get, 50)


async def main(people: int, facts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        ctx = await init_db(f"sqlite://{path}")
        activity = await Activity.create(
            name="bench", start_at=T0, end_at=T0 + timedelta(days=30), top_n=10
        )
        bulk_insert(path, activity.id, people, facts)
        server = EmbeddedRedis(persist=False)
        server.start()
        redis = Redis.from_url(server.url)
        try:
            base = await timed("count", lambda: sql.fetch("SELECT COUNT(*) FROM follow_event", []))
            full = await timed("recompute", lambda: counting.recompute(activity))
            build = await timed("rebuild", lambda: counting.rebuild(redis, activity))
            rank = await timed("rank", lambda: counting.live_rank(redis, activity, "u42"), 200)
            page = await timed("page", lambda: counting.live_page(redis, activity, 0, 50), 200)
            one = await timed("recount", lambda: counting.count_for(activity, "u42"), 20)
            api = await api_time(redis, activity)
        finally:
            await redis.aclose()
            server.stop()
            await ctx.close_connections()
    print(f"participants={people} facts={facts}")  # noqa: T201
    print(f"baseline SELECT COUNT(*): {base * 1000:.1f} ms")  # noqa: T201
    for label, value in (
        ("full recomputation", full),
        ("zset rebuild", build),
        ("rank lookup", rank),
        ("ranking page (50)", page),
        ("recount one participant", one),
        ("ranking API, GET …/ranking over HTTP", api),
    ):
        print(f"{label}: {value * 1000:.2f} ms = {value / base:.3f} x baseline")  # noqa: T201


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args or [10_000, 1_000_000])))
