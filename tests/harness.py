"""The whole stack for integration tests: the sandbox WeCom and the app on loopback ports,
a driver that sends real encrypted callbacks, and a burst arq worker."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.callback import BATCHER_KEY
from bot.crypto import WeComCrypto
from bot.deps import Deps
from bot.router import Router
from bot.runtime import Runtime
from bot.sandbox.corp import Corp
from bot.sandbox.driver import SandboxDriver
from bot.sandbox.server import create_sandbox_app
from bot.settings import Settings
from bot.web import create_app
from jobs.worker import build_worker
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    settings: Settings
    corp: Corp
    runtime: Runtime
    driver: SandboxDriver
    app_url: str
    sandbox_url: str
    session: aiohttp.ClientSession
    app: web.Application

    @property
    def deps(self) -> Deps:
        return self.runtime.deps

    async def run_jobs(self) -> None:
        """Run every queued job (and the ones they enqueue) to completion."""
        await self.app[BATCHER_KEY].settled()  # answered callbacks' jobs are in the queue
        worker = build_worker(self.runtime, burst=True, handle_signals=False)
        try:
            await worker.main()
        finally:
            await worker.close()

    async def sandbox_calls(self, path: str | None = None) -> list[dict[str, Any]]:
        async with self.session.get(self.sandbox_url + "/sandbox/api/calls") as resp:
            calls: list[dict[str, Any]] = (await resp.json())["calls"]
        return [c for c in calls if path is None or c["path"] == path]


@contextlib.asynccontextmanager
async def running_stack(
    tmp_path: Path,
    db_url: str,
    redis_url: str,
    *,
    corp: Corp | None = None,
    routers: list[Router] | None = None,
    **sections: Any,
) -> AsyncIterator[Stack]:
    app_port, sandbox_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    wecom = {"api_base": sandbox_url, "oauth_base": sandbox_url, "login_base": sandbox_url}
    wecom.update(sections.pop("wecom", {}))
    server = {"port": app_port, "base_url": f"http://127.0.0.1:{app_port}"}
    settings = make_settings(tmp_path, db_url, redis_url, wecom=wecom, server=server, **sections)
    wc = settings.wecom
    crypto = WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id)
    corp = corp or Corp()
    callback_url = f"http://127.0.0.1:{app_port}/wecom/callback"
    sandbox_app = create_sandbox_app(
        corp,
        corp_id=wc.corp_id,
        secrets={"app": wc.secret, "contact": wc.contact_secret},
        agent_id=wc.agent_id,
        callback_url=callback_url,
        crypto=crypto,
    )
    sandbox = TestServer(sandbox_app, host="127.0.0.1", port=sandbox_port)
    await sandbox.start_server()
    async with Runtime(settings, routers) as rt:
        await rt.deps.redis.flushdb()  # tests share one Redis server; start each clean
        app = create_app(settings, runtime=rt)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", app_port).start()
        async with aiohttp.ClientSession() as session:
            driver = SandboxDriver(corp, callback_url, crypto, session)
            try:
                yield Stack(
                    settings, corp, rt, driver, settings.base_url, sandbox_url, session, app
                )
            finally:
                await runner.cleanup()
                await sandbox.close()
