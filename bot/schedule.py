"""Scheduled runs, executed exactly once, with catch-up after an outage.

A feature registers a handler with `@router.scheduled("daily", horizon=...)` (its name is
"<router>.daily") and plans runs under its own keys: `plan(...)`, `replace(...)`, `cancel(...)`.
The sweeper (a core cron, also at worker start) enqueues due runs; `execute` claims a run with a
conditional UPDATE, so a job that arq runs twice, or two sweepers after Redis was lost, still
run the handler once. A worker that dies mid-run leaves the run claimed until its lease ends;
the next sweep enqueues it again, so the handler's effect must be idempotent (unique keys).

A run executed more than `late_after` past its due time is marked late (延迟); one found more
than `horizon` past it is recorded as skipped and never run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F, Q

from bot.metrics import SCHEDULED_RUNS
from storage.schedule import RunState, ScheduledRun

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.router import ScheduledRoute

log = logging.getLogger(__name__)

RUN_JOB = "scheduled_run"
MAX_ATTEMPTS = 5
SWEEP_BATCH = 500
_OPEN = (RunState.PENDING, RunState.CANCELLED)  # states a plan may (re)write

Planned = Mapping[str, tuple[datetime, dict[str, Any] | None]]  # key -> (due_at, payload)


# --- planning (called by features) -----------------------------------------------------------


async def plan(
    feature: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None
) -> None:
    """Create the run, or move it if it has not run yet; a run that ran is left alone."""
    await replace(feature, None, {key: (due_at, payload)})


async def replace(
    feature: str, prefix: str | None, wanted: Planned, *, since: datetime | None = None
) -> None:
    """Make the feature's runs whose key starts with `prefix` the `wanted` ones: new keys are
    created, open ones updated, and pending runs not wanted (due at or after `since`, if given)
    cancelled. Runs that already ran or were skipped are never touched, so re-planning is safe
    at any time. With `prefix` None, only the wanted keys are planned."""
    existing: dict[str, ScheduledRun] = {}
    if prefix is not None:
        existing = {r.key: r for r in await _with_prefix(feature, prefix)}
    elif wanted:
        rows = await ScheduledRun.filter(feature=feature, key__in=list(wanted))
        existing = {r.key: r for r in rows}
    new = [
        ScheduledRun(feature=feature, key=key, due_at=due, payload=payload or {})
        for key, (due, payload) in wanted.items()
        if key not in existing
    ]
    if new:
        await ScheduledRun.bulk_create(new, ignore_conflicts=True)
    for key, (due, payload) in wanted.items():
        row = existing.get(key)
        if row is None or row.state not in _OPEN:
            continue
        if row.state is RunState.PENDING and row.due_at == due and row.payload == (payload or {}):
            continue
        await ScheduledRun.filter(id=row.id, state__in=_OPEN).update(
            state=RunState.PENDING, due_at=due, payload=payload or {}, lease_until=None
        )
    unwanted = [
        r.id
        for k, r in existing.items()
        if k not in wanted and r.state is RunState.PENDING and (since is None or r.due_at >= since)
    ]
    if unwanted:
        await ScheduledRun.filter(id__in=unwanted, state=RunState.PENDING).update(
            state=RunState.CANCELLED
        )


async def cancel(feature: str, *, key: str | None = None, prefix: str | None = None) -> int:
    """Withdraw pending runs (one key, or every key with `prefix`); returns how many."""
    query = ScheduledRun.filter(feature=feature, state=RunState.PENDING)
    if key is not None:
        query = query.filter(key=key)
    elif prefix is not None:
        ids = [r.id for r in await _with_prefix(feature, prefix) if r.state is RunState.PENDING]
        query = query.filter(id__in=ids)
    else:
        raise ValueError("cancel needs a key or a prefix")
    return int(await query.update(state=RunState.CANCELLED))


async def runs_of(feature: str, prefix: str = "") -> list[ScheduledRun]:
    return sorted(await _with_prefix(feature, prefix), key=lambda r: (r.due_at, r.id))


async def _with_prefix(feature: str, prefix: str) -> list[ScheduledRun]:
    """SQL narrows by LIKE (case-insensitive in SQLite); the exact, case-sensitive test is
    done here so one owner's prefix never reaches another's runs."""
    rows = await ScheduledRun.filter(feature=feature, key__startswith=prefix)
    return [r for r in rows if r.key.startswith(prefix)]


# --- sweeping and executing (called by the worker) --------------------------------------------


def job_id(run: ScheduledRun) -> str:
    """The run's key, plus its attempt count: two sweepers enqueue the same attempt once, and a
    retry after a dead worker is not refused by arq's kept result of the attempt before."""
    return f"sched:{run.feature}:{run.key}:{run.attempts}"


def _claimable(now: datetime) -> Q:
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    pending = Q(state=RunState.PENDING) & free
    stale = Q(state=RunState.RUNNING, lease_until__lte=now)  # its worker died or hung
    return Q(pending | stale, due_at__lte=now)


def _past_horizon(route: ScheduledRoute, run: ScheduledRun, now: datetime) -> bool:
    return route.horizon is not None and now > run.due_at + route.horizon


async def _skip(run: ScheduledRun, now: datetime) -> bool:
    skipped = await ScheduledRun.filter(_claimable(now), id=run.id).update(
        state=RunState.SKIPPED, done_at=now, late=True, last_error="past the feature's horizon"
    )
    if skipped:
        log.warning("scheduled run %s %s skipped: past its horizon", run.feature, run.key)
        SCHEDULED_RUNS.labels(run.feature, "skipped").inc()
    return bool(skipped)


async def sweep(deps: Deps) -> int:
    """Enqueue every due run (and every run whose worker died); returns how many."""
    now = deps.now()
    routes = deps.dispatcher.scheduled
    due = await ScheduledRun.filter(_claimable(now)).order_by("due_at").limit(SWEEP_BATCH)
    enqueued = 0
    for run in due:
        route = routes.get(run.feature)
        if route is None:
            log.warning("scheduled run %s %s has no handler", run.feature, run.key)
            continue
        if _past_horizon(route, run, now):
            await _skip(run, now)
            continue
        await deps.queue.enqueue(RUN_JOB, run.id, job_id=job_id(run))
        enqueued += 1
    return enqueued


async def execute(deps: Deps, run_id: int) -> str:
    """Claim the run and call its handler; the outcome ("done", "not claimed", ...)."""
    run = await ScheduledRun.get_or_none(id=run_id)
    if run is None:
        return "missing"
    route = deps.dispatcher.scheduled.get(run.feature)
    if route is None:
        return "no handler"
    now = deps.now()
    if _past_horizon(route, run, now):
        return "skipped" if await _skip(run, now) else "not claimed"
    claimed = await ScheduledRun.filter(_claimable(now), id=run.id).update(
        state=RunState.RUNNING,
        attempts=F("attempts") + 1,
        lease_until=now + route.lease,
        started_at=now,
        late=now - run.due_at > route.late_after,
    )
    if not claimed:
        return "not claimed"
    run = await ScheduledRun.get(id=run_id)
    mine = ScheduledRun.filter(id=run.id, state=RunState.RUNNING, attempts=run.attempts)
    try:
        await route.handler(deps, run)
    except Exception as exc:
        log.exception("scheduled run %s %s failed", run.feature, run.key)
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if run.attempts >= MAX_ATTEMPTS:
            await mine.update(state=RunState.FAILED, done_at=deps.now(), last_error=error)
            SCHEDULED_RUNS.labels(run.feature, "failed").inc()
            return "failed"
        retry_at = deps.now() + timedelta(minutes=2**run.attempts)
        await mine.update(state=RunState.PENDING, lease_until=retry_at, last_error=error)
        SCHEDULED_RUNS.labels(run.feature, "retry").inc()
        return "retry"
    await mine.update(state=RunState.DONE, done_at=deps.now(), lease_until=None)
    SCHEDULED_RUNS.labels(run.feature, "late" if run.late else "done").inc()
    return "done"


async def plan_all(deps: Deps) -> None:
    """Every feature's planner (re)computes its runs from its own rows; one failing does not
    stop the others."""
    for planner in deps.dispatcher.planners:
        try:
            await planner(deps)
        except Exception:
            log.exception("schedule planner %s failed", getattr(planner, "__qualname__", planner))
