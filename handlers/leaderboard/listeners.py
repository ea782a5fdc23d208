"""Domain-event subscribers: after facts publishes a follow or a group join, recount the
credited participant from the database, update the live ranking and report crossings.
Delivery may repeat (a retried event): every step is a recount, so nothing counts twice."""

from __future__ import annotations

from typing import Any

from bot.batch_memo import memoized
from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined
from handlers.leaderboard import counting, notify
from handlers.leaderboard.router import router
from storage.facts import CustomerGroup, FollowEvent
from storage.leaderboard import Activity, Metric, Participant


async def _running(at: Any, metric: Metric) -> list[Activity]:
    return list(
        await Activity.filter(
            deleted=False, draft=False, metric=metric.value, start_at__lte=at, end_at__gt=at
        )
    )


async def _update(deps: Deps, activity: Activity, userids: set[str]) -> None:
    for uid in sorted(userids):
        if await Participant.filter(activity_id=activity.id, userid=uid).exists():
            await counting.refresh_participant(deps.redis, activity, uid)
            await notify.check_crossings(deps, activity, uid)


async def _new_customer_activities() -> list[Activity]:
    return list(
        await Activity.filter(deleted=False, draft=False, metric=Metric.NEW_CUSTOMERS.value)
    )


@router.listen(FollowAdded)
async def on_follow_added(deps: Deps, fact: FollowAdded) -> None:
    # Under dedup an add from any earlier time (even before the window, by a non-participant)
    # can take the credit away from a participant who added the same customer later.
    # Read once per delivery job (its events were all published before it ran).
    live = await memoized(("leaderboard.new_customer_activities",), _new_customer_activities)
    for activity in (a for a in live if a.end_at > fact.at):
        in_window = activity.start_at <= fact.at
        if not (in_window or activity.dedup):
            continue
        affected = {fact.userid} if in_window else set()
        if activity.dedup:
            others = await FollowEvent.filter(
                external_userid=fact.external_userid,
                kind="add",
                at__gte=activity.start_at,
                at__lt=activity.end_at,
            ).values_list("userid", flat=True)
            affected.update(str(uid) for uid in others)
        await _update(deps, activity, affected)


@router.listen(GroupJoined)
async def on_group_joined(deps: Deps, fact: GroupJoined) -> None:
    if fact.member_type != 2:
        return
    credited = fact.invitor
    if not credited and fact.scene == 3:
        group = await CustomerGroup.get_or_none(chat_id=fact.chat_id)
        credited = group.owner if group else ""
    if not credited:
        return
    for activity in await _running(fact.at, Metric.GROUP_JOINS):
        if fact.chat_id in (activity.chat_ids or []):
            await _update(deps, activity, {credited})
