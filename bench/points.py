"""Points benchmark (prints; not a test): sign-ins per second through the customer page's API
against a bare aiohttp handler in the same process and run, and reading the balance of a
customer with 10,000 ledger entries.

1. `--customers` customers in a scoped group, each with a personal link already bound to its
   browser (the visitor cookie is sent with each request). Each round is one local day: every
   customer signs in once (`POST /p/<link>/api/signin`: identity, rate limit, the account row
   lock, the sign-in row, the award entry with its lot and the `PointsChanged` event), with
   `--concurrency` requests in flight; the bare handler answers the same number of POSTs with
   a small JSON body. Rounds alternate A/B; CPU is the process's (server and client share it,
   the same for both).
2. One customer with 10,000 entries (5,000 credits, 5,000 debits): the page's state call and
   the sidebar block's balance (the account projection), against a full recomputation from
   the ledger, each timed over HTTP or in process.

    python -m bench.points [--customers 1000] [--rounds 3] [--concurrency 16] [--db URL]
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
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


class Queue:
    async def enqueue(self, *args: Any, **kwargs: Any) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def seed(deps: Deps, customers: int) -> list[tuple[str, str]]:
    """(link path, cookie) per customer: in g1, with the link bound to its own browser."""
    from bot.visitors import COOKIE, COOKIE_PURPOSE
    from handlers.points.page import LINK_PURPOSE, personal_path
    from storage.facts import Customer, GroupMember
    from storage.points import PointsProgram
    from storage.visitors import LinkBinding

    now = deps.now()
    config = {
        "enabled": True,
        "chat_ids": ["g1"],
        "signin_points": 10,
        "streak_tiers": [{"days": 3, "points": 20}],
        "expiry_mode": "days",
    }
    await PointsProgram.create(id=1, config=config, started_at=now, updated_at=now)
    exts = [f"wm{n:07d}" for n in range(customers)]
    await Customer.bulk_create([Customer(external_userid=e, name=e) for e in exts])
    await GroupMember.bulk_create(
        [GroupMember(chat_id="g1", member_id=e, member_type=2, join_time=now) for e in exts]
    )
    await LinkBinding.bulk_create(
        [
            LinkBinding(
                link=f"{LINK_PURPOSE}:{e}", visitor_id=f"v{e}", external_userid=e, bound_at=now
            )
            for e in exts
        ]
    )
    return [
        (
            personal_path(deps, e) + "/api/signin",
            f"{COOKIE}={deps.signer.dumps(COOKIE_PURPOSE, {'v': f'v{e}'})}",
        )
        for e in exts
    ]


async def load(
    session: aiohttp.ClientSession, base: str, calls: list[tuple[str, str]], concurrency: int
) -> tuple[float, float, int]:
    """(seconds, CPU seconds, failures) for POSTing every call."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(path: str, cookie: str) -> None:
        nonlocal failures
        async with (
            gate,
            session.post(base + path, headers={"X-Points-Page": "1", "Cookie": cookie}) as r,
        ):
            body = await r.read()
            if r.status != 200:
                failures += 1
                if failures == 1:
                    print("first failure:", r.status, body.decode()[:200])

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[one(p, c) for p, c in calls])
    return time.perf_counter() - wall, time.process_time() - cpu, failures


async def heavy_customer(deps: Deps, entries: int) -> str:
    """One customer with `entries` entries: half credits (lots), half debits allocated to them,
    written in bulk with the account projection they imply."""
    from storage.points import (
        PointsAccount,
        PointsAllocation,
        PointsEntry,
        PointsLot,
    )

    ext = "wm_heavy"
    t0 = deps.now() - timedelta(days=300)
    half = entries // 2
    credits = [
        PointsEntry(
            key=f"h:c{n}",
            external_userid=ext,
            kind="earn",
            rule="signin",
            amount=10,
            at=t0 + timedelta(minutes=n),
        )
        for n in range(half)
    ]
    await PointsEntry.bulk_create(credits, batch_size=1000)
    ids = await PointsEntry.filter(external_userid=ext).order_by("id").values_list("id", "at")
    await PointsLot.bulk_create(
        [
            PointsLot(entry_id=i, external_userid=ext, amount=10, remaining=4, earned_at=at)
            for i, at in ids
        ],
        batch_size=1000,
    )
    debits = [
        PointsEntry(
            key=f"h:d{n}",
            external_userid=ext,
            kind="manual",
            rule="manual",
            amount=-6,
            at=t0 + timedelta(minutes=n, seconds=30),
        )
        for n in range(half)
    ]
    await PointsEntry.bulk_create(debits, batch_size=1000)
    debit_ids = (
        await PointsEntry.filter(external_userid=ext, kind="manual")
        .order_by("id")
        .values_list("id", flat=True)
    )
    lot_ids = (
        await PointsLot.filter(external_userid=ext).order_by("id").values_list("id", flat=True)
    )
    await PointsAllocation.bulk_create(
        [
            PointsAllocation(entry_id=d, lot_id=lot, amount=6)
            for d, lot in zip(debit_ids, lot_ids, strict=True)
        ],
        batch_size=1000,
    )
    await PointsAccount.create(external_userid=ext, balance=4 * half, earned=10 * half)
    return ext


async def timed(fn: Any, times: int = 20) -> float:
    """Median milliseconds of `times` calls."""
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return samples[len(samples) // 2]


async def main(args: argparse.Namespace) -> None:
    from bot.lifecycle import feature_lifecycle
    from handlers.points import ledger
    from handlers.points import router as points_router
    from handlers.points.page import personal_path

    tmp = Path(tempfile.mkdtemp(prefix="points-bench-"))
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
            "points": {"actions_per_minute": 10**9},
        },
    )
    ctx = await init_db(db_url)
    redis = Redis.from_url(redis_server.url)
    clock = Clock()
    deps = Deps(
        settings,
        redis,
        object(),
        Queue(),
        Signer(settings.security.secret),  # type: ignore[arg-type]
        Dispatcher([points_router]),
        jinja2.Environment(),
        clock=clock,
    )
    async with feature_lifecycle(deps):
        calls = await seed(deps, args.customers)
        app = web.Application()
        app[DEPS_KEY] = deps
        for route in deps.dispatcher.http_routes:
            app.router.add_route(route.method, route.path, wrap_view(route))

        async def bare(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({"already": False, "streak": 1, "awarded": []})

        app.router.add_post("/bare", bare)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        print(
            f"points bench: {args.customers} customers, {args.concurrency} in flight, "
            f"{'PostgreSQL' if db_url.startswith('postgres') else 'SQLite'}"
        )
        bare_calls = [("/bare", "") for _ in calls]
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=args.concurrency)
        ) as session:
            for n in range(args.rounds):
                clock.now += timedelta(days=1)
                b_wall, b_cpu, _ = await load(session, base, bare_calls, args.concurrency)
                s_wall, s_cpu, failed = await load(session, base, calls, args.concurrency)
                count = len(calls)
                print(
                    f"round {n + 1}: sign-ins {count / s_wall:7.0f}/s "
                    f"({s_cpu / count * 1e6:6.0f} us CPU each, {failed} failed) | bare "
                    f"{count / b_wall:7.0f}/s ({b_cpu / count * 1e6:6.0f} us) | ratio "
                    f"{(count / s_wall) / (count / b_wall):.2f} by throughput, "
                    f"{b_cpu / s_cpu:.2f} by CPU",
                    flush=True,
                )
            ext = await heavy_customer(deps, args.entries)
            from storage.visitors import LinkBinding

            await LinkBinding.create(
                link=f"points.link:{ext}",
                visitor_id="vheavy",
                external_userid=ext,
                bound_at=deps.now(),
            )
            from bot.visitors import COOKIE, COOKIE_PURPOSE

            cookie = f"{COOKIE}={deps.signer.dumps(COOKIE_PURPOSE, {'v': 'vheavy'})}"
            state_url = base + personal_path(deps, ext) + "/api/state"

            async def state() -> None:
                async with session.get(state_url, headers={"Cookie": cookie}) as r:
                    body = await r.json()
                    assert r.status == 200 and body["me"]["balance"] == 4 * (args.entries // 2)

            async def bare_get() -> None:
                async with session.post(base + "/bare") as r:
                    await r.read()

            async def balance() -> None:
                assert (await ledger.account(ext)).balance == 4 * (args.entries // 2)

            async def recompute() -> None:
                again = await ledger.recompute(ext)
                assert again.balance == 4 * (args.entries // 2)

            bare_ms = await timed(bare_get)
            print(
                f"customer with {args.entries} entries: balance (account row) "
                f"{await timed(balance):.2f} ms; the page's state over HTTP "
                f"{await timed(state):.1f} ms (bare request {bare_ms:.1f} ms); full "
                f"recomputation from the ledger {await timed(recompute, 3):.0f} ms"
            )
        await runner.cleanup()
    await redis.aclose()
    await ctx.close_connections()
    redis_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--db", default="")
    asyncio.run(main(parser.parse_args()))
