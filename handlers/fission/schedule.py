"""The activity's scheduled runs: at the start, the participating staff get the started card
with the script; at the end, every participant's QR code is set to be deleted N days later."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from bot import schedule
from bot.deps import Deps
from bot.replies import MessageReply
from cards.fission import started_card
from handlers.fission import participants
from handlers.fission.router import router
from storage.facts import Customer, FollowTag
from storage.fission import FissionActivity, FissionParticipant
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


async def staff_of(deps: Deps, activity: FissionActivity) -> list[str]:
    """The acquisition staff, the participating staff, and the members of the participating
    departments (through the directory's lookup)."""
    opts = activity.options or {}
    people = [*activity.staff, *opts.get("participating", [])]
    departments = frozenset(int(d) for d in opts.get("departments", []))
    members = deps.dispatcher.lookup("department_members")
    if departments and members is not None:
        people += sorted(await members(departments))
    return [str(u) for u in dict.fromkeys(people)]


async def recommended(activity: FissionActivity, userid: str, limit: int = 5) -> list[str]:
    """The staff member's customers carrying one of the activity's recommended tags, who have
    not joined yet (names, a few)."""
    tags = [str(t) for t in (activity.options or {}).get("recommend_tags", [])]
    if not tags:
        return []
    tagged = await FollowTag.filter(userid=userid, tag_id__in=tags).values_list(
        "external_userid", flat=True
    )
    joined = set(
        await FissionParticipant.filter(activity_id=activity.id).values_list(
            "external_userid", flat=True
        )
    )
    exts = [str(e) for e in dict.fromkeys(tagged) if e not in joined][:limit]
    names = dict(
        await Customer.filter(external_userid__in=exts).values_list("external_userid", "name")
    )
    return [str(names.get(e) or "客户") for e in exts]


async def notify_staff(deps: Deps, activity: FissionActivity, kind: str) -> int:
    """The created / started card to every participating staff member, once each."""
    from bot.conversation import send_once

    tz = deps.settings.tz
    sent = 0
    tz = deps.settings.tz
    for userid in await staff_of(deps, activity):
        # WeCom wants a task_id of its own for every card sent
        digest = hashlib.sha256(userid.encode()).hexdigest()[:16]
        card = started_card(
            activity=activity.name,
            start_text=activity.start_at.astimezone(tz).strftime("%m-%d %H:%M"),
            end_text=activity.end_at.astimezone(tz).strftime("%m-%d %H:%M"),
            script=str((activity.options or {}).get("staff_script", "")),
            url=deps.url("/sidebar?open=fission"),
            task_id=f"fission-{kind}-{activity.id}-{digest}",
            started=kind == "start",
            recommended=await recommended(activity, userid) if kind == "start" else [],
        )
        sent += await send_once(
            deps,
            f"fission:{kind}:{activity.id}:{userid}",
            userid,
            f"fission.{kind}",
            MessageReply.card(card),
        )
    return sent


@router.scheduled("created", horizon=timedelta(days=1), title="裂变活动发布通知")
async def on_created(deps: Deps, run: ScheduledRun) -> None:
    activity = await _activity_of(run)
    if activity is not None and activity.published:
        await notify_staff(deps, activity, "created")


@router.scheduled("start", title="裂变活动开始通知")
async def on_start(deps: Deps, run: ScheduledRun) -> None:
    activity = await _activity_of(run)
    if activity is not None and activity.published:
        await notify_staff(deps, activity, "start")


@router.scheduled("end", title="裂变活动结束：安排删除二维码")
async def on_end(deps: Deps, run: ScheduledRun) -> None:
    if (activity := await _activity_of(run)) is not None:
        await participants.expire_ways(activity)


@router.planner
async def plan_all(deps: Deps) -> None:
    for activity in await FissionActivity.filter(published=True, end_at__gte=deps.now()):
        await plan_runs(activity)
