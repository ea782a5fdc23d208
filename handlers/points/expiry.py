"""Expiry as scheduled runs: one run per distinct expiry instant (lots expire at a local
midnight), planned when a lot is credited and re-planned hourly from the lots; each run
expires every lot due by then. Idempotent: a lot is re-read under its customer's lock and
its expiry entry has a unique key."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from bot import schedule
from bot.conversation import send_once
from bot.deps import Deps
from bot.replies import MessageReply
from cards.points import expiry_card
from handlers.points import ledger
from handlers.points.config import program
from handlers.points.router import router
from storage.facts import FollowRelation
from storage.points import PointsLot
from storage.schedule import ScheduledRun

KIND = "points.expire"
REMIND_KIND = "points.remind"


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
    cfg, _ = await program()
    if cfg.expiry_remind_days:
        due = at - timedelta(days=cfg.expiry_remind_days)
        await schedule.plan(REMIND_KIND, key, max(due, deps.now()), {"at": at.isoformat()})
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


@router.scheduled("remind", title="积分过期提醒")
async def remind_run(deps: Deps, run: ScheduledRun) -> None:
    """Before an expiry: each owning staff member gets one card naming their customers whose
    points expire then (once per staff member and instant)."""
    at = datetime.fromisoformat(str(run.payload["at"])).astimezone(UTC)
    lots = await PointsLot.filter(remaining__gt=0, expires_at=at).values_list(
        "external_userid", "remaining"
    )
    points: dict[str, int] = defaultdict(int)
    for ext, remaining in lots:
        points[str(ext)] += int(remaining)
    if not points:
        return
    owners: dict[str, dict[str, int]] = defaultdict(dict)
    rels = await FollowRelation.filter(external_userid__in=sorted(points), active=True).order_by(
        "added_at"
    )
    for rel in rels:
        if not any(rel.external_userid in mine for mine in owners.values()):
            owners[rel.userid][rel.external_userid] = points[rel.external_userid]
    day = (at.astimezone(deps.settings.tz) - timedelta(seconds=1)).strftime("%m-%d")
    for userid, mine in sorted(owners.items()):
        card = expiry_card(
            customers=len(mine),
            points=sum(mine.values()),
            day=day,
            url=deps.url("/sidebar"),
            task_id=f"points-remind-{run.key}-{userid}"[:128],
        )
        await send_once(
            deps,
            f"points.remind:{run.key}:{userid}",
            userid,
            "points.remind",
            MessageReply.card(card),
        )
