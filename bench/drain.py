"""How fast one worker process drains the events the web process stored: a real
`scrmbot worker` with every feature's handlers, against the sandbox WeCom (which knows every
customer the benchmark's events name), timed from the first row done to the last."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

from aiohttp import web

from bench.procs import free_port, proc_cpu_seconds
from bot.crypto import WeComCrypto
from bot.sandbox.corp import Corp
from bot.sandbox.server import create_sandbox_app
from bot.settings import load_settings
from storage.core import InboxEvent, InboxStatus
from storage.db import init_db

STAFF = 50


def reset_database(url: str) -> None:
    async def reset() -> None:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


def sandbox_corp(events: int) -> Corp:
    corp = Corp()
    for s in range(STAFF):
        corp.add_staff(f"staff{s}", f"员工{s}")
    for n in range(events):
        ext = f"wm{n:08d}"
        corp.add_customer(f"客户{n}", ext)
        corp.add_follow(f"staff{n % STAFF}", ext, state="bench")
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


async def _drain(env: dict[str, str], distinct: int) -> dict[str, Any]:
    ctx = await init_db(env["SCRMBOT_DATABASE__URL"], create_schema=False)
    runner, sandbox = await _start_sandbox(distinct)
    stored = await InboxEvent.all().count()
    worker_env = {**env, "SCRMBOT_WECOM__API_BASE": sandbox}
    proc = subprocess.Popen(  # noqa: ASYNC220 — the worker runs for the whole drain
        [sys.executable, "-m", "bot.cli", "worker"], env=worker_env
    )
    try:
        deadline = time.monotonic() + 900
        while await InboxEvent.filter(status=InboxStatus.DONE).count() < stored:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker stopped before draining")
            await asyncio.sleep(0.5)
        cpu = proc_cpu_seconds(proc.pid)
        done = InboxEvent.filter(status=InboxStatus.DONE)
        first = await done.order_by("done_at").first()
        last = await done.order_by("-done_at").first()
        failed = await InboxEvent.exclude(status=InboxStatus.DONE).count()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 60)
        await runner.cleanup()
        await ctx.close_connections()
    assert first is not None and last is not None and first.done_at and last.done_at
    seconds = max((last.done_at - first.done_at).total_seconds(), 1e-3)
    return {
        "stored": stored,
        "rate": stored / seconds,
        "cpu_ms": cpu / stored * 1000,
        "left": failed,
    }


def drain_report(env: dict[str, str], sent: int, answered: int, acked: float) -> None:
    """`sent`/`answered`: distinct events sent / answered 200 (wrk stops with requests in
    flight); `acked`: the web process's best callbacks/s (all deliveries)."""
    os.environ.update(env)
    r = asyncio.run(_drain(env, sent))
    print(
        f"inbox rows: {r['stored']} for {answered} distinct events acknowledged and {sent} sent "
        f"(acknowledged but lost: {max(0, answered - r['stored'])}; left unprocessed: {r['left']})"
    )
    print(
        f"one worker drained {r['rate']:.0f} events/s (CPU {r['cpu_ms']:.2f} ms/event, with "
        f"every feature's handlers and the sandbox WeCom); one web process acknowledged "
        f"{acked:.0f} callbacks/s: ratio {r['rate'] / acked:.2f} (goal >= 0.5)"
    )
