"""The hourly sweep (a scheduled run, exactly once per hour): the rules over every relation
(time conditions such as days since added become true without any event), then the
reminders, then StageMoved for recent moves whose event a crash may have lost."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from bot import schedule
from bot.auth import DEPARTMENT_MEMBERS_LOOKUP
from bot.deps import Deps
from bot.domain_events import StageMoved, event_key
from cards.stages import Reminder, reminder_card
from handlers.stages.engine import announce, apply_rules, automated_plans, load_facts, load_plan
from handlers.stages.router import router
from storage.core import ConsoleRole, DomainEventRow
from storage.directory import Staff
from storage.facts import Customer, FollowRelation, TimelineEntry
from storage.schedule import ScheduledRun
from storage.stages import (
    Journey,
    Stage,
    StageCurrent,
    StageReminder,
    StageReminderLog,
    StageTransition,
)

log = logging.getLogger(__name__)
SWEEP = "stages.sweep"
PLANNED_HOURS = 3
# No message-archive (会话存档) data is kept, so "not contacted for N days" cannot be known.
SILENT_DISABLED = "未接入会话存档（消息存档），无法得知最后联系时间，该提醒不可用"


def sweep_key(hour: datetime) -> str:
    return f"sweep:{hour.astimezone(UTC):%Y%m%d%H}"


@router.planner
async def plan_sweeps(deps: Deps) -> None:
    """The next hours' sweeps (re-planning is idempotent)."""
    start = deps.now().astimezone(UTC).replace(minute=5, second=0, microsecond=0)
    wanted = {
        sweep_key(start + timedelta(hours=i)): (start + timedelta(hours=i), None)
        for i in range(1, PLANNED_HOURS + 1)
    }
    await schedule.replace(SWEEP, None, wanted)


@router.scheduled("sweep", horizon=timedelta(minutes=50), title="客户阶段：自动规则与提醒")
async def on_sweep(deps: Deps, run: ScheduledRun) -> None:
    await sweep(deps)
    await plan_sweeps(deps)


async def sweep(deps: Deps) -> dict[str, int]:
    moved = await sweep_rules(deps)
    sent = await send_reminders(deps)
    await reannounce(deps, since=deps.now() - timedelta(hours=3))
    return {"moved": moved, "reminded": sent}


async def sweep_rules(deps: Deps) -> int:
    plans = await automated_plans()
    if not plans:
        return 0
    rels = await load_facts()
    moved = 0
    for plan in plans:
        moved += len(await apply_rules(deps, plan, rels, "sweep", everyone=True))
    return moved


APPLY_JOB = "stages_apply_journey"


@router.job
async def stages_apply_journey(ctx: dict[str, Any], journey_id: int) -> None:
    """A journey's rules over every relation now (enqueued when its rules are saved, so a
    rule switched on moves relations at once rather than at the next hourly sweep)."""
    deps: Deps = ctx["deps"]
    journey = await Journey.get_or_none(id=journey_id, deleted=False)
    if journey is None or not journey.automation:
        return
    plan = await load_plan(journey)
    if plan.rules:
        moved = await apply_rules(deps, plan, await load_facts(), "rules_saved", everyone=True)
        log.info("stages: journey %s rules applied, %s moved", journey_id, len(moved))


async def apply_soon(deps: Deps, journey_id: int) -> None:
    """Best effort: when Redis is down the hourly sweep applies the rules anyway."""
    try:
        stamp = int(deps.now().timestamp())
        await deps.queue.enqueue(APPLY_JOB, journey_id, job_id=f"stages-apply:{journey_id}:{stamp}")
    except Exception as exc:
        log.warning("stages: could not enqueue applying journey %s (%s)", journey_id, exc)


async def reannounce(deps: Deps, since: datetime) -> int:
    """Announce the recent moves whose StageMoved or 客户动态 entry is missing (the process
    stopped between the move and its announcement); how many."""
    rows = await StageTransition.filter(at__gte=since.astimezone(UTC)).order_by("id")
    done = 0
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        events = {r.key: event_key(StageMoved.kind, r.key) for r in chunk}
        found = DomainEventRow.filter(key__in=list(events.values()))
        published = {str(k) for k in await found.values_list("key", flat=True)}
        entries = TimelineEntry.filter(key__in=[f"stage:{r.id}" for r in chunk])
        written = {str(k) for k in await entries.values_list("key", flat=True)}
        for row in chunk:
            if events[row.key] not in published or f"stage:{row.id}" not in written:
                await announce(deps, row)
                done += 1
    return done


async def send_reminders(deps: Deps) -> int:
    now = deps.now()
    sent = 0
    for journey in await Journey.filter(deleted=False, reminders=True).order_by("position"):
        stages = {s.id: s for s in await Stage.filter(journey_id=journey.id, deleted=False)}
        reminders = await StageReminder.filter(
            journey_id=journey.id, deleted=False, enabled=True, kind="stay"
        )
        for rem in reminders:
            stage = stages.get(rem.stage_id)
            if stage is None:
                continue
            due = await StageCurrent.filter(
                journey_id=journey.id,
                stage_id=stage.id,
                entered_at__lte=(now - timedelta(days=rem.days)).astimezone(UTC),
            ).values_list("userid", "external_userid", "transition_id", "entered_at")
            for userid, ext, transition_id, entered_at in due:
                if await _remind(deps, journey, stage, rem, userid, ext, transition_id, entered_at):
                    sent += 1
    return sent


async def admins_of(deps: Deps, userid: str) -> list[str]:
    """Who 提醒管理员 reaches for a staff member: the console's super admins and admins, and
    the department admins whose departments hold them."""
    found = list(deps.settings.security.super_admins)
    members_of = deps.dispatcher.lookup(DEPARTMENT_MEMBERS_LOOKUP)
    for grant in await ConsoleRole.filter(role__in=["admin", "dept_admin"]).order_by("userid"):
        if grant.role == "admin":
            found.append(grant.userid)
        elif members_of is not None and grant.departments:
            depts = frozenset(int(d) for d in grant.departments)
            if userid in await members_of(depts):
                found.append(grant.userid)
    return list(dict.fromkeys(found))


async def _remind(
    deps: Deps,
    journey: Journey,
    stage: Stage,
    rem: StageReminder,
    userid: str,
    ext: str,
    transition_id: int,
    entered_at: datetime,
) -> bool:
    if journey.members and userid not in journey.members:
        return False
    if not await FollowRelation.exists(userid=userid, external_userid=ext, active=True):
        return False
    try:
        logged = await StageReminderLog.create(
            transition_id=transition_id,
            reminder_id=rem.id,
            userid=userid,
            external_userid=ext,
            sent_at=deps.now(),
        )
    except IntegrityError:
        return False  # this stage entry had this reminder
    to = ([userid] if rem.to_owner else []) + (
        await admins_of(deps, userid) if rem.to_admins else []
    )
    to = list(dict.fromkeys(to))
    if not to:
        return False
    customer = await Customer.get_or_none(external_userid=ext)
    staff = await Staff.get_or_none(userid=userid)
    card = reminder_card(
        Reminder(
            customer_name=(customer.name if customer and customer.name else "未知客户"),
            journey_name=journey.name,
            stage_name=stage.name,
            days=rem.days,
            stayed_days=max(0, (deps.now() - entered_at).days),
            staff_name=staff.name if staff else userid,
            profile_url=deps.url(f"/sidebar?open=profile&external_userid={ext}"),
        ),
        task_id=f"stage-remind-{logged.id}-{uuid.uuid4().hex[:8]}",  # unique per app, ever
    )
    try:
        await deps.wecom.send_template_card(to, card)
    except Exception:
        log.warning(
            "stages: reminder %s for %s/%s not sent; retried next sweep", rem.id, userid, ext
        )
        await logged.delete()
        return False
    return True
