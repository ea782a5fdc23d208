"""The activity's scheduled runs: at the start, the participating staff get the started card
with the script; at the end, every participant's QR code is set to be deleted N days later."""

from __future__ import annotations

import hashlib

from bot import schedule
from bot.deps import Deps
from bot.replies import MessageReply
from cards.fission import started_card
from handlers.fission import participants
from handlers.fission.router import router
from storage.fission import FissionActivity
from storage.schedule import ScheduledRun


async def plan_runs(activity: FissionActivity) -> None:
    """(Re)plan the start and end runs from the saved row; drafts have none."""
    if not activity.published:
        await schedule.cancel("fission.start", prefix=f"{activity.id}:")
        await schedule.cancel("fission.end", prefix=f"{activity.id}:")
        return
    await schedule.plan("fission.start", f"{activity.id}:start", activity.start_at)
    await schedule.plan("fission.end", f"{activity.id}:end", activity.end_at)


async def _activity_of(run: ScheduledRun) -> FissionActivity | None:
    head = run.key.partition(":")[0]
    return await FissionActivity.get_or_none(id=int(head)) if head.isdigit() else None


def staff_of(activity: FissionActivity) -> list[str]:
    opts = activity.options or {}
    return list(dict.fromkeys([*activity.staff, *opts.get("participating", [])]))


@router.scheduled("start", title="裂变活动开始通知")
async def on_start(deps: Deps, run: ScheduledRun) -> None:
    from bot.conversation import send_once

    activity = await _activity_of(run)
    if activity is None or not activity.published:
        return
    tz = deps.settings.tz
    for userid in staff_of(activity):
        # WeCom wants a task_id of its own for every card sent
        digest = hashlib.sha256(userid.encode()).hexdigest()[:16]
        card = started_card(
            activity=activity.name,
            start_text=activity.start_at.astimezone(tz).strftime("%m-%d %H:%M"),
            end_text=activity.end_at.astimezone(tz).strftime("%m-%d %H:%M"),
            script=str((activity.options or {}).get("staff_script", "")),
            url=deps.url("/sidebar?open=fission"),
            task_id=f"fission-start-{activity.id}-{digest}",
        )
        await send_once(
            deps,
            f"fission:start:{activity.id}:{userid}",
            userid,
            "fission.start",
            MessageReply.card(card),
        )


@router.scheduled("end", title="裂变活动结束：安排删除二维码")
async def on_end(deps: Deps, run: ScheduledRun) -> None:
    if (activity := await _activity_of(run)) is not None:
        await participants.expire_ways(activity)


@router.planner
async def plan_all(deps: Deps) -> None:
    for activity in await FissionActivity.filter(published=True, end_at__gte=deps.now()):
        await plan_runs(activity)
