"""`scrmbot worker` as a process: it rides out Redis outages, drains on SIGTERM, and a job
stranded on a killed worker is picked up by another within the lease. It and `scrmbot serve`
settle their heaps once started."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.runtime import Runtime
from storage.db import init_db
from tests.conftest import make_settings
from tests.harness import free_port
from tests.worker_procs import FakeWeCom, WorkerProc, is_done, store_add, until, worker_env


@dataclass
class Env:
    tmp: Path
    db_url: str
    redis: EmbeddedRedis
    wecom: FakeWeCom
    api_base: str

    def worker(self, name: str, command: str = "worker", **extra: object) -> WorkerProc:
        env = worker_env(self.tmp / name, self.db_url, self.redis.url, self.api_base, **extra)
        return WorkerProc(env, self.tmp / f"{name}.log", command)


@pytest.fixture
async def env(tmp_path: Path, db_url: str) -> AsyncIterator[Env]:
    ctx = await init_db(db_url)  # the schema, as `scrmbot migrate` leaves it
    await ctx.close_connections()
    redis = EmbeddedRedis(str(tmp_path / "redis"), persist=False)
    redis.start()
    wecom = FakeWeCom()
    api_base = await wecom.start()
    try:
        yield Env(tmp_path, db_url, redis, wecom, api_base)
    finally:
        await wecom.close()
        redis.stop()


async def get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a GET on this machine; (0, "") while nothing answers."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as resp,
        ):
            return resp.status, await resp.text()
    except aiohttp.ClientError:
        return 0, ""


async def ready(port: int) -> int:
    status, _ = await get(port, "/readyz")
    return status


async def test_rides_out_a_redis_outage_and_drains_on_sigterm(env: Env) -> None:
    health = free_port()
    worker = env.worker("w1", worker__health_port=health)
    settings = make_settings(env.tmp, env.db_url, env.redis.url)
    try:
        async with Runtime(settings, routers=[]) as rt:
            await until(lambda: _status_is(health, 200), "the worker to be ready")
            first = await store_add(rt.deps, "wmBefore")
            await until(lambda: is_done(first), "a job before the outage")

            env.redis.kill()
            await until(lambda: _status_is(health, 503), "/readyz to report Redis down")
            await until(lambda: worker.log().count("retrying in") >= 8, "reconnect attempts")
            assert worker.alive()

            env.redis.start_on(env.redis.port)  # back, and empty
            await until(lambda: _status_is(health, 200), "the worker to be ready again")
            after = await store_add(rt.deps, "wmAfter")
            await until(lambda: is_done(after), "a job after the outage")

            env.wecom.hold()
            before = env.wecom.arrived
            inflight = await store_add(rt.deps, "wmInflight")
            await until(lambda: env.wecom.arrived > before, "the job to be in flight")
            worker.signal(signal.SIGTERM)
            # The held job, and any other the worker happened to be running (a cron's).
            draining = re.compile(r"waiting for [1-9]\d* running job")
            await until(lambda: bool(draining.search(worker.log())), "a drain")
            env.wecom.release()
            assert await worker.wait() == 0, worker.log()
            assert await is_done(inflight)
            assert "Traceback" not in worker.log()
    finally:
        worker.stop()


async def frozen_objects(port: int) -> float:
    """`scrmbot_gc_frozen_objects` from a process's /metrics (0 until it answers)."""
    _, text = await get(port, "/metrics")
    found = re.search(r"^scrmbot_gc_frozen_objects (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0


async def test_started_processes_move_their_start_up_objects_out_of_the_collectors_reach(
    env: Env,
) -> None:
    """A full collection walks every object alive; the start-up ones (modules, routes, models)
    live as long as the process, and walking them stalled every request in flight."""
    web_port, health = free_port(), free_port()
    web = env.worker("web", command="serve", server__port=web_port)
    worker = env.worker("w1", worker__health_port=health)
    try:
        for name, port in (("web", web_port), ("worker", health)):
            await until(lambda p=port: _status_is(p, 200), f"the {name} process to be ready")
            assert await frozen_objects(port) > 50_000, name
    finally:
        web.stop()
        worker.stop()


async def _status_is(port: int, status: int) -> bool:
    return await ready(port) == status


async def test_starts_while_redis_is_down_and_begins_when_it_comes(env: Env) -> None:
    env.redis.kill()
    worker = env.worker("w1")
    settings = make_settings(env.tmp, env.db_url, env.redis.url)
    try:
        # arq alone gives up after five attempts; this one keeps trying.
        await until(lambda: worker.log().count("retrying in") >= 3, "start attempts", 90)
        assert worker.alive()
        env.redis.start_on(env.redis.port)
        async with Runtime(settings, routers=[]) as rt:
            row = await store_add(rt.deps, "wmLate")
            await until(lambda: is_done(row), "the job once Redis is up")
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()
    finally:
        worker.stop()


async def test_a_job_on_a_killed_worker_is_taken_over_within_the_lease(env: Env) -> None:
    """A slow card click's job (one row, enqueued alone) whose worker was killed mid-way."""
    settings = make_settings(env.tmp, env.db_url, env.redis.url)
    first = env.worker("w1", worker__lease_seconds=2)
    second: WorkerProc | None = None
    try:
        async with Runtime(settings, routers=[]) as rt:
            env.wecom.hold()
            row = await store_add(rt.deps, "wmClick")
            await until(lambda: env.wecom.arrived >= 1, "the job to be in flight")
            first.signal(signal.SIGKILL)
            await first.wait()
            env.wecom.release()
            second = env.worker("w2", worker__lease_seconds=2)
            # Without leases the dead job's lock would live for the longest job timeout + 10 s.
            await until(lambda: is_done(row), "the job to be taken over", 45)
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_a_job_outliving_the_shutdown_timeout_is_left_for_another_worker(env: Env) -> None:
    settings = make_settings(env.tmp, env.db_url, env.redis.url)
    worker = env.worker("w1", worker__shutdown_timeout=1)
    try:
        async with Runtime(settings, routers=[]) as rt:
            env.wecom.hold()
            row = await store_add(rt.deps, "wmSlow")
            await until(lambda: env.wecom.arrived >= 1, "the job to be in flight")
            worker.signal(signal.SIGTERM)
            assert await worker.wait() == 0, worker.log()
            assert "still running at exit" in worker.log()
            assert "Traceback" not in worker.log()
            assert not await is_done(row)  # its lease expires; another worker takes it
    finally:
        env.wecom.release()
        worker.stop()
