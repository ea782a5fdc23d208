"""Callback pipeline throughput, p99 and server CPU against the bare verify + decrypt + parse
ceiling, driven by wrk, both measured in the same run with the same distinct, validly signed
events — every event delivered three times, as WeCom's retries do.

- ceiling: an aiohttp endpoint that only verifies, decrypts and parses (then answers 200);
- pipeline: the real web process (`scrmbot serve`'s app) on the embedded default (SQLite and
  the embedded Redis), or on PostgreSQL with `--db postgres://…`: every callback stored in
  the inbox and its job enqueued before the 200.

Server CPU per request is read from /proc (the server process and its children, e.g. the
embedded redis-server). Then checks nothing was lost (one inbox row per distinct event) and
measures how fast one worker process drains the stored events (`bench.drain`).
Each run lasts `-d` seconds; its file of requests is sized from a short calibration of the
ceiling, so no request is sent twice beyond WeCom's three deliveries.
Run: `python -m bench.callbacks [-d 5] [-c 8 32 128] [--db URL]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import free_port, proc_cpu_seconds, start_server, stop
from bot.crypto import WeComCrypto
from bot.settings import load_settings

LUA = Path(__file__).with_name("callbacks.lua")
XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[staff{staff}]]></UserID><ExternalUserID><![CDATA[wm{n:08d}]]></ExternalUserID>"
    "<State><![CDATA[bench]]></State></xml>"
)
STAFF = 50
RETRY_SPREAD = 64  # a delivery's two retries come after the next 64 events' first deliveries


def settings_env(data_dir: str, db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SCRMBOT_STORAGE__DATA_DIR": data_dir,
        "SCRMBOT_DATABASE__URL": db_url or f"sqlite://{data_dir}/bench.sqlite3",
        "SCRMBOT_LOGGING__LEVEL": "WARNING",
        "SCRMBOT_SECURITY__ALLOW_DEV_SECRET": "true",
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
    from bot.web import create_app, settled

    settings = load_settings(overrides={"server": {"port": port}})
    setup_logging("WARNING", False)
    app = create_app(settings)
    app.on_startup.append(settled)  # as `scrmbot serve` does
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def event_xml(corp: str, n: int, now: int) -> str:
    return XML.format(corp=corp, ts=now, staff=n % STAFF, n=n)


def write_requests(path: Path, first: int, count: int, deliveries: int = 3) -> None:
    """`count` distinct events from number `first`, each delivered `deliveries` times."""
    wc = load_settings().wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
    now = int(time.time())
    lines: list[str] = []
    for start in range(first, first + count, RETRY_SPREAD):
        chunk = []
        for n in range(start, min(start + RETRY_SPREAD, first + count)):
            params, body = crypto.encrypt_callback(event_xml(wc.corp_id, n, now))
            query = "&".join(f"{k}={v}" for k, v in params.items())
            chunk.append(f"/wecom/callback?{query}\t{body.decode()}")
        lines += chunk * deliveries
    path.write_text("\n".join(lines) + "\n")


def distinct_in(lines: int, deliveries: int = 3) -> int:
    """Distinct events among the first `lines` requests of a file (each chunk sent
    `deliveries` times)."""
    full, rest = divmod(lines, deliveries * RETRY_SPREAD)
    return full * RETRY_SPREAD + min(rest, RETRY_SPREAD)


def wrk(port: int, requests: Path, connections: int, seconds: float) -> dict[str, float]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
    ]
    env = {**os.environ, "BENCH_REQUESTS": str(requests)}
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}/wecom/callback"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return result


def measure(
    pid: int, port: int, requests: Path, connections: int, seconds: float, deliveries: int = 3
) -> dict[str, float]:
    cpu0 = proc_cpu_seconds(pid)
    r = wrk(port, requests, connections, seconds)
    cpu = proc_cpu_seconds(pid) - cpu0
    seconds = r["duration_us"] / 1e6
    return {
        "rps": r["requests"] / seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "cpu_us": cpu / max(r["requests"], 1) * 1e6,
        "errors": r["non2xx"] + r["socket_errors"],
        "requests": r["requests"],
        "sent_distinct": distinct_in(int(r["sent"] - r["overrun"]), deliveries),
        "answered_distinct": distinct_in(
            int(min(r["requests"], r["sent"] - r["overrun"])), deliveries
        ),
        "overrun": r["overrun"],
    }


class Server:
    def __init__(self, mode: str, env: dict[str, str]) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "bench.callbacks", f"--serve-{mode}", str(self.port)]
        self.proc = start_server(cmd, env, self.port)

    def measure(
        self, requests: Path, connections: int, seconds: float, deliveries: int = 3
    ) -> dict[str, float]:
        return measure(self.proc.pid, self.port, requests, connections, seconds, deliveries)

    def stop(self) -> None:
        stop(self.proc)


def report(conns: list[int], bare: list[dict[str, float]], full: list[dict[str, float]]) -> None:
    for c, b, f in zip(conns, bare, full, strict=True):
        short = " (request file too short: some events sent more than 3 times)"
        print(f"{c} connections:" + (short if b["overrun"] or f["overrun"] else ""))
        for name, r in (("ceiling (verify+decrypt+parse)", b), ("pipeline (store + enqueue)", f)):
            print(
                f"  {name:31s} {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                f"p99 {r['p99_ms']:6.1f} ms  CPU {r['cpu_us']:5.0f} µs/req  "
                f"errors: {int(r['errors'])}"
            )
        print(
            f"  ratio pipeline/ceiling: throughput {f['rps'] / b['rps']:.2f} (goal >= 0.5), "
            f"CPU per request {f['cpu_us'] / b['cpu_us']:.2f}x"
        )


def main() -> None:  # noqa: RET503
    parser = argparse.ArgumentParser()
    parser.add_argument("-d", type=int, default=5, help="seconds per run")
    parser.add_argument("-c", type=int, nargs="+", default=[8, 32, 128], help="connections")
    parser.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--no-drain", action="store_true", help="skip the worker drain")
    parser.add_argument("--serve-bare", type=int)
    parser.add_argument("--serve-app", type=int)
    args = parser.parse_args()
    if args.serve_bare:
        return serve_bare(args.serve_bare)
    if args.serve_app:
        return serve_app(args.serve_app)
    data_dir = Path(tempfile.mkdtemp(prefix="scrmbot-bench-"))
    env = settings_env(str(data_dir), args.db)
    os.environ.update(env)
    if args.db:
        from bench.drain import reset_database

        reset_database(args.db)
    warm = data_dir / "warm-up.txt"
    write_requests(warm, 0, 2000)
    bare_server, app_server = Server("bare", env), Server("app", env)
    try:
        calibration = bare_server.measure(warm, 32, 2)
        warm_app = app_server.measure(warm, 32, 2)
        # Enough distinct events for the fastest run, with ample room for noise.
        events = int(calibration["rps"] * args.d * 3 / 3) + 2000
        bare, full = [], []
        for i, c in enumerate(args.c):  # A/B interleaved: the machine's noise hits both
            requests = data_dir / f"requests-{i}.txt"
            write_requests(requests, 2000 + i * events, events)
            bare.append(bare_server.measure(requests, c, args.d))
            full.append(app_server.measure(requests, c, args.d))
        # The web process acknowledging each event once (no retries), at the concurrency it
        # did best: the rate of distinct events a worker has to keep up with.
        best = max(range(len(args.c)), key=lambda i: full[i]["rps"])
        requests = data_dir / "requests-once.txt"
        write_requests(requests, 2000 + len(args.c) * events, events, deliveries=1)
        once = app_server.measure(requests, args.c[best], args.d, deliveries=1)
    finally:
        bare_server.stop()
        app_server.stop()
    print(f"distinct signed events, each delivered 3 times; wrk -t1, {args.d:.0f} s per run")
    report(args.c, bare, full)
    print(
        f"each event delivered once, {args.c[best]} connections: pipeline {once['rps']:.0f} "
        f"req/s  p99 {once['p99_ms']:.1f} ms  CPU {once['cpu_us']:.0f} µs/req  errors: "
        f"{int(once['errors'])}"
    )
    if not args.no_drain:
        from bench.drain import drain_report

        runs = [warm_app, *full, once]
        sent = sum(int(r["sent_distinct"]) for r in runs)
        answered = sum(int(r["answered_distinct"]) for r in runs)
        numbers = 2000 + (len(args.c) + 1) * events  # every event's customer, in the sandbox
        drain_report(env, sent, answered, full[best]["rps"], once["rps"], numbers)


if __name__ == "__main__":
    main()
