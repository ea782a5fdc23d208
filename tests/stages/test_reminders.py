"""Reminders: one card per (stage entry, reminder rule) to the staff member who holds the
relation, with a button to the customer profile; a failed send is retried by the next sweep;
off per journey; the sweep is a scheduled run planned hourly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import schedule
from bot.deps import Deps
from handlers.stages import engine, sweep
from storage.schedule import ScheduledRun
from storage.stages import MoveBy, StageReminder, StageReminderLog
from tests.stages.conftest import make_journey
from tests.support import Clock, run_due

pytestmark = pytest.mark.usefixtures("corp")


async def enter(deps: Deps, journey_id: int, stage_id: int, key: str) -> None:
    await engine.move(
        deps,
        journey_id=journey_id,
        userid="alice",
        external_userid="wm_ann",
        to_stage_id=stage_id,
        by=MoveBy.STAFF,
        key=key,
    )


async def test_one_reminder_per_stage_entry(deps: Deps, clock: Clock) -> None:
    journey, stages = await make_journey()
    await StageReminder.create(journey_id=journey.id, stage_id=stages[1].id, kind="stay", days=3)
    await StageReminder.create(
        journey_id=journey.id, stage_id=stages[1].id, kind="silent", days=1, enabled=True
    )
    await enter(deps, journey.id, stages[1].id, "in-1")
    cards = deps.wecom.cards  # type: ignore[attr-defined]
    clock.advance(timedelta(days=2).total_seconds())
    await sweep.sweep(deps)
    assert cards == []
    clock.advance(timedelta(days=1, hours=1).total_seconds())
    await sweep.sweep(deps)
    await sweep.sweep(deps)
    assert len(cards) == 1  # once, and the not-contacted rule never fires without data
    to, card = cards[0]
    assert to == ["alice"]
    assert card["main_title"]["title"] == "客户 安 待跟进"
    assert "有意向" in card["main_title"]["desc"]
    button = card["button_list"][0]
    assert button["type"] == 1 and button["url"].endswith(
        "/sidebar?open=profile&external_userid=wm_ann"
    )
    # out and back in: a new entry, reminded again after its own 3 days
    await enter(deps, journey.id, stages[2].id, "out-1")
    await enter(deps, journey.id, stages[1].id, "in-2")
    await sweep.sweep(deps)
    assert len(cards) == 1
    clock.advance(timedelta(days=3, hours=1).total_seconds())
    await sweep.sweep(deps)
    assert len(cards) == 2
    assert await StageReminderLog.all().count() == 2


async def test_failed_send_is_retried_and_switch_off(deps: Deps, clock: Clock) -> None:
    journey, stages = await make_journey()
    await StageReminder.create(journey_id=journey.id, stage_id=stages[0].id, kind="stay", days=1)
    await enter(deps, journey.id, stages[0].id, "in-1")
    clock.advance(timedelta(days=2).total_seconds())
    deps.wecom.down = True  # type: ignore[attr-defined]
    await sweep.sweep(deps)
    assert await StageReminderLog.all().count() == 0
    deps.wecom.down = False  # type: ignore[attr-defined]
    journey.reminders = False
    await journey.save()
    await sweep.sweep(deps)
    assert deps.wecom.cards == []  # type: ignore[attr-defined]
    journey.reminders = True
    await journey.save()
    await sweep.sweep(deps)
    assert len(deps.wecom.cards) == 1  # type: ignore[attr-defined]


async def test_sweep_runs_as_hourly_scheduled_runs(deps: Deps, clock: Clock) -> None:
    from tests.stages.conftest import make_rule

    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "days_added", "days": 10})
    await sweep.plan_sweeps(deps)
    runs = await schedule.runs_of(sweep.SWEEP, "sweep:")
    assert len(runs) == sweep.PLANNED_HOURS
    await sweep.plan_sweeps(deps)  # idempotent
    assert await ScheduledRun.filter(feature=sweep.SWEEP).count() == sweep.PLANNED_HOURS
    clock.advance(timedelta(hours=1, minutes=10).total_seconds())
    assert await run_due(deps) == ["done"]
    assert await engine.rebuild_current(journey.id)  # the relations moved
    assert await run_due(deps) == []  # nothing due twice


async def test_sweep_announces_a_move_whose_event_was_lost(deps: Deps) -> None:
    """The process stopped between a move and its StageMoved / 客户动态 entry: the next
    sweep writes them, once."""
    from storage.core import DomainEventRow
    from storage.facts import TimelineEntry

    journey, stages = await make_journey()
    await enter(deps, journey.id, stages[0].id, "in-1")
    await DomainEventRow.filter(kind="StageMoved").delete()
    await TimelineEntry.filter(kind="stage").delete()
    assert await sweep.reannounce(deps, since=deps.now() - timedelta(hours=1)) == 1
    assert await sweep.reannounce(deps, since=deps.now() - timedelta(hours=1)) == 0
    assert await DomainEventRow.filter(kind="StageMoved").count() == 1
    assert await TimelineEntry.filter(kind="stage").count() == 1


async def test_reminder_to_admins_reaches_the_staff_members_admins(
    deps: Deps, clock: Clock
) -> None:
    from storage.core import ConsoleRole

    await ConsoleRole.create(userid="dora", role="dept_admin", departments=[2])  # alice's
    await ConsoleRole.create(userid="sam", role="dept_admin", departments=[3])  # carol's
    await ConsoleRole.create(userid="ada", role="admin")
    journey, stages = await make_journey()
    await StageReminder.create(
        journey_id=journey.id, stage_id=stages[0].id, kind="stay", days=1,
        to_owner=False, to_admins=True,
    )  # fmt: skip
    await enter(deps, journey.id, stages[0].id, "in-1")  # alice's relation
    clock.advance(timedelta(days=2).total_seconds())
    await sweep.sweep(deps)
    [(to, _)] = deps.wecom.cards  # type: ignore[attr-defined]
    assert to == ["admin", "ada", "dora"]  # super admin, admin, alice's department admin
