"""Time-driven work, run by a minute cron: start and end notices, the daily broadcast with its
rank snapshot, department sync, and the admins' closing report. Every step is idempotent
(NoticeLog claims, insert-or-ignore snapshots) so a second worker or a restart sends nothing
twice; a deleted activity is skipped everywhere."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from bot.deps import Deps
from cards.leaderboard import RankLine, daily_card, end_card, report_card, start_card
from handlers.leaderboard import counting, notify
from handlers.leaderboard.activities import state_of, sync_participants
from storage.core import ConsoleRole
from storage.leaderboard import Activity, ActivityState, NoticeKind, RankSnapshot

log = logging.getLogger(__name__)


async def tick(deps: Deps) -> None:
    now = deps.now()
    for activity in await Activity.filter(
        deleted=False, draft=False, ended_done=False, start_at__lte=now
    ):
        try:
            await run_activity(deps, activity, now)
        except Exception:
            log.exception("leaderboard activity %s tick failed", activity.id)


async def run_activity(deps: Deps, activity: Activity, now: datetime) -> None:
    state = state_of(activity, now)
    if not activity.started_done:
        await run_start(deps, activity, notices=state is ActivityState.RUNNING)
    elif state is ActivityState.RUNNING and now.minute % 10 == 0:
        await sync_participants(deps.redis, activity)
    if state is ActivityState.RUNNING:
        await run_daily(deps, activity, now)
    elif state is ActivityState.ENDED:
        await run_end(deps, activity)


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


def daily_due(activity: Activity, local_now: datetime) -> bool:
    hour, minute = (int(p) for p in activity.daily_time.split(":"))
    return bool(activity.remind_daily) and local_now.time() >= time(hour, minute)


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


async def run_daily(deps: Deps, activity: Activity, now: datetime) -> int:
    local = now.astimezone(deps.settings.tz)
    if not daily_due(activity, local):
        return 0
    today = local.date()
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
    rows = await counting.rebuild(deps.redis, activity)
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
