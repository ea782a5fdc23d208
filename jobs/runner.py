"""`scrmbot worker`: the arq worker kept alive through Redis outages, drained on SIGTERM.

arq's worker exits on the first Redis error and gives up after five connection attempts at
start. Here the worker waits for Redis with a capped, doubling back-off (logging each attempt
and answering 503 on its /readyz meanwhile) and resumes on its own. SIGTERM (or SIGINT)
stops taking jobs, lets the running ones finish within `[worker] shutdown_timeout`, and
exits 0. Run it under a supervisor all the same: a crash is not an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.lifecycle import settle_heap
from bot.runtime import Runtime
from bot.settings import Settings
from jobs.health import WorkerHealth
from jobs.worker import build_worker

log = logging.getLogger("scrmbot.worker")
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


class Backoff:
    def __init__(self, cap: float, first: float = 0.25) -> None:
        self.cap, self.first, self.delay = cap, first, first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.delay = self.first


class WorkerProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.backoff = Backoff(settings.worker.reconnect_max_seconds)
        self.health = WorkerHealth(settings.worker, settings.security.metrics_token)

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("worker: %s received; finishing running jobs, taking no new ones", sig.name)
        self.stop.set()

    async def _pause(self, what: str, exc: BaseException) -> None:
        delay = self.backoff.next()
        log.warning("worker: %s (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), delay)

    @contextlib.asynccontextmanager
    async def runtime(self) -> AsyncIterator[Runtime | None]:
        """The runtime once Redis and the database answer; None when stopped before that."""
        while not self.stop.is_set():
            try:
                rt = await Runtime(self.settings, create_schema=False).__aenter__()
            except REDIS_DOWN as exc:
                await self._pause("Redis or the database is unreachable at start", exc)
                continue
            try:
                yield rt
            finally:
                await rt.__aexit__()
            return
        yield None

    async def run(self) -> None:
        await self.health.start()
        try:
            async with self.runtime() as rt:
                if rt is not None:
                    self.health.runtime = rt
                    worker = build_worker(rt, handle_signals=False)
                    settle_heap()
                    await self._serve(rt, worker)
        finally:
            await self.health.stop()

    async def _serve(self, rt: Runtime, worker: Worker) -> None:
        while not self.stop.is_set():
            main = asyncio.create_task(worker.main())
            stopping = asyncio.create_task(self.stop.wait())
            await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not main.done():
                break  # signalled
            exc = main.exception()
            if exc is None:
                return
            if not isinstance(exc, REDIS_DOWN):
                raise exc
            self.health.redis_ok = False
            await self._wait_for_redis(rt, exc)
        await self._drain(worker, main)

    async def _wait_for_redis(self, rt: Runtime, exc: BaseException) -> None:
        await self._pause("lost Redis", exc)
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(rt.pool.ping(), 2)  # type: ignore[union-attr]
            except REDIS_DOWN as again:
                await self._pause("Redis still unreachable", again)
                continue
            log.info("worker: Redis is back; resuming")
            self.health.redis_ok = True
            self.backoff.reset()
            return

    async def _drain(self, worker: Worker, main: asyncio.Task[None]) -> None:
        worker.allow_pick_jobs = False
        running = [t for t in worker.tasks.values() if not t.done()]
        log.info("worker: waiting for %d running job(s) before exiting", len(running))
        if running:
            await asyncio.wait(running, timeout=self.settings.worker.shutdown_timeout)
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError, *REDIS_DOWN):
            await main
        left = [t for t in worker.tasks.values() if not t.done()]
        if left:
            log.warning(
                "worker: %d job(s) still running at exit; another worker retries them", len(left)
            )
        with contextlib.suppress(asyncio.CancelledError, *REDIS_DOWN):
            await worker.close()  # gathers the jobs it cancelled
        log.info("worker: stopped")


async def run_worker(settings: Settings) -> None:
    process = WorkerProcess(settings)
    process.install_signals()
    await process.run()
