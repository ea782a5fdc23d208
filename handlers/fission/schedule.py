"""The activity's scheduled runs: at the start, the participating staff get the started card
with the script; at the end, every participant's QR code is set to be deleted N days later."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from bot import schedule
from bot.deps import Deps
from bot.periods import Rule
from bot.replies import MessageReply
from cards.fission import red_list_card, started_card
from handlers.fission import participants
from handlers.fission.router import router
from storage.directory import Staff
from storage.facts import Customer, FollowTag
from storage.fission import FissionActivity, FissionHelp, FissionParticipant
from storage.schedule import ScheduledRun

DEFAULT_TIMES = ("18:00",)  # the daily red list, in the corp's time zone
MAX_TIMES = 3
TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def times_of(activity: FissionActivity) -> list[time]:
    """The activity's reminder times of day (options.remind_times, HH:MM), sorted; 18:00 when
    none were set."""
    raw = (activity.options or {}).get("remind_times") or list(DEFAULT_TIMES)
    texts = sorted({str(t) for t in raw if TIME_RE.fullmatch(str(t))}) or list(DEFAULT_TIMES)
    return [time(int(t[:2]), int(t[3:])) for t in texts]


def previous_reminder(activity: FissionActivity, due: datetime, tz: tzinfo) -> datetime:
    """The reminder before `due` (the same day's earlier time, or the last one the day
    before): the red list at `due` covers [previous, due)."""
    return max(
        at
        for t in times_of(activity)
        for at in Rule.daily(t).occurrences(due - timedelta(days=1), due, tz)
    )


async def plan_runs(deps: Deps, activity: FissionActivity) -> None:
    """(Re)plan the start, the daily red lists and the end from the saved row; drafts have
    none. Runs that already happened are never touched."""
    prefix = f"{activity.id}:"
    if not activity.published:
        for feature in ("fission.start", "fission.daily", "fission.end"):
            await schedule.cancel(feature, prefix=prefix)
        return
    await schedule.plan("fission.start", f"{activity.id}:start", activity.start_at)
    # days already gone get no red list (runs planned before and missed still catch up)
    now = deps.now()
    since = max(activity.start_at, now)
    wanted = {
        f"{prefix}{due:%Y%m%d%H%M}": (due, None)
        for at in times_of(activity)
        for due in Rule.daily(at).occurrences(since, activity.end_at, deps.settings.tz)
    }
    await schedule.replace("fission.daily", prefix, wanted, since=now)
    await schedule.plan("fission.end", f"{activity.id}:end", activity.end_at)


async def red_list(
    activity: FissionActivity, since: datetime, until: datetime
) -> list[tuple[str, int]]:
    """Staff by new customers their activity brought in [since, until), most first."""
    helps = await FissionHelp.filter(
        activity_id=activity.id,
        revoked_at__isnull=True,
        added_at__gte=since.astimezone(UTC),
        added_at__lt=until.astimezone(UTC),
    ).values_list("userid", flat=True)
    counts = Counter(str(u) for u in helps)
    names = dict(await Staff.filter(userid__in=list(counts)).values_list("userid", "name"))
    return [(str(names.get(u) or u), n) for u, n in counts.most_common()]


@router.scheduled("daily", horizon=timedelta(hours=12), title="裂变活动每日红榜")
async def on_daily(deps: Deps, run: ScheduledRun) -> None:
    from bot.conversation import send_once

    activity = await _activity_of(run)
    if activity is None or not activity.published:
        return
    tz = deps.settings.tz
    until = run.due_at
    since = previous_reminder(activity, until, tz)
    rows = await red_list(activity, since, until)
    day = until.astimezone(tz).strftime("%m-%d")
    start, end = since.astimezone(tz), until.astimezone(tz)
    window = f"{start:%m-%d %H:%M}–" + (
        f"{end:%H:%M}" if start.date() == end.date() else f"{end:%m-%d %H:%M}"
    )
    for userid in await staff_of(deps, activity):
        digest = hashlib.sha256(userid.encode()).hexdigest()[:16]
        card = red_list_card(
            activity=activity.name,
            day=day,
            window=window,
            rows=rows,
            url=deps.url("/sidebar?open=fission"),
            task_id=f"fission-daily-{activity.id}-{until:%Y%m%d%H%M}-{digest}",
        )
        await send_once(
            deps,
            f"fission:daily:{run.key}:{userid}",
            userid,
            "fission.daily",
            MessageReply.card(card),
        )


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
        await plan_runs(deps, activity)


@router.job
async def fission_update_ways(ctx: dict[str, Any], activity_id: int) -> None:
    """The activity's staff changed: every participant's way gets the new staff."""
    activity = await FissionActivity.get_or_none(id=activity_id)
    if activity is not None:
        await participants.update_ways(ctx["deps"], activity)
