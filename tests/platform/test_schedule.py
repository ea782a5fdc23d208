"""Scheduled runs: planning, exactly-once execution (two real arq workers, a worker that
stops mid-run), and catch-up after the clock moved past several due times."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker
from redis.asyncio import Redis

from bot import schedule
from bot.deps import Deps, JobQueue
from bot.embedded_redis import EmbeddedRedis
from bot.metrics import REGISTRY
from bot.router import Router
from bot.settings import Settings
from jobs.worker import CORE_FUNCTIONS, timed
from storage.schedule import RunState, ScheduledRun
from tests.support import Clock, FakeQueue, fake_deps, stop_worker, wait_until

T0 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
router = Router("t")
CALLS: list[tuple[str, int, bool]] = []  # (key, attempt, late) of every handler call
HOLD = asyncio.Event()  # the "stuck" handler waits on it


@router.scheduled("tick", horizon=timedelta(hours=30), late_after=timedelta(minutes=10))
async def tick(deps: Deps, run: ScheduledRun) -> None:
    CALLS.append((run.key, run.attempts, run.late))


@router.scheduled("stuck", lease=timedelta(minutes=5))
async def stuck(deps: Deps, run: ScheduledRun) -> None:
    CALLS.append((run.key, run.attempts, run.late))
    if run.attempts == 1:
        await HOLD.wait()  # a worker that stops responding mid-run


@router.scheduled("flaky")
async def flaky(deps: Deps, run: ScheduledRun) -> None:
    CALLS.append((run.key, run.attempts, run.late))
    if run.attempts == 1:
        raise RuntimeError("WeCom said no")


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    HOLD.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> Deps:
    return fake_deps(settings, redis, [router], object(), clock=clock)


@pytest.fixture
async def pool(redis_server: EmbeddedRedis, redis: Redis) -> AsyncIterator[ArqRedis]:
    arq_pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    yield arq_pool
    await arq_pool.aclose()


def arq_worker(deps: Deps, pool: ArqRedis, *, burst: bool = True) -> Worker:
    return Worker(
        functions=[timed(f) for f in CORE_FUNCTIONS],
        redis_pool=pool,
        ctx={"deps": deps},
        burst=burst,
        poll_delay=0.01,
        handle_signals=False,
        max_jobs=1,
        keep_result=60,
    )


def real_queue(deps: Deps, pool: ArqRedis) -> Deps:
    return Deps(**{**deps.__dict__, "queue": JobQueue(pool)})


def counted(outcome: str) -> float:
    """scrmbot_scheduled_runs_total for the test feature (/metrics)."""
    labels = {"feature": "t.tick", "outcome": outcome}
    return REGISTRY.get_sample_value("scrmbot_scheduled_runs_total", labels) or 0.0


async def run_queued(deps: Deps) -> list[str]:
    """Execute what the sweeper enqueued on the fake queue, as a worker would."""
    assert isinstance(deps.queue, FakeQueue)
    return [await schedule.execute(deps, args[0]) for _, args in deps.queue.take()]


async def test_planning_is_idempotent_and_never_rewrites_a_run_that_ran(
    deps: Deps, clock: Clock
) -> None:
    await schedule.plan("t.tick", "a", T0 + timedelta(hours=1), {"n": 1})
    await schedule.plan("t.tick", "a", T0 + timedelta(hours=2), {"n": 2})  # moved
    run = await ScheduledRun.get(feature="t.tick", key="a")
    assert run.due_at == T0 + timedelta(hours=2) and run.payload == {"n": 2}
    clock.now = T0 + timedelta(hours=2)
    await schedule.sweep(deps)
    assert await run_queued(deps) == ["done"]
    await schedule.plan("t.tick", "a", T0 + timedelta(hours=5))  # too late: it ran
    run = await ScheduledRun.get(feature="t.tick", key="a")
    assert run.state is RunState.DONE and run.due_at == T0 + timedelta(hours=2)
    assert await ScheduledRun.filter(feature="t.tick").count() == 1


async def test_replace_cancels_unwanted_future_runs_and_revives_wanted_ones(
    deps: Deps, clock: Clock
) -> None:
    day = timedelta(days=1)
    wanted = {f"7:{n}": (T0 + n * day, None) for n in range(1, 4)}
    await schedule.replace("t.tick", "7:", wanted)
    await schedule.replace("t.tick", "7:", {"7:1": (T0 + day, None)}, since=T0)
    states = {r.key: r.state for r in await schedule.runs_of("t.tick", "7:")}
    assert states == {"7:1": "pending", "7:2": "cancelled", "7:3": "cancelled"}
    await schedule.replace("t.tick", "7:", wanted)
    states = {r.key: r.state for r in await schedule.runs_of("t.tick", "7:")}
    assert set(states.values()) == {"pending"}
    assert await schedule.cancel("t.tick", prefix="7:") == 3
    # Prefixes are exact: "a_" is no wildcard, and "ab:" is not "AB:" (SQLite's LIKE ignores case).
    await schedule.replace("t.tick", "AB:", {"AB:1": (T0 + day, None)})
    await schedule.replace("t.tick", "ab:", {}, since=T0)
    await schedule.replace("t.tick", "a_", {}, since=T0)
    assert await schedule.cancel("t.tick", prefix="ab:") == 0
    assert [r.state for r in await schedule.runs_of("t.tick", "AB:")] == ["pending"]
    clock.now = T0 + 5 * day
    assert await schedule.sweep(deps) == 0 and CALLS == []


async def test_concurrent_claims_run_the_handler_once(deps: Deps) -> None:
    await schedule.plan("t.tick", "k", T0)
    run = await ScheduledRun.get(key="k")
    outcomes = await asyncio.gather(*(schedule.execute(deps, run.id) for _ in range(5)))
    assert sorted(outcomes) == ["done"] + ["not claimed"] * 4
    assert CALLS == [("k", 1, False)]


async def test_two_real_arq_workers_run_a_run_once(deps: Deps, pool: ArqRedis) -> None:
    """The sweeper fired twice (same job id) and the job was enqueued again under other ids
    (arq running a job twice, Redis lost and refilled): the handler still runs once."""
    deps = real_queue(deps, pool)
    for n in range(3):
        await schedule.plan("t.tick", f"r{n}", T0 - timedelta(minutes=n))
    assert await schedule.sweep(deps) == 3
    assert await schedule.sweep(deps) == 3  # same ids: arq keeps one job each
    for run in await ScheduledRun.all():
        for copy in range(2):
            await pool.enqueue_job(schedule.RUN_JOB, run.id, _job_id=f"again-{run.id}-{copy}")
    workers = [arq_worker(deps, pool) for _ in range(2)]
    await asyncio.gather(*(w.main() for w in workers))
    assert sum(w.jobs_complete for w in workers) == 9
    for w in workers:
        await w.close()
    assert sorted(key for key, *_ in CALLS) == ["r0", "r1", "r2"]
    done = await ScheduledRun.filter(state=RunState.DONE, attempts=1).count()
    assert done == 3


async def test_redis_lost_before_the_run_the_next_sweep_brings_it_back(
    deps: Deps, pool: ArqRedis, redis: Redis
) -> None:
    deps = real_queue(deps, pool)
    await schedule.plan("t.tick", "lost", T0)
    assert await schedule.sweep(deps) == 1
    await redis.flushall()  # Redis lost with the queued job
    assert await schedule.sweep(deps) == 1  # the row is still pending: enqueued again
    worker = arq_worker(deps, pool)
    await worker.main()
    await worker.close()
    assert CALLS == [("lost", 1, False)]
    assert await schedule.sweep(deps) == 0


async def test_a_worker_stuck_mid_run_is_taken_over_once(
    deps: Deps, pool: ArqRedis, clock: Clock
) -> None:
    deps = real_queue(deps, pool)
    await schedule.plan("t.stuck", "s", T0)
    await schedule.sweep(deps)
    first = arq_worker(deps, pool, burst=False)
    first_task = asyncio.create_task(first.main())
    try:
        await wait_until(lambda: bool(CALLS))  # the first worker is inside the handler
        await schedule.sweep(deps)  # lease still held: nothing taken over
        assert (await ScheduledRun.get(key="s")).state is RunState.RUNNING
        clock.now = T0 + timedelta(minutes=6)  # the lease (5 min) ran out
        assert await schedule.sweep(deps) == 1
        # A burst worker would wait for the stuck job to leave arq's queue: run one until done.
        second = arq_worker(deps, pool, burst=False)
        second_task = asyncio.create_task(second.main())
        await wait_until(lambda: ScheduledRun.exists(key="s", state=RunState.DONE))
        await stop_worker(second, second_task)
        run = await ScheduledRun.get(key="s")
        assert run.state is RunState.DONE and run.attempts == 2
        HOLD.set()  # the first worker wakes up: its late finish changes nothing
        await wait_until(lambda: first.jobs_complete + first.jobs_failed >= 1)
        assert await ScheduledRun.get(key="s") == run
        assert (await ScheduledRun.get(key="s")).attempts == 2
    finally:
        await stop_worker(first, first_task)
    assert [attempt for _, attempt, _ in CALLS] == [1, 2]


async def test_clock_moved_past_three_due_times(deps: Deps, clock: Clock) -> None:
    """Every worker was down for three days: the run past the horizon is skipped (recorded),
    the one still within it runs late, today's runs on time; none runs twice."""
    day = timedelta(days=1)
    for n in range(3):
        await schedule.plan("t.tick", f"day{n}", T0 + n * day)
    before = {o: counted(o) for o in ("done", "late", "skipped")}
    clock.now = T0 + 2 * day + timedelta(minutes=1)
    assert await schedule.sweep(deps) == 2
    assert sorted(await run_queued(deps)) == ["done", "done"]
    runs = {r.key: r for r in await ScheduledRun.all()}
    assert runs["day0"].state is RunState.SKIPPED and runs["day0"].late
    assert runs["day1"].state is RunState.DONE and runs["day1"].late
    assert runs["day2"].state is RunState.DONE and not runs["day2"].late
    assert sorted(CALLS) == [("day1", 1, True), ("day2", 1, False)]
    assert {o: counted(o) - n for o, n in before.items()} == {"done": 1, "late": 1, "skipped": 1}
    clock.now += day
    assert await schedule.sweep(deps) == 0
    assert len(CALLS) == 2


async def test_a_failed_run_is_retried_later_and_then_done(deps: Deps, clock: Clock) -> None:
    await schedule.plan("t.flaky", "f", T0)
    await schedule.sweep(deps)
    assert await run_queued(deps) == ["retry"]
    run = await ScheduledRun.get(key="f")
    assert run.state is RunState.PENDING and "WeCom said no" in (run.last_error or "")
    assert await schedule.sweep(deps) == 0  # backing off
    clock.now = T0 + timedelta(minutes=3)
    await schedule.sweep(deps)
    assert await run_queued(deps) == ["done"]
    assert [a for _, a, _ in CALLS] == [1, 2]
