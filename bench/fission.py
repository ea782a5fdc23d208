"""Help credits per second through the callback pipeline, against the callback ceiling in the
same run, with nothing over-credited.

A running fission activity with `--participants` participants; wrk sends signed
`add_external_contact` callbacks whose `State` is a participant's QR state, every distinct add
delivered three times (WeCom's retries), first to the bare verify + decrypt + parse endpoint
(the ceiling), then to the real web process (store + enqueue; the welcome arbiter's lane runs
the credit there too). Then two worker processes drain the inbox and the domain events at the
same time (facts → FollowAdded → credit), and the credited rows are checked: one help per
helper, never more helps than distinct helpers acknowledged, no tier over its stock.
Run: `python -m bench.fission [-d 5] [-c 32] [--participants 200] [--db URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.callbacks import RETRY_SPREAD, Server, settings_env
from bench.procs import free_port, proc_cpu_seconds, start_server, stop
from bot.crypto import WeComCrypto
from bot.settings import load_settings

STAFF = 20
XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[staff{staff}]]></UserID><ExternalUserID><![CDATA[wh{n:08d}]]></ExternalUserID>"
    "<State><![CDATA[{state}]]></State></xml>"
)
TIERS = ((3, 1_000_000), (10, 25))  # (helpers, stock): the second tier's stock runs out


def serve_sandbox(port: int, helpers: int) -> None:
    """The sandbox WeCom knowing every helper the benchmark's adds name."""
    from aiohttp import web

    from bot.sandbox.corp import Corp
    from bot.sandbox.server import create_sandbox_app

    wc = load_settings().wecom
    corp = Corp()
    for s in range(STAFF):
        corp.add_staff(f"staff{s}", f"员工{s}")
    for n in range(helpers):
        corp.add_customer(f"好友{n}", f"wh{n:08d}")
        corp.add_follow(f"staff{n % STAFF}", f"wh{n:08d}")
    app = create_sandbox_app(
        corp,
        corp_id=wc.corp_id,
        secrets={"app": wc.secret, "contact": wc.contact_secret},
        agent_id=wc.agent_id,
        crypto=WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id),
    )
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def seed(url: str, participants: int) -> list[str]:
    """A running activity and its participants; returns their QR states."""
    from storage.db import init_db
    from storage.fission import FissionActivity, FissionParticipant, FissionTier

    ctx = await init_db(url, create_schema=False)
    try:
        now = datetime.now(UTC)
        activity = await FissionActivity.create(
            name="基准活动",
            start_at=now - timedelta(days=1),
            end_at=now + timedelta(days=1),
            published=True,
            new_only=True,
            staff=[f"staff{s}" for s in range(STAFF)],
        )
        for level, (helpers, stock) in enumerate(TIERS, start=1):
            await FissionTier.create(
                activity_id=activity.id,
                level=level,
                helpers=helpers,
                prize=f"奖品{level}",
                stock=stock,
                stock_left=stock,
            )
        states = []
        for i in range(participants):
            code = f"b{i:05d}{secrets.token_hex(1)}"
            await FissionParticipant.create(
                activity_id=activity.id,
                external_userid=f"wp{i:08d}",
                code=code,
                name=f"参与者{i}",
                joined_at=now,
            )
            states.append(f"f:{code}")
        return states
    finally:
        await ctx.close_connections()


def write_requests(path: Path, first: int, count: int, states: list[str]) -> None:
    wc = load_settings().wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
    now = int(time.time())
    lines: list[str] = []
    for start in range(first, first + count, RETRY_SPREAD):
        chunk = []
        for n in range(start, min(start + RETRY_SPREAD, first + count)):
            xml = XML.format(
                corp=wc.corp_id, ts=now, staff=n % STAFF, n=n, state=states[n % len(states)]
            )
            params, body = crypto.encrypt_callback(xml)
            query = "&".join(f"{k}={v}" for k, v in params.items())
            chunk.append(f"/wecom/callback?{query}\t{body.decode()}")
        lines += chunk * 3
    path.write_text("\n".join(lines) + "\n")


async def drain(env: dict[str, str], workers: int) -> dict[str, Any]:
    """Run `workers` worker processes at once until the inbox and the domain events are done."""
    from storage.core import DomainEventRow, EventStatus, InboxEvent, InboxStatus
    from storage.db import init_db
    from storage.fission import FissionHelp

    ctx = await init_db(env["SCRMBOT_DATABASE__URL"], create_schema=False)
    procs = [
        subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env)  # noqa: ASYNC220
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 1200
        while True:
            inbox_left = await InboxEvent.exclude(status=InboxStatus.DONE).count()
            events_left = await DomainEventRow.filter(status=EventStatus.PENDING).count()
            if not inbox_left and not events_left:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the workers stopped before draining")
            await asyncio.sleep(0.5)
        cpu = sum(proc_cpu_seconds(p.pid) for p in procs)
        helps = FissionHelp.all()
        first = await helps.order_by("credited_at").first()
        last = await helps.order_by("-credited_at").first()
        count = await helps.count()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            await asyncio.to_thread(p.wait, 60)
        await ctx.close_connections()
    seconds = 1e-3
    if first is not None and last is not None:
        seconds = max((last.credited_at - first.credited_at).total_seconds(), 1e-3)
    return {"helps": count, "rate": count / seconds, "cpu_ms": cpu / max(count, 1) * 1000}


async def check(url: str, answered: int, sent: int) -> dict[str, Any]:
    """Nothing over-credited: one help per helper, helps ≤ distinct helpers, stock held."""
    from tortoise.functions import Count

    from storage.db import init_db
    from storage.fission import AwardState, FissionAttempt, FissionAward, FissionHelp, FissionTier

    ctx = await init_db(url, create_schema=False)
    try:
        helps = await FissionHelp.all().count()
        helpers = len(set(await FissionHelp.all().values_list("helper", flat=True)))
        attempts = await FissionAttempt.all().count()
        doubled = (
            await FissionHelp.all()
            .annotate(n=Count("id"))
            .group_by("activity_id", "helper")
            .filter(n__gt=1)
            .count()
        )
        tiers = []
        for tier in await FissionTier.all().order_by("level"):
            won = await FissionAward.filter(tier_id=tier.id, state=AwardState.WON).count()
            tiers.append((tier.level, tier.stock, tier.stock_left, won))
    finally:
        await ctx.close_connections()
    return {
        "helps": helps,
        "helpers": helpers,
        "attempts": attempts,
        "doubled": doubled,
        "tiers": tiers,
        "answered": answered,
        "sent": sent,
        "ok": helps == helpers <= sent
        and doubled == 0
        and all(won <= stock and left == stock - won for _, stock, left, won in tiers),
    }


def main() -> None:  # noqa: RET503
    parser = argparse.ArgumentParser()
    parser.add_argument("-d", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("-c", type=int, default=32, help="connections")
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--serve-sandbox", type=int, nargs=2)
    args = parser.parse_args()
    if args.serve_sandbox:
        return serve_sandbox(*args.serve_sandbox)
    data_dir = Path(tempfile.mkdtemp(prefix="scrmbot-bench-fission-"))
    env = settings_env(str(data_dir), args.db)
    if args.db:
        from bench.drain import reset_database

        reset_database(args.db)
    helpers_max = 100_000
    sandbox_port = free_port()
    sandbox = start_server(
        [
            sys.executable,
            "-m",
            "bench.fission",
            "--serve-sandbox",
            str(sandbox_port),
            str(helpers_max),
        ],
        env,
        sandbox_port,
    )
    env["SCRMBOT_WECOM__API_BASE"] = f"http://127.0.0.1:{sandbox_port}"
    os.environ.update(env)
    bare, app = Server("bare", env), Server("app", env)
    try:
        states = asyncio.run(seed(env["SCRMBOT_DATABASE__URL"], args.participants))
        warm = data_dir / "warm.txt"
        write_requests(warm, 0, 1000, states)
        calibration = bare.measure(warm, args.c, 2)
        events = min(int(calibration["rps"] * args.d / 2) + 2000, helpers_max - 1000)
        requests = data_dir / "requests.txt"
        write_requests(requests, 1000, events, states)
        ceiling = bare.measure(requests, args.c, args.d)
        pipeline = app.measure(requests, args.c, args.d)
    finally:
        bare.stop()
        app.stop()
    drained = asyncio.run(drain(env, args.workers))
    stop(sandbox)
    sent = int(pipeline["sent_distinct"])
    answered = int(pipeline["answered_distinct"])
    result = asyncio.run(check(env["SCRMBOT_DATABASE__URL"], answered, sent))
    print(
        f"fission: {args.participants} participants, every add delivered 3 times, wrk -t1 -c{args.c}, {args.d} s"
    )
    for name, r in (
        ("ceiling (verify+decrypt+parse)", ceiling),
        ("pipeline (store + enqueue)", pipeline),
    ):
        print(
            f"  {name:31s} {r['rps']:7.0f} req/s  p99 {r['p99_ms']:6.1f} ms  "
            f"CPU {r['cpu_us']:5.0f} µs/req  errors {int(r['errors'])}"
        )
    print(f"  callbacks ratio pipeline/ceiling: {pipeline['rps'] / ceiling['rps']:.2f}")
    print(
        f"  {args.workers} workers credited {drained['helps']} helps at {drained['rate']:.0f} helps/s "
        f"(CPU {drained['cpu_ms']:.2f} ms per help, facts + credit + cards); "
        f"helps/s against the ceiling's callbacks/s: {drained['rate'] / (ceiling['rps'] / 3):.2f} "
        f"(the ceiling's distinct adds/s)"
    )
    print(
        f"  distinct adds sent {result['sent']}, acknowledged {result['answered']}; helps {result['helps']} "
        f"by {result['helpers']} helpers, attempts {result['attempts']}, helpers credited twice "
        f"{result['doubled']}; tiers (level, stock, left, won) {result['tiers']}"
    )
    print("  nothing over-credited" if result["ok"] else "  OVER-CREDITED: see the counts above")
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
