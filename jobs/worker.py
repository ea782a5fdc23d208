"""The arq worker: the core's inbox jobs plus every feature's jobs and cron schedules.

Cron jobs are `unique` (arq's default for cron) so N workers fire each run once; every job is
idempotent because arq may run a job more than once.

A running job's lock is a lease renewed while it runs (arq would otherwise hold every job's
lock for the longest timeout of any function, an hour for the nightly sync): a job stranded on
a dead worker is picked up by another within `[worker] lease_seconds`. Each job keeps its own
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from arq import cron
from arq.constants import in_progress_key_prefix
from arq.worker import Function, Worker, func

from bot import contact_ways, domain_events, event_delivery, inbox, retention, schedule
from bot.deps import Deps
from bot.metrics import JOB_FAILURES, JOB_SECONDS
from bot.runtime import Runtime

log = logging.getLogger(__name__)
DRAIN_KEY = "inbox_drain"


async def process_inbox(ctx: dict[str, Any], row_id: int) -> str | None:
    status = await inbox.process(ctx["deps"], row_id)
    return status.value if status else None


async def process_inbox_batch(ctx: dict[str, Any], row_ids: list[int]) -> int:
    """Rows stored together are processed together (see `inbox.process_batch`); the batches
    whose jobs start while one is being processed are joined into the next, and when the
    worker is behind each set is topped up with the rows still pending after them (their own
    jobs then find them done), so a burst is handled in sets of hundreds however small the
    web's commits were. Returns this job's rows done."""
    drain: InboxDrain | None = ctx.get(DRAIN_KEY)
    if drain is None:  # arq gives each job a copy of the worker's ctx: `build_worker` sets it
        drain = ctx[DRAIN_KEY] = InboxDrain(ctx["deps"])
    return await drain.submit(row_ids)


class InboxDrain:
    """Sets of inbox rows, up to `IN_FLIGHT` at a time per worker (one's WeCom reads and
    database round trips overlap the others' work): the queued batches' rows, topped up with
    pending rows past the last set up to `SET_ROWS`, each row leased in Redis for its set so
    that two sets (of this worker or another) never process the same row at once."""

    SET_ROWS = 500
    # bench.callbacks' drain: 3 sets in flight left the worker waiting a third of the time
    # (2,060 events/s on SQLite, 2,190 on PostgreSQL); 12 keep it busy (2,600 and 2,630-2,760).
    IN_FLIGHT = 12

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.owner = uuid.uuid4().hex
        self.after = 0  # pending rows past this id were not pulled yet by this worker
        self._sets = 0
        self._running = 0
        self._waiting: list[tuple[list[int], asyncio.Future[int]]] = []
        self._claiming = asyncio.Lock()  # one set's claim at a time: they share the cursor
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, row_ids: list[int]) -> int:
        """This job's rows processed in a set (the jobs starting in the same tick, and those
        starting while the sets in flight run, share the next); its rows done."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((row_ids, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self._running < self.IN_FLIGHT and self._waiting:
            self._running += 1
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        await asyncio.sleep(0)  # the jobs started in this tick join
        batch, self._waiting = self._waiting, []
        try:
            if batch:
                results = await self._process([row_ids for row_ids, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._running -= 1
            self._start()

    async def _process(self, batches: list[list[int]]) -> list[int]:
        own = list(dict.fromkeys(row_id for batch in batches for row_id in batch))
        self._sets += 1
        owner = f"{self.owner}:{self._sets}"
        async with self._claiming:
            rows, claimed = await self._claim(owner, own)
        if not rows:  # every row was done already, or is in another set now
            return [0] * len(batches)
        try:
            with domain_events.held_for_caller() as published:
                done = await inbox.process_rows(self.deps, rows)
        finally:
            with contextlib.suppress(Exception):  # the leases expire on their own
                await inbox.release_rows(self.deps, owner, claimed)
        await self._deliver(published)
        return [sum(row_id in done for row_id in batch) for batch in batches]

    async def _deliver(self, event_ids: list[int]) -> None:
        """The domain events the set published, delivered at once by this worker: a job of
        theirs would wait behind every inbox job queued before it (all of a burst's)."""
        if not event_ids:
            return
        try:
            await event_delivery.process_many(self.deps, event_ids)
        except Exception:  # left pending (or failed, with their retry): the requeue cron's
            log.exception("inbox: delivering the set's %d domain events failed", len(event_ids))

    async def _claim(self, owner: str, own: list[int]) -> tuple[list[int], list[tuple[int, str]]]:
        """The set's rows: the jobs' own and the pending rows after them, less those another
        worker's set holds (it is processing them now: an own row left to it stays pending
        for the requeue cron if that worker dies); and the leases taken."""
        try:
            after = max(self.after, min(own, default=0) - 1)
            mine = set(own)
            rows = await inbox.pending_after(after, self.SET_ROWS + len(own), own)
            room = max(0, self.SET_ROWS - sum(i in mine for i, _ in rows))
            candidates = [i for i, _ in rows if i not in mine][:room]
            wanted = mine | set(candidates)
            rows = [r for r in rows if r[0] in wanted]
            taken = await inbox.claim_rows(self.deps, owner, rows)
        except Exception:  # Redis away: the set goes with its own rows, as arq gave them
            log.exception("inbox: claiming the set's rows failed")
            return own, []
        if candidates:
            self.after = max(self.after, candidates[-1])
        held = [r for r in rows if r[0] in taken]
        return [i for i, _ in held], held


async def requeue_stranded(ctx: dict[str, Any]) -> int:
    return await inbox.requeue_stranded(ctx["deps"])


async def scheduled_run(ctx: dict[str, Any], run_id: int) -> str:
    return await schedule.execute(ctx["deps"], run_id)


async def sweep_schedule(ctx: dict[str, Any]) -> int:
    return await schedule.sweep(ctx["deps"])


async def plan_schedules(ctx: dict[str, Any]) -> None:
    await schedule.plan_all(ctx["deps"])


async def delete_expired_ways(ctx: dict[str, Any]) -> int:
    return await contact_ways.delete_expired(ctx["deps"])


async def deliver_event(ctx: dict[str, Any], event_id: int) -> str | None:
    status = await event_delivery.process(ctx["deps"], event_id)
    return status.value if status else None


async def deliver_events(ctx: dict[str, Any], event_ids: list[int]) -> int:
    return await event_delivery.process_many(ctx["deps"], event_ids)


async def requeue_events(ctx: dict[str, Any]) -> int:
    return await event_delivery.requeue_stranded(ctx["deps"])


async def prune_retention(ctx: dict[str, Any]) -> dict[str, int]:
    return await retention.prune(ctx["deps"])


# Per-job timeouts: one row, a batch of up to 256 rows, the requeue sweeps, one domain event;
# a scheduled run's timeout stays under its claim's lease (15 min by default) so a live claim
# is never taken over.
CORE_FUNCTIONS: dict[Callable[..., Awaitable[Any]], float] = {
    process_inbox: 120,
    process_inbox_batch: 600,
    requeue_stranded: 120,
    scheduled_run: 600,
    sweep_schedule: 120,
    plan_schedules: 600,
    delete_expired_ways: 600,
    deliver_event: 300,
    deliver_events: 600,
    requeue_events: 120,
    prune_retention: 600,
}
CORE_CRONS = [
    cron(requeue_stranded, second={0, 30}, unique=True, run_at_startup=True),
    # At start too: runs missed while every worker was down are caught up at once.
    cron(sweep_schedule, second={0, 30}, unique=True, run_at_startup=True),
    cron(plan_schedules, minute={7}, second={0}, unique=True, run_at_startup=True),
    cron(delete_expired_ways, minute={3, 18, 33, 48}, second={0}, unique=True),
    cron(requeue_events, second={15, 45}, unique=True, run_at_startup=True),
    cron(prune_retention, minute={41}, second={0}, unique=True),
]


def timed(fn: Callable[..., Awaitable[Any]], timeout: float | None = None) -> Function:
    """The job under its own name, with its duration and failures in /metrics."""

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await fn(ctx, *args, **kwargs)
        except Exception:
            JOB_FAILURES.labels(fn.__name__).inc()
            raise
        finally:
            JOB_SECONDS.labels(fn.__name__).observe(time.perf_counter() - start)

    return func(run, name=fn.__name__, timeout=timeout)


class LeasedWorker(Worker):
    """arq's worker with job locks as short leases, renewed on its heartbeat."""

    def __init__(self, *args: Any, lease_seconds: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_progress_timeout_s = lease_seconds
        self._renewed_at = 0.0

    async def heart_beat(self) -> None:
        await super().heart_beat()
        now = time.monotonic()
        if now - self._renewed_at < self.in_progress_timeout_s / 3 or not self.tasks:
            return
        self._renewed_at = now
        lease_ms = int(self.in_progress_timeout_s * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id, task in self.tasks.items():
                if not task.done():
                    pipe.pexpire(in_progress_key_prefix + job_id, lease_ms)
            await pipe.execute()


def build_worker(rt: Runtime, *, burst: bool = False, handle_signals: bool = True) -> Worker:
    """A worker that shares the runtime's Deps (ctx["deps"]) and arq pool."""
    dispatcher = rt.deps.dispatcher
    functions = [timed(f, t) for f, t in CORE_FUNCTIONS.items()]
    return LeasedWorker(
        functions=[*functions, *(timed(f) for f in dispatcher.jobs)],
        cron_jobs=[*CORE_CRONS, *dispatcher.crons],
        redis_pool=rt.pool,
        # One drain for all the worker's jobs (each job gets a shallow copy of this ctx).
        ctx={"deps": rt.deps, DRAIN_KEY: InboxDrain(rt.deps)},
        burst=burst,
        poll_delay=0.05 if burst else 0.5,
        handle_signals=handle_signals,
        max_jobs=20,
        job_timeout=300,
        keep_result=60,
        max_tries=5,
        lease_seconds=rt.settings.worker.lease_seconds,
    )
