"""Expiry as scheduled runs: one run per distinct expiry instant (lots expire at a local
midnight), planned when a lot is credited and re-planned hourly from the lots; each run
expires every lot due by then. Idempotent: a lot is re-read under its customer's lock and
its expiry entry has a unique key."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import schedule
from bot.deps import Deps
from handlers.points import ledger
from handlers.points.router import router
from storage.points import PointsLot
from storage.schedule import ScheduledRun

KIND = "points.expire"


def run_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


async def plan_for(deps: Deps, at: datetime) -> None:
    """Plan the run for this instant; once per process (planning is idempotent, and the
    hourly planner re-plans from the lots, so a forgotten mark costs nothing)."""
    key = run_key(at)
    planned: set[str] = deps.state.resources.setdefault(plan_for, set())
    if key in planned:
        return
    await schedule.plan(KIND, key, at)
    planned.add(key)
    if len(planned) > 10_000:
        planned.clear()


@router.scheduled("expire", title="积分到期")
async def expire_run(deps: Deps, run: ScheduledRun) -> None:
    await ledger.expire_due(deps, min(run.due_at, deps.now()))


@router.planner
async def plan_expiries(deps: Deps) -> None:
    """Every future expiry instant of lots with points left (and any missed one)."""
    rows = await PointsLot.filter(remaining__gt=0, expires_at__isnull=False).values_list(
        "expires_at", flat=True
    )
    found: set[datetime] = set()
    for value in rows:
        if isinstance(value, datetime):
            found.add(value)
    for at in sorted(found)[:1000]:
        await plan_for(deps, at)
