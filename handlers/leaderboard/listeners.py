"""Domain-event subscribers: after facts publishes a follow or a group join, recount the
credited participant from the database, update the live ranking and report crossings.
Delivery may repeat (a retried event): every step is a recount, so nothing counts twice."""

from __future__ import annotations

from bot.batch_memo import memoized
from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined
from handlers.leaderboard import counting, notify
from handlers.leaderboard.router import router
from storage.facts import CustomerGroup, FollowEvent
from storage.leaderboard import Activity, Metric, Participant


async def _group_join_activities() -> list[Activity]:
    return list(await Activity.filter(deleted=False, draft=False, metric=Metric.GROUP_JOINS.value))


async def _update(deps: Deps, activity: Activity, userids: set[str]) -> None:
    for uid in sorted(userids):
        if await Participant.filter(activity_id=activity.id, userid=uid).exists():
            await counting.refresh_participant(deps.redis, activity, uid)
            await notify.check_crossings(deps, activity, uid)


async def _new_customer_activities() -> list[Activity]:
    return list(
        await Activity.filter(deleted=False, draft=False, metric=Metric.NEW_CUSTOMERS.value)
    )


@router.listen_batch(FollowAdded)
async def on_follow_added(deps: Deps, facts: list[FollowAdded]) -> None:
    """The adds of a delivery set in order; the activities counting new customers read once
    per set (its events were all published before it ran): none running, no query per add."""
    # Under dedup an add from any earlier time (even before the window, by a non-participant)
    # can take the credit away from a participant who added the same customer later.
    live = await memoized(("leaderboard.new_customer_activities",), _new_customer_activities)
    if not live:
        return
    for fact in facts:
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


@router.listen_batch(GroupJoined)
async def on_group_joined(deps: Deps, facts: list[GroupJoined]) -> None:
    """The joins of a delivery set in order; the group-join activities read once per set."""
    joins = [f for f in facts if f.member_type == 2]
    if not joins:
        return
    activities = await memoized(("leaderboard.group_join_activities",), _group_join_activities)
    for fact in joins:
        running = [
            a
            for a in activities
            if a.start_at <= fact.at < a.end_at and fact.chat_id in (a.chat_ids or [])
        ]
        if not running:
            continue
        credited = fact.invitor
        if not credited and fact.scene == 3:
            group = await CustomerGroup.get_or_none(chat_id=fact.chat_id)
            credited = group.owner if group else ""
        if not credited:
            continue
        for activity in running:
            await _update(deps, activity, {credited})
