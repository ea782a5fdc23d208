"""Callbacks while a report runs, on the embedded default (SQLite + embedded Redis).

The real app serves WeCom callbacks under wrk (distinct, validly signed events) twice: idle,
then while an admin keeps moving the end of a running 1,000,000-fact activity with 去重 and
opening its 按成员 data page, as the console does: the save queues the ranking's rebuild, the
page queues its table's computation and asks again for that version until it is there. Both
jobs run where the product runs them, in a worker process of their own (the product's job
functions; in the bench they have a queue of their own, so the callbacks' jobs stay queued in
both phases, as nothing drains them). Prints the callbacks' p99 and server CPU per request in
both phases, the worker's CPU during the second, how long each page took to be ready, and the
p99 ratio (goal: p99 during the recompute within 2x idle).

    python -m bench.reports [--facts 1000000] [--people 10000] [--seconds 10] [-c 16]
        [--seeded FILE] [--probe]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.crypto import WeComCrypto
from bot.settings import load_settings

XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[u{staff}]]></UserID><ExternalUserID><![CDATA[wmb{n:08d}]]></ExternalUserID>"
    "<State><![CDATA[bench]]></State></xml>"
)
LUA = """
local requests, i = {}, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, body = line:match("^([^\\t]*)\\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
  end
end
function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "non2xx": %d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, summary.errors.status))
end
"""
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


STALL = 0.03  # the event loop late by more than this counts as a stall


def probe(out: Path) -> Any:
    """A loop-lag probe for the served app: a task ticks every 5 ms and notes when it ran late
    by more than STALL; a watchdog thread that sees the tick late samples every thread's stack.
    On shutdown it writes the stalls as JSON lines: wall time, lateness, the stacks sampled."""
    import sys
    import threading
    import traceback

    beat = [time.perf_counter()]
    stacks: list[list[str]] = []
    stop = threading.Event()

    def watchdog(loop_thread: int) -> None:
        sampled_at = 0.0
        while not stop.wait(0.005):
            if time.perf_counter() - beat[0] < STALL or beat[0] == sampled_at:
                continue
            sampled_at = beat[0]
            found = []
            for tid, frame in sys._current_frames().items():
                if tid != threading.get_ident():
                    top = reversed(traceback.extract_stack(frame)[-3:])
                    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in top)
                    found.append(("loop: " if tid == loop_thread else "thread: ") + where)
            stacks.append(found)

    async def ticker(app: Any) -> Any:
        stalls: list[dict[str, Any]] = []

        async def tick() -> None:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                beat[0] = time.perf_counter()
                if (late := beat[0] - before - 0.005) > STALL:
                    stalls.append({"t": time.time(), "late": late, "stacks": stacks[:]})
                    stacks.clear()

        task = asyncio.create_task(tick())
        threading.Thread(target=watchdog, args=(threading.get_ident(),), daemon=True).start()
        yield
        stop.set()
        task.cancel()
        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in stalls)
        await asyncio.to_thread(out.write_text, text)

    return ticker


def probe_summary(path: Path, phases: list[tuple[str, float, float]]) -> str:
    from collections import Counter

    stalls = [json.loads(line) for line in path.read_text().splitlines()]
    lines = []
    for name, t0, t1 in phases:
        inside = [s for s in stalls if t0 <= s["t"] <= t1]
        late = sorted((s["late"] for s in inside), reverse=True)
        lines.append(
            f"  loop stalls > {STALL * 1000:.0f} ms {name}: {len(inside)}, {sum(late):.2f} s in all,"
            f" longest {', '.join(f'{x * 1000:.0f}' for x in late[:8])} ms"
        )
        seen = Counter(w for s in inside for sample in s["stacks"] for w in sample)
        lines += [f"    {n:3d}  {where}" for where, n in seen.most_common(12)]
    return "\n".join(lines)


REPORT_QUEUE = "bench:reports"
REPORT_JOBS = ("leaderboard_report", "leaderboard_rebuild")


def _route_report_jobs() -> None:
    """In the web process: the report jobs go to the bench worker's queue."""
    from bot.deps import JobQueue

    enqueue = JobQueue.enqueue

    async def routed(
        self: JobQueue, name: str, *args: Any, job_id: str | None = None, **kw: Any
    ) -> bool:
        if name not in REPORT_JOBS:
            return await enqueue(self, name, *args, job_id=job_id, **kw)
        job = await self.pool.enqueue_job(name, *args, _job_id=job_id, _queue_name=REPORT_QUEUE)
        return job is not None

    JobQueue.enqueue = routed  # type: ignore[method-assign]


def work() -> None:
    """The worker process: the product's report jobs, as `scrmbot worker` runs them."""
    from arq.worker import Worker

    from bot.logs import setup_logging
    from bot.runtime import Runtime
    from handlers.leaderboard.rebuild import leaderboard_rebuild
    from handlers.leaderboard.results import leaderboard_report
    from jobs.worker import timed

    setup_logging("WARNING", False)

    async def run() -> None:
        async with Runtime(load_settings()) as rt:
            worker = Worker(
                functions=[timed(leaderboard_report), timed(leaderboard_rebuild)],
                redis_pool=rt.pool,
                queue_name=REPORT_QUEUE,
                ctx={"deps": rt.deps},
                poll_delay=0.1,
                handle_signals=True,
                job_timeout=600,
            )
            await worker.async_run()

    with contextlib.suppress(asyncio.CancelledError):  # terminated at the end of the run
        asyncio.run(run())


def serve(port: int) -> None:
    from aiohttp import web

    from bot.logs import setup_logging
    from bot.web import create_app, settled

    _route_report_jobs()
    settings = load_settings(overrides={"server": {"port": port}})
    setup_logging("WARNING", False)
    app = create_app(settings)
    if os.environ.get("BENCH_PROBE"):
        app.cleanup_ctx.append(probe(Path(os.environ["BENCH_PROBE"])))
    app.on_startup.append(settled)  # as `scrmbot serve` does
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def seed(url: str, people: int, facts: int, seeded: Path | None) -> tuple[int, str, str]:
    """The activity and an admin's session: (activity id, session cookie, CSRF token). With
    `seeded`, the facts are copied from there when it exists and kept there otherwise."""
    from bench.leaderboard import T0, bulk_insert
    from bot import sessions
    from bot.signing import Signer
    from storage.db import init_db
    from storage.leaderboard import Activity

    path = Path(url.removeprefix("sqlite://"))
    if seeded and await asyncio.to_thread(seeded.exists):
        shutil.copyfile(seeded, path)
    ctx = await init_db(url)
    activity = await Activity.get_or_none(name="bench")
    if activity is None:
        activity = await Activity.create(
            name="bench",
            start_at=T0 - timedelta(days=1),  # the seeded facts start at T0
            end_at=datetime.now(UTC) + timedelta(days=30),
            dedup=True,
            started_done=True,
            remind_daily=False,
        )
        await ctx.close_connections()
        bulk_insert(path, activity.id, people, facts)
        if seeded:
            shutil.copyfile(path, seeded)
        ctx = await init_db(url)
    settings = load_settings()
    signer = Signer(settings.security.secret)
    cookie, session_id = await sessions.create(signer, settings, "boss")
    await ctx.close_connections()
    return int(activity.id), cookie, sessions.csrf_for(signer, session_id)


def write_requests(path: Path, count: int, start: int, people: int) -> None:
    wc = load_settings().wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
    now = int(time.time())
    with path.open("w") as out:
        for n in range(start, start + count):
            xml = XML.format(corp=wc.corp_id, ts=now, staff=n % people, n=n)
            params, body = crypto.encrypt_callback(xml)
            query = "&".join(f"{k}={v}" for k, v in params.items())
            out.write(f"/wecom/callback?{query}\t{body.decode()}\n")


def wrk(port: int, requests: Path, seconds: int, connections: int, script: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "BENCH_REQUESTS": str(requests)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))  # type: ignore[no-any-return]


async def keep_reporting(
    port: int, admin: tuple[int, str, str], stop: asyncio.Event
) -> list[float]:
    """An admin changing the activity and opening its data page until its table is there:
    a recomputation in the worker each. The seconds from opening to the table."""
    from bot.auth import CSRF_HEADER, SESSION_COOKIE

    activity_id, cookie, token = admin
    cookies = {SESSION_COOKIE: cookie}
    url = f"http://127.0.0.1:{port}/api/leaderboard/activities/{activity_id}"
    end = datetime.now(UTC) + timedelta(days=30)
    spent: list[float] = []
    async with aiohttp.ClientSession(cookies=cookies) as session:
        while not stop.is_set():
            # A new end is a new data version: the page's table is computed again.
            body = {"end_at": (end + timedelta(minutes=len(spent))).isoformat()}
            async with session.post(url, json=body, headers={CSRF_HEADER: token}) as resp:
                assert resp.status == 200, await resp.text()
            t0 = time.perf_counter()
            page = url + "/data/members"
            while True:
                async with session.get(page) as resp:
                    assert resp.status == 200, await resp.text()
                    found = await resp.json()
                if not found.get("computing"):
                    break
                page = f"{url}/data/members?version={found['version']}"
                await asyncio.sleep(0.25)
            spent.append(time.perf_counter() - t0)
    return spent


async def during(
    port: int, admin: tuple[int, str, str], run: Any
) -> tuple[dict[str, Any], list[float]]:
    stop = asyncio.Event()
    saver = asyncio.create_task(keep_reporting(port, admin, stop))
    await asyncio.sleep(0.5)  # the first recomputation is under way
    result = await asyncio.to_thread(run)
    stop.set()
    return result, await saver


def main() -> None:  # noqa: RET503
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("-c", type=int, default=16)
    parser.add_argument("--serve", type=int)
    parser.add_argument("--work", action="store_true")
    parser.add_argument("--seeded", type=Path, help="copy the seeded facts from/to this file")
    parser.add_argument("--probe", action="store_true", help="print the event loop's stalls")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.work:
        return work()
    data = Path(tempfile.mkdtemp(prefix="scrmbot-reports-"))
    url = f"sqlite://{data}/bench.sqlite3"
    env = {
        **os.environ,
        "SCRMBOT_STORAGE__DATA_DIR": str(data),
        "SCRMBOT_DATABASE__URL": url,
        "SCRMBOT_LOGGING__LEVEL": "WARNING",
        "SCRMBOT_SECURITY__SUPER_ADMINS": "[boss]",
    }
    if args.probe:
        env["BENCH_PROBE"] = str(data / "probe.txt")
    os.environ.update(env)
    admin = asyncio.run(seed(url, args.people, args.facts, args.seeded))
    script = data / "callbacks.lua"
    script.write_text(LUA)
    idle_reqs, busy_reqs = data / "idle.txt", data / "busy.txt"
    per_phase = 4000 * args.seconds
    write_requests(idle_reqs, per_phase, 0, args.people)
    write_requests(busy_reqs, per_phase, per_phase, args.people)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.reports", "--serve", str(port)], env=env)
    worker = None
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        # After the web process: it started the embedded Redis the worker joins.
        worker = subprocess.Popen([sys.executable, "-m", "bench.reports", "--work"], env=env)
        wrk(port, idle_reqs, 2, args.c, script)  # warm-up
        cpu0, t0 = cpu_seconds(proc.pid), time.time()
        idle = wrk(port, idle_reqs, args.seconds, args.c, script)
        cpu1, t1 = cpu_seconds(proc.pid), time.time()
        work1 = cpu_seconds(worker.pid)

        def loaded() -> dict[str, Any]:
            result = wrk(port, busy_reqs, args.seconds, args.c, script)
            return {**result, "worker_cpu": cpu_seconds(worker.pid)}  # type: ignore[union-attr]

        busy, saves = asyncio.run(during(port, admin, loaded))
        cpu2 = cpu_seconds(proc.pid)
        t2 = t1 + 0.5 + busy["duration_us"] / 1e6  # the page loads outlast wrk
        # The worker's CPU while wrk ran (read when it ended; the page loads outlast it).
        worked = busy.pop("worker_cpu") - work1
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        proc.terminate()
        proc.wait(30)
    print(
        f"{args.facts:,} facts, {args.people:,} participants, 去重 on; wrk -c {args.c}, {args.seconds} s per phase"
    )
    for name, r, cpu in (("idle", idle, cpu1 - cpu0), ("during recompute", busy, cpu2 - cpu1)):
        rps = r["requests"] / (r["duration_us"] / 1e6)
        print(
            f"  callbacks {name:17s} {rps:7.0f} req/s  p50 {r['p50_us'] / 1000:6.1f} ms"
            f"  p99 {r['p99_us'] / 1000:6.1f} ms  max {r['max_us'] / 1000:6.0f} ms  server CPU {cpu / max(r['requests'], 1) * 1e6:6.0f} µs/req"
            f"  non-2xx {r['non2xx']}"
        )
    print(
        f"  worker CPU while wrk ran: {worked:.2f} s (the 按成员 table and the rebuild, at the"
        f" lowest priority); 按成员 pages opened: {len(saves)}, ready after"
        f" {', '.join(f'{x:.1f}' for x in saves)} s"
    )
    print(f"  ratio p99 during / idle: {busy['p99_us'] / max(idle['p99_us'], 1):.2f} (goal <= 2)")
    if args.probe:
        print(probe_summary(data / "probe.txt", [("idle", t0, t1), ("during", t1, t2)]))
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
