"""change_external_contact callbacks: adds, ends, edits and transfer failures."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from bot.batch_memo import memoized, remembered
from bot.deps import Deps
from bot.domain_events import TagsMarked, publish
from bot.events import ExternalContactEvent
from bot.wecom_errors import WeComError
from handlers.facts.base import event_id
from handlers.facts.router import router
from handlers.facts.store import (
    NewAdd,
    add_timeline,
    follow_tag_ids,
    follow_tags,
    record_adds,
    record_end,
    update_follow_details,
    upsert_customer,
    upsert_customers,
)
from storage.facts import FollowEndReason

log = logging.getLogger(__name__)
ADD_SLICE = 500  # adds recorded together (statement parameters stay far under the limits)
WECOM_READS = 32  # customer reads in flight at once
# 84061: no relation any more; 40096: unknown external_userid. The fact stands on the callback.
GONE_ERRCODES = frozenset({84061, 40096})


async def _fetch(deps: Deps, ext: str) -> dict[str, Any]:
    """WeCom's customer and follow list, read once per customer per inbox batch (for adds:
    they only take the customer's details and the follow's add_way/state/remark)."""
    return await memoized(_memo_key(ext), partial(_read, deps, ext))


def _memo_key(ext: str) -> tuple[str, str]:
    return ("facts.external_contact", ext)


async def _read(deps: Deps, ext: str) -> dict[str, Any]:
    try:
        return await deps.wecom.get_external_contact(ext)
    except WeComError as exc:
        if exc.errcode in GONE_ERRCODES:
            log.info("external contact %s is gone: %s", ext, exc.explain())
            return {}
        raise


def _follow_of(data: dict[str, Any], userid: str) -> dict[str, Any] | None:
    return next((f for f in data.get("follow_user", []) if f.get("userid") == userid), None)


SAME_EPISODE = 0  # seconds between the callback and WeCom's createtime of one add (equal)


def _episode_state(follow: dict[str, Any] | None, event: ExternalContactEvent) -> str:
    """The relation's state when the callback has none, only if WeCom's relation is this add's
    episode: by the time the worker runs, the customer may have been added again through
    another QR code, whose state is not this add's."""
    if not follow or abs(int(follow.get("createtime") or 0) - event.create_time) > SAME_EPISODE:
        return ""
    return str(follow.get("state") or "")


@router.event_batch("change_external_contact", "add_external_contact")
async def on_add(deps: Deps, events: list[ExternalContactEvent]) -> None:
    await _added(deps, events)


@router.event_batch("change_external_contact", "add_half_external_contact")
async def on_add_half(deps: Deps, events: list[ExternalContactEvent]) -> None:
    await _added(deps, events)


async def _added(deps: Deps, events: list[ExternalContactEvent]) -> None:
    """A batch's adds set-wise: WeCom read once per customer (a few at a time), then
    `record_adds`, in slices that keep each statement's parameters well under the limits."""
    events = [e for e in events if e.user_id and e.external_user_id]
    for start in range(0, len(events), ADD_SLICE):
        await _added_slice(deps, events[start : start + ADD_SLICE])


async def _added_slice(deps: Deps, events: list[ExternalContactEvent]) -> None:
    exts = list(dict.fromkeys(e.external_user_id for e in events))
    # The set's rate tokens in one round trip to the shared bucket, not one per read.
    await deps.wecom.reserve_external_contacts(sum(not remembered(_memo_key(x)) for x in exts))
    data: dict[str, dict[str, Any]] = {}
    todo = iter(exts)

    async def reader() -> None:  # a few readers share the set: not a task per customer
        for ext in todo:
            data[ext] = await _fetch(deps, ext)

    await asyncio.gather(*(reader() for _ in range(min(WECOM_READS, len(exts)))))
    await upsert_customers(
        [data[x].get("external_contact") or {"external_userid": x} for x in exts]
    )
    adds = []
    for event in events:
        follow = _follow_of(data[event.external_user_id], event.user_id)
        # The fact is the callback's, at its own time: by the time the worker runs WeCom may
        # already show a later episode (deleted and added again) or none at all.
        adds.append(
            NewAdd(
                userid=event.user_id,
                external_userid=event.external_user_id,
                at=event.created_at,
                key=f"add:ev:{event_id(event)}",
                add_way=int((follow or {}).get("add_way") or 0),
                state=event.state or _episode_state(follow, event),
                follow=follow,
            )
        )
    await record_adds(deps, adds)


@router.event("change_external_contact", "del_external_contact")
async def on_deleted_by_staff(deps: Deps, event: ExternalContactEvent) -> None:
    transferred = event.source == "DELETE_BY_TRANSFER"
    reason = FollowEndReason.TRANSFERRED if transferred else FollowEndReason.BY_STAFF
    await _ended(deps, event, reason)


@router.event("change_external_contact", "del_follow_user")
async def on_deleted_by_customer(deps: Deps, event: ExternalContactEvent) -> None:
    await _ended(deps, event, FollowEndReason.BY_CUSTOMER)


async def _ended(deps: Deps, event: ExternalContactEvent, reason: str) -> None:
    if not event.user_id or not event.external_user_id:
        return
    await record_end(
        deps,
        userid=event.user_id,
        external_userid=event.external_user_id,
        at=event.created_at,
        reason=str(reason),
    )


@router.event("change_external_contact", "edit_external_contact")
async def on_edit(deps: Deps, event: ExternalContactEvent) -> None:
    userid, ext = event.user_id, event.external_user_id
    data = await _read(deps, ext)  # fresh: the tag diff must see our own marks
    if not data:
        return
    await upsert_customer(data.get("external_contact") or {"external_userid": ext})
    follow = _follow_of(data, userid)
    if follow:
        await _publish_client_tags(deps, event, follow)
        await update_follow_details(userid, ext, follow)


async def _publish_client_tags(
    deps: Deps, event: ExternalContactEvent, follow: dict[str, Any]
) -> None:
    """Tags changed in the WeCom client (scrmbot's own API changes raise no callback).
    Published before the tags are stored, so a retry finds the same change again."""
    userid, ext = event.user_id, event.external_user_id
    before, after = await follow_tags(userid, ext), set(follow_tag_ids(follow))
    add, remove = sorted(after - before), sorted(before - after)
    if not add and not remove:
        return
    marked = TagsMarked(
        userid=userid, external_userid=ext, at=event.created_at, add=add, remove=remove, by="client"
    )
    change = ",".join(["+" + t for t in add] + ["-" + t for t in remove])
    await publish(deps, marked, key=f"client:{userid}:{ext}:{event.create_time}:{change}")


TRANSFER_FAIL_TEXT = {
    "customer_refused": "客户拒绝了转接",
    "customer_limit_exceed": "接替成员的客户数已达上限，转接失败",
}


@router.event("change_external_contact", "transfer_fail")
async def on_transfer_fail(deps: Deps, event: ExternalContactEvent) -> None:
    text = TRANSFER_FAIL_TEXT.get(
        event.fail_reason, f"转接失败（{event.fail_reason or '未知原因'}）"
    )
    await add_timeline(
        deps,
        external_userid=event.external_user_id,
        userid=event.user_id,
        kind="transfer_fail",
        text=text,
        key=f"transfer_fail:{event.user_id}:{event.external_user_id}:{event.create_time}",
        detail={"reason": event.fail_reason},
        at=event.created_at,
    )
