"""Callback pipeline throughput and p99 against the bare verify + decrypt + parse ceiling.

Both servers run in their own process on loopback, one after the other, and are loaded by
the same in-process aiohttp client with the same distinct, validly signed events:

- ceiling: an aiohttp endpoint that only verifies, decrypts and parses (then answers 200);
- pipeline: the real app (`bot.web.create_app`) on the embedded default — SQLite and the
  embedded Redis — storing every callback in the inbox and enqueueing its job.

Prints requests/s, p50/p99 latency and the ratio, then checks nothing was lost (one inbox
row per event) and that a worker drains them all. Run: `python -m bench.callbacks [-n 6000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time

import aiohttp

from bot.crypto import WeComCrypto
from bot.settings import load_settings

XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[staff{staff}]]></UserID><ExternalUserID><![CDATA[wm{n:08d}]]></ExternalUserID>"
    "<State><![CDATA[bench]]></State><WelcomeCode><![CDATA[WC{n}]]></WelcomeCode></xml>"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "SCRMBOT_STORAGE__DATA_DIR": data_dir,
        "SCRMBOT_DATABASE__URL": f"sqlite://{data_dir}/bench.sqlite3",
        "SCRMBOT_LOGGING__LEVEL": "WARNING",
    }


def serve_bare(port: int) -> None:
    from aiohttp import web

    from bot.crypto import CallbackError
    from bot.events import parse_event

    wc = load_settings().wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)

    async def handler(request: web.Request) -> web.Response:
        q = request.query
        try:
            xml = crypto.decrypt_callback(
                q["msg_signature"], q["timestamp"], q["nonce"], await request.read()
            )
            parse_event(xml)
        except CallbackError as exc:
            return web.Response(status=exc.status)
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/callback", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_app(port: int) -> None:
    from aiohttp import web

    from bot.logs import setup_logging
    from bot.web import create_app

    settings = load_settings(overrides={"server": {"port": port}})
    setup_logging("WARNING", False)
    web.run_app(create_app(settings), host="127.0.0.1", port=port, print=None, access_log=None)


def make_requests(n: int) -> list[tuple[dict[str, str], bytes]]:
    wc = load_settings().wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
    now = int(time.time())
    return [
        crypto.encrypt_callback(XML.format(corp=wc.corp_id, ts=now, staff=i % 50, n=i))
        for i in range(n)
    ]


async def load(
    url: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for params, body in queue:
                t0 = time.perf_counter()
                async with session.post(url, params=params, data=body) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


async def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


async def run_server(
    mode: str, env: dict[str, str], reqs: list, n: int, concurrencies: list[int]
) -> list[dict[str, float]]:
    """One server process; a warm-up, then one run per concurrency with its own events."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 — a server process for the whole run
        [sys.executable, "-m", "bench.callbacks", f"--serve-{mode}", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}/wecom/callback"
    try:
        await wait_up(port)
        await load(url, reqs[:200], 32)
        runs = []
        for i, c in enumerate(concurrencies):
            runs.append(await load(url, reqs[200 + i * n : 200 + (i + 1) * n], c))
        return runs
    finally:
        proc.terminate()
        proc.wait(15)


async def count_and_drain(env: dict[str, str]) -> tuple[int, int]:
    """Rows stored, then rows a worker marked done (the embedded Redis still holds the jobs)."""
    from bot.runtime import Runtime
    from jobs.worker import build_worker
    from storage.core import InboxEvent, InboxStatus

    os.environ.update(env)
    settings = load_settings()
    async with Runtime(settings, routers=[]) as rt:
        stored = await InboxEvent.all().count()
        worker = build_worker(rt, burst=True, handle_signals=False)
        await worker.main()
        await worker.close()
        done = await InboxEvent.filter(status=InboxStatus.DONE).count()
    return stored, done


def main() -> None:  # noqa: RET503
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=6000, help="events per run")
    parser.add_argument("-c", type=int, nargs="+", default=[32, 128], help="concurrencies")
    parser.add_argument("--serve-bare", type=int)
    parser.add_argument("--serve-app", type=int)
    args = parser.parse_args()
    if args.serve_bare:
        return serve_bare(args.serve_bare)
    if args.serve_app:
        return serve_app(args.serve_app)
    data_dir = tempfile.mkdtemp(prefix="scrmbot-bench-")
    env = settings_env(data_dir)
    sent = 200 + args.n * len(args.c)
    reqs = make_requests(sent)
    bare = asyncio.run(run_server("bare", env, reqs, args.n, args.c))
    full = asyncio.run(run_server("app", env, reqs, args.n, args.c))
    stored, done = asyncio.run(count_and_drain(env))
    print(f"{args.n} distinct signed events per run (+200 warm-up); data in {data_dir}")
    for c, b, f in zip(args.c, bare, full, strict=True):
        print(f"concurrency {c}:")
        for name, r in (("ceiling (verify+decrypt+parse)", b), ("pipeline (embedded default)", f)):
            print(
                f"  {name:32s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                f"p99 {r['p99_ms']:6.1f} ms  non-200: {int(r['errors'])}"
            )
        print(f"  ratio pipeline/ceiling: {f['rps'] / b['rps']:.2f} (goal >= 0.5)")
    print(
        f"inbox rows: {stored} of {sent} sent (lost {sent - stored}); processed by a worker: {done}"
    )


if __name__ == "__main__":
    main()
