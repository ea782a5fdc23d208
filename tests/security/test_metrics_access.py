"""/metrics is not public: a bearer token when one is set, else only local, unproxied scrapes."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from tests.harness import Stack, running_stack


async def _status(stack: Stack, headers: dict[str, str]) -> int:
    async with stack.session.get(stack.app_url + "/metrics", headers=headers) as resp:
        return resp.status


async def test_without_a_token_only_local_unproxied_scrapes(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        assert await _status(stack, {}) == 200
        # what a TLS proxy on the same machine forwards from an outsider
        assert await _status(stack, {"X-Forwarded-For": "203.0.113.9"}) == 403
        assert await _status(stack, {"Forwarded": "for=203.0.113.9"}) == 403


async def test_with_a_token_the_bearer_is_required(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    security = {"metrics_token": "m3tr1cs-t0ken-long-enough"}
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[], security=security
    ) as stack:
        assert await _status(stack, {}) == 403
        assert await _status(stack, {"Authorization": "Bearer wrong"}) == 403
        ok = {"Authorization": "Bearer m3tr1cs-t0ken-long-enough", "X-Forwarded-For": "1.2.3.4"}
        assert await _status(stack, ok) == 200


async def test_the_worker_metrics_need_the_token_too() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.settings import WorkerSettings
    from jobs.health import WorkerHealth

    health = WorkerHealth(WorkerSettings(), "m3tr1cs-t0ken-long-enough")
    app = web.Application()
    app.router.add_get("/metrics", health.metrics)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/metrics")).status == 403
        auth = {"Authorization": "Bearer m3tr1cs-t0ken-long-enough"}
        assert (await client.get("/metrics", headers=auth)).status == 200
