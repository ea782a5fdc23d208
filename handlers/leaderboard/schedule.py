"""Time-driven work on the core's scheduled runs: the start notices, the daily broadcast with
its rank snapshot, and the end notices with the admins' closing report. An activity's runs are
planned when it is saved (and hourly by the planner); editing re-plans, deleting cancels. Every
step is idempotent (NoticeLog claims, insert-or-ignore snapshots), so a run retried after a
worker died sends nothing twice; a deleted activity is skipped everywhere."""

from __future__ import annotations

import logging
from datetime import date, time, timedelta
from typing import Any

from arq import cron

from bot import schedule
from bot.deps import Deps
from bot.periods import Rule
from cards.leaderboard import RankLine, daily_card, end_card, report_card, start_card
from handlers.leaderboard import counting, notify, results
from handlers.leaderboard.activities import state_of, sync_participants
from handlers.leaderboard.router import router
from storage.core import ConsoleRole
from storage.leaderboard import Activity, ActivityState, NoticeKind, RankSnapshot
from storage.schedule import ScheduledRun

log = logging.getLogger(__name__)

START, DAILY, END = "leaderboard.start", "leaderboard.daily", "leaderboard.end"


def daily_rule(activity: Activity) -> Rule:
    hour, minute = (int(p) for p in activity.daily_time.split(":"))
    return Rule.daily(time(hour, minute))


async def plan_runs(deps: Deps, activity: Activity) -> None:
    """(Re)compute the activity's runs from its row: start, one broadcast per day still to
    come, end. Runs that already happened are never touched."""
    prefix, now = f"{activity.id}:", deps.now()
    if activity.deleted or activity.draft:  # a draft runs nothing until saved with its dates
        for feature in (START, DAILY, END):
            await schedule.cancel(feature, prefix=prefix)
        return
    start = {} if activity.started_done else {f"{prefix}start": (activity.start_at, None)}
    await schedule.replace(START, prefix, start)
    daily = {}
    if activity.remind_daily:
        tz = deps.settings.tz
        for due in daily_rule(activity).occurrences(
            max(activity.start_at, now), activity.end_at, tz
        ):
            day = due.astimezone(tz).date().isoformat()
            daily[f"{prefix}{day}"] = (due, {"day": day})
    await schedule.replace(DAILY, prefix, daily, since=now)
    end = {} if activity.ended_done else {f"{prefix}end": (activity.end_at, None)}
    await schedule.replace(END, prefix, end)


@router.planner
async def plan_open_activities(deps: Deps) -> None:
    for activity in await Activity.filter(deleted=False, draft=False, ended_done=False):
        await plan_runs(deps, activity)


async def _activity_of(run: ScheduledRun) -> Activity | None:
    activity_id = int(run.key.split(":", 1)[0])
    return await Activity.get_or_none(id=activity_id, deleted=False, draft=False)


@router.scheduled("start", title="排行榜活动开始")
async def on_start(deps: Deps, run: ScheduledRun) -> None:
    if activity := await _activity_of(run):
        running = state_of(activity, deps.now()) is ActivityState.RUNNING
        await run_start(deps, activity, notices=running)


# A broadcast more than half a day late would arrive next to the next one: skipped instead.
@router.scheduled("daily", horizon=timedelta(hours=12), title="排行榜每日播报")
async def on_daily(deps: Deps, run: ScheduledRun) -> None:
    activity = await _activity_of(run)
    if activity is None or not activity.remind_daily:
        return
    if state_of(activity, deps.now()) is ActivityState.RUNNING:
        await sync_participants(deps.redis, activity)
        await run_daily(deps, activity, date.fromisoformat(run.payload["day"]))


@router.scheduled("end", title="排行榜结束通知与总结报告")
async def on_end(deps: Deps, run: ScheduledRun) -> None:
    if activity := await _activity_of(run):
        await run_end(deps, activity)


@router.job
async def leaderboard_sync(ctx: dict[str, Any]) -> None:
    await sync_running(ctx["deps"])


router.cron(cron(leaderboard_sync, minute=set(range(0, 60, 10)), unique=True))


async def sync_running(deps: Deps) -> None:
    """Department members follow the directory while an activity runs (every 10 minutes)."""
    now = deps.now()
    running = Activity.filter(deleted=False, draft=False, start_at__lte=now, end_at__gt=now)
    for activity in await running:
        try:
            await sync_participants(deps.redis, activity)
        except Exception:
            log.exception("leaderboard activity %s: participant sync failed", activity.id)


async def _still_live(activity: Activity) -> bool:
    return not await Activity.filter(id=activity.id, deleted=True).exists()


async def run_start(deps: Deps, activity: Activity, *, notices: bool = True) -> None:
    await sync_participants(deps.redis, activity)
    await counting.rebuild(deps.redis, activity)
    if notices and activity.remind_start_end:
        card = start_card(notify.card_activity(deps, activity), notify.page_url(deps, activity.id))
        for uid in await counting.participant_ids(activity.id):
            if not await _still_live(activity):
                return
            await notify.send_once(deps, activity.id, uid, NoticeKind.START, "start", card)
    await Activity.filter(id=activity.id).update(started_done=True)


async def snapshot(deps: Deps, activity: Activity, day: date) -> dict[str, int]:
    """Today's ranks (taken once; later calls return the stored ones)."""
    stored = await RankSnapshot.filter(activity_id=activity.id, day=day).values_list(
        "userid", "rank"
    )
    if stored:
        return {uid: rank for uid, rank in stored}
    # Once a day the live ranking is reconciled with a full recomputation.
    rows = await counting.rebuild(deps.redis, activity)
    await RankSnapshot.bulk_create(
        [
            RankSnapshot(
                activity_id=activity.id, day=day, userid=r.userid, rank=r.rank, count=r.count
            )
            for r in rows
        ],
        ignore_conflicts=True,
    )
    return {r.userid: r.rank for r in rows}


async def run_daily(deps: Deps, activity: Activity, today: date) -> int:
    """The broadcast for local day `today` (the run's day, even when it runs late)."""
    ranks = await snapshot(deps, activity, today)
    before = await RankSnapshot.filter(
        activity_id=activity.id, day=today - timedelta(days=1)
    ).values_list("userid", "rank")
    yesterday = {uid: rank for uid, rank in before}
    info = notify.card_activity(deps, activity)
    top = await notify.top_lines(deps, activity, 3)
    cutoff = await notify.cutoff_row(deps, activity)
    sent = 0
    for uid in ranks:
        if not await _still_live(activity):
            break
        row = await counting.live_rank(deps.redis, activity, uid)
        if row is None:
            continue
        moved = yesterday[uid] - row.rank if uid in yesterday else None
        me = notify.make_standing(row, cutoff, activity.top_n, movement=moved, top=top)
        card = daily_card(info, me, notify.page_url(deps, activity.id))
        sent += await notify.send_once(deps, activity.id, uid, NoticeKind.DAILY, str(today), card)
    return sent


async def run_end(deps: Deps, activity: Activity) -> None:
    started_at, at_version = deps.now(), await results.version(activity)
    rows = await counting.rebuild(deps.redis, activity)
    # The report card's chart is drawn from this TOP10 when WeCom fetches it.
    await results.keep(activity, "top10", at_version, await results.top10_of(rows), started_at)
    if activity.remind_start_end:
        info = notify.card_activity(deps, activity)
        top = await notify.top_lines(deps, activity, 10)
        cutoff = await notify.cutoff_row(deps, activity)
        for row in rows:
            if not await _still_live(activity):
                return
            me = notify.make_standing(row, cutoff, activity.top_n, top=top)
            card = end_card(info, me, notify.page_url(deps, activity.id))
            await notify.send_once(deps, activity.id, row.userid, NoticeKind.END, "end", card)
    await send_report(deps, activity, rows)
    await Activity.filter(id=activity.id).update(ended_done=True)


async def report_recipients(deps: Deps, activity: Activity) -> list[str]:
    admins = await ConsoleRole.filter(role="admin").values_list("userid", flat=True)
    found = [*deps.settings.security.super_admins, *(str(a) for a in admins), activity.created_by]
    return [u for u in dict.fromkeys(found) if u]


def chart_url(deps: Deps, activity_id: int) -> str:
    sig = deps.signer.mac("lb.chart", str(activity_id))
    return deps.url(f"/api/leaderboard/chart/{activity_id}.png?sig={sig}")


async def send_report(deps: Deps, activity: Activity, rows: list[counting.RankRow]) -> None:
    names = await notify.names_of([r.userid for r in rows[:10]])
    top = [RankLine(r.rank, names[r.userid], r.count) for r in rows[:10] if r.count > 0]
    card = report_card(
        notify.card_activity(deps, activity),
        top,
        len(rows),
        sum(r.count for r in rows),
        chart_url(deps, activity.id),
        deps.url(f"/admin?open=leaderboard&activity={activity.id}"),
    )
    for uid in await report_recipients(deps, activity):
        await notify.send_once(deps, activity.id, uid, NoticeKind.REPORT, "end", card)
