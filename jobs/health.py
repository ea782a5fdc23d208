"""The worker's own /healthz, /readyz and /metrics (job durations and failures live in the
worker process), on a loopback port when `[worker] health_port` is set."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY, refused, scrape_allowed
from bot.settings import WorkerSettings

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("scrmbot.worker")


class WorkerHealth:
    def __init__(self, settings: WorkerSettings, metrics_token: str = "") -> None:
        self.settings = settings
        self.metrics_token = metrics_token
        self.runtime: Runtime | None = None
        self.redis_ok = True
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if not self.settings.health_port:
            return
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.health_host, self.settings.health_port)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready when the runtime is open and Redis answers (the worker pauses otherwise)."""
        checks = {"runtime": "ok" if self.runtime is not None else "starting"}
        redis = "ok" if self.redis_ok else "unreachable"
        if self.runtime is not None and redis == "ok":
            try:
                await asyncio.wait_for(self.runtime.deps.redis.ping(), 2)
            except Exception as exc:
                redis = f"error: {type(exc).__name__}"
        checks["redis"] = redis if self.runtime is not None else "unknown"
        ok = all(v == "ok" for v in checks.values())
        return web.json_response({"ready": ok, **checks}, status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        if not scrape_allowed(request, self.metrics_token):
            return refused()
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
