"""How fast one worker process drains the events the web process stored: a real
`scrmbot worker` with every feature's handlers, against the sandbox WeCom (which knows every
customer the benchmark's events name), timed from the first row done to the last row done
and the last domain event the rows published delivered (the features' subscribers ran)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bench.procs import free_port, proc_cpu_seconds
from bot.crypto import WeComCrypto
from bot.sandbox.corp import Corp
from bot.sandbox.models import FollowRelation
from bot.sandbox.server import create_sandbox_app
from bot.settings import load_settings
from storage.core import DomainEventRow, EventStatus, InboxEvent, InboxStatus
from storage.db import init_db

STAFF = 50
UNPACED_RATE = 10_000_000  # WeCom reads a minute for the drained worker (the sandbox has no limit)


def reset_database(url: str) -> None:
    async def reset() -> None:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


class BenchCorp(Corp):
    """The sandbox corp with its follow relations indexed by customer: the plain sandbox
    scans every relation for each `externalcontact/get`, which at tens of thousands of
    customers would time the sandbox instead of the worker."""

    def index(self) -> None:
        self._by_customer: dict[str, list[tuple[str, str]]] = {}
        for userid, ext in self.follows:
            self._by_customer.setdefault(ext, []).append((userid, ext))

    def follows_of_customer(self, external_userid: str) -> list[FollowRelation]:
        keys = self._by_customer.get(external_userid, [])
        return [self.follows[k] for k in keys if k in self.follows]


def sandbox_corp(events: int) -> Corp:
    corp = BenchCorp()
    for s in range(STAFF):
        corp.add_staff(f"staff{s}", f"员工{s}")
    for n in range(events):
        ext = f"wm{n:08d}"
        corp.add_customer(f"客户{n}", ext)
        corp.add_follow(f"staff{n % STAFF}", ext, state="bench")
    corp.index()
    return corp


async def _start_sandbox(events: int) -> tuple[web.AppRunner, str]:
    wc = load_settings().wecom
    app = create_sandbox_app(
        sandbox_corp(events),
        corp_id=wc.corp_id,
        secrets={"app": wc.secret, "contact": wc.contact_secret},
        agent_id=wc.agent_id,
        crypto=WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def _drain(env: dict[str, str], customers: int) -> dict[str, Any]:
    ctx = await init_db(env["SCRMBOT_DATABASE__URL"], create_schema=False)
    runner, sandbox = await _start_sandbox(customers)
    stored = await InboxEvent.all().count()
    # The worker's own capacity: WeCom's per-API rate (our bucket: 5,000 a minute after a burst
    # of 2,500) would pace the customer reads of a longer burst whatever the worker does.
    worker_env = {
        **env,
        "SCRMBOT_WECOM__API_BASE": sandbox,
        "SCRMBOT_WECOM__RATE_PER_MINUTE": str(UNPACED_RATE),
    }
    # BENCH_DRAIN_PROFILE=<file>: the worker runs under cProfile, its stats written there
    profile = os.environ.get("BENCH_DRAIN_PROFILE")
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    started = datetime.now(UTC)
    proc = subprocess.Popen(  # noqa: ASYNC220 — the worker runs for the whole drain
        [sys.executable, *prefix, "-m", "bot.cli", "worker"], env=worker_env
    )
    try:
        deadline = time.monotonic() + 900
        while await InboxEvent.filter(status=InboxStatus.DONE).count() < stored:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker stopped before draining")
            await asyncio.sleep(0.5)
        open_events = DomainEventRow.filter(status__in=[EventStatus.PENDING, EventStatus.FAILED])
        while await open_events.count():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker stopped before delivering the domain events")
            await asyncio.sleep(0.5)
        cpu = proc_cpu_seconds(proc.pid)
        done = InboxEvent.filter(status=InboxStatus.DONE)
        first = await done.order_by("done_at").first()
        last_row = await done.order_by("-done_at").first()
        delivered = DomainEventRow.filter(status=EventStatus.DONE, done_at__not_isnull=True)
        last_event = await delivered.order_by("-done_at").first()
        events = await DomainEventRow.all().count()
        failed = await InboxEvent.exclude(status=InboxStatus.DONE).count()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 60)
        await runner.cleanup()
        await ctx.close_connections()
    assert first is not None and last_row is not None and first.done_at and last_row.done_at
    last = last_row.done_at
    if last_event is not None and last_event.done_at:
        last = max(last, last_event.done_at)
    seconds = max((last - first.done_at).total_seconds(), 1e-3)
    rows_seconds = max((last_row.done_at - first.done_at).total_seconds(), 1e-3)
    return {
        "stored": stored,
        "events": events,
        "rows_rate": stored / rows_seconds,
        "rate": stored / seconds,
        "cpu_ms": cpu / stored * 1000,
        # The worker's CPU over its wall time from its start to the last event delivered.
        "busy": cpu / max((last - started).total_seconds(), 1e-3),
        "left": failed,
    }


def drain_report(
    env: dict[str, str],
    sent: int,
    answered: int,
    acked: float,
    acked_once: float,
    customers: int = 0,
) -> None:
    """`sent`/`answered`: distinct events sent / answered 200 (wrk stops with requests in
    flight); `acked`: the web process's best callbacks/s (every event delivered 3 times);
    `acked_once`: its events/s when each is delivered once (the goal's figure: re-deliveries
    cost the worker nothing, the inbox keeps one row per event); `customers`: the events'
    customers are numbered below this (the sandbox WeCom knows each of them)."""
    os.environ.update(env)
    r = asyncio.run(_drain(env, max(customers, sent)))
    print(
        f"inbox rows: {r['stored']} for {answered} distinct events acknowledged and {sent} sent "
        f"(acknowledged but lost: {max(0, answered - r['stored'])}; left unprocessed: {r['left']})"
    )
    print(
        f"one worker drained {r['rate']:.0f} events/s (CPU {r['cpu_ms']:.2f} ms/event, "
        f"{r['busy']:.0%} of one core from its start to the end, with "
        f"every feature's handlers, the sandbox WeCom and the delivery of the "
        f"{r['events']} domain events they published; the inbox rows alone "
        f"{r['rows_rate']:.0f}/s)\none web process acknowledged {acked_once:.0f} events/s "
        f"delivered once: ratio {r['rate'] / acked_once:.2f} (goal >= 0.5); "
        f"{acked:.0f} callbacks/s with every event delivered 3 times ({acked / 3:.0f} distinct "
        f"events/s): ratio {r['rate'] / acked:.2f} to the callbacks, "
        f"{r['rate'] / (acked / 3):.2f} to their distinct events"
    )
    print(
        "(the worker's WeCom rate limit was lifted for this measure: in production WeCom's "
        "per-API limit paces the one customer read per add to 83/s sustained with the default "
        "rate_per_minute, 166/s at WeCom's 10,000 a minute, after a burst of half a minute's worth)"
    )
