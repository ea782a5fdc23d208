"""Domain-event subscribers: the facts rules look at are recorded, then the customer's
relations are evaluated. Tags changed in the WeCom client neither trigger nor count: only
tags set through scrmbot (TagsMarked by=scrmbot) do. Delivery may repeat: recording is
insert-or-ignore and each rule version moves a relation once."""

from __future__ import annotations

import contextlib

from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined, PointsChanged, RadarVisited, TagsMarked
from handlers.stages.engine import evaluate_customers
from handlers.stages.router import router
from storage.stages import StagePoints, StageRadarView, StageTagMark


@router.listen(TagsMarked)
async def on_tags_marked(deps: Deps, event: TagsMarked) -> None:
    if event.by != "scrmbot":
        return  # set in the WeCom client: never a trigger (the seed's rule)
    for tag in event.add:
        with contextlib.suppress(IntegrityError):
            await StageTagMark.create(
                userid=event.userid, external_userid=event.external_userid, tag_id=tag, at=event.at
            )
    if event.remove:
        await StageTagMark.filter(
            userid=event.userid, external_userid=event.external_userid, tag_id__in=event.remove
        ).delete()
    if event.add:
        await evaluate_customers(deps, [event.external_userid], "tags", userid=event.userid)


@router.listen_batch(FollowAdded)
async def on_follow_added(deps: Deps, events: list[FollowAdded]) -> None:
    """The added relations, evaluated together (the journeys read once)."""
    pairs = {(e.userid, e.external_userid) for e in events}
    await evaluate_customers(deps, [ext for _, ext in pairs], "added", pairs=pairs)


@router.listen_batch(GroupJoined)
async def on_group_joined(deps: Deps, events: list[GroupJoined]) -> None:
    """The joined customers' relations, evaluated together."""
    if customers := [e.member_id for e in events if e.member_type == 2]:
        await evaluate_customers(deps, customers, "group")


@router.listen(RadarVisited)
async def on_radar_visited(deps: Deps, event: RadarVisited) -> None:
    with contextlib.suppress(IntegrityError):
        await StageRadarView.create(
            external_userid=event.external_userid,
            radar_id=event.radar_id,
            title=event.radar_title[:128],
            at=event.at,
        )
    await evaluate_customers(deps, [event.external_userid], "radar")


@router.listen(PointsChanged)
async def on_points_changed(deps: Deps, event: PointsChanged) -> None:
    """Keep the latest balance (by ledger entry: a replayed older entry changes nothing)."""
    row, made = await StagePoints.get_or_create(
        external_userid=event.external_userid,
        defaults={"balance": event.balance, "entry_id": event.entry_id, "at": event.at},
    )
    if not made:
        await StagePoints.filter(
            external_userid=event.external_userid, entry_id__lt=event.entry_id
        ).update(balance=event.balance, entry_id=event.entry_id, at=event.at)
    if event.amount > 0:
        await evaluate_customers(deps, [event.external_userid], "points")
