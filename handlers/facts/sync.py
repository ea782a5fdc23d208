"""Full sync (`scrmbot sync`, the nightly cron): reconcile facts with WeCom without inventing
history. A relation or membership never seen in a callback is recorded at WeCom's own time
and marked source=sync; one known active but absent from WeCom gets an end (reason unknown)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import arq

from bot.deps import Deps
from bot.wecom_errors import WeComError
from handlers.facts.base import from_ts
from handlers.facts.directory import DirectoryDenied, sync_directory, sync_tags
from handlers.facts.groups import members_leave, reconcile_group
from handlers.facts.router import router
from handlers.facts.store import (
    SAME_MOMENT,
    record_add,
    record_end,
    update_follow_details,
    upsert_customer,
)
from storage.directory import Staff
from storage.facts import CustomerGroup, FactSource, FollowRelation

log = logging.getLogger(__name__)
BATCH_USERS = 100
STAFF_ACTIVE = 1


class SyncError(RuntimeError):
    pass


@router.job
async def full_sync(ctx: dict[str, Any]) -> dict[str, Any]:
    deps: Deps = ctx["deps"]
    result: dict[str, Any] = {"errors": []}
    try:
        result.update(await sync_directory(deps))
    except DirectoryDenied as exc:
        log.error("directory sync refused: %s", exc)
        result["errors"].append(str(exc))
    result.update(await sync_tags(deps))
    result.update(await sync_customers(deps))
    result.update(await sync_groups(deps))
    if result["errors"]:
        raise SyncError("; ".join(result["errors"]) + f" (the rest was synced: {result})")
    return result


NIGHTLY_LOCAL_HOUR = 3


async def nightly_sync(ctx: dict[str, Any]) -> dict[str, Any] | None:
    """Hourly in arq's UTC; syncs only at 03:10 in the corp's own time zone."""
    if ctx["deps"].local_now().hour != NIGHTLY_LOCAL_HOUR:
        return None
    return await full_sync(ctx)


router.cron(arq.cron(nightly_sync, minute={10}, unique=True, timeout=3600))


async def _pages(deps: Deps, userids: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await deps.wecom.batch_get_by_user(userids, cursor, 100)
        items.extend(page.get("external_contact_list") or [])
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            return items


async def sync_customers(deps: Deps) -> dict[str, int]:
    rows = await Staff.filter(status=STAFF_ACTIVE).values_list("userid", flat=True)
    userids = sorted(str(u) for u in rows)
    found: set[tuple[str, str]] = set()
    counts = {"customers": 0, "relations_found": 0, "relations_ended": 0}
    for start in range(0, len(userids), BATCH_USERS):
        for item in await _pages(deps, userids[start : start + BATCH_USERS]):
            follow = item.get("follow_info") or {}
            contact = item.get("external_contact") or {}
            customer = await upsert_customer(contact)
            if customer is None or not follow.get("userid"):
                continue
            pair = (str(follow["userid"]), customer.external_userid)
            counts["customers"] += pair not in found
            found.add(pair)
            counts["relations_found"] += await _reconcile_relation(deps, *pair, follow)
    counts["relations_ended"] = await _end_missing(deps, set(userids), found)
    return counts


async def _reconcile_relation(deps: Deps, userid: str, ext: str, follow: dict[str, Any]) -> int:
    created = from_ts(follow.get("createtime")) if follow.get("createtime") else deps.now()
    relation = await FollowRelation.get_or_none(userid=userid, external_userid=ext)
    known = relation is not None and relation.active and _same(relation.added_at, created)
    if not known:
        if relation is not None and relation.active:
            # A newer episode than the one we hold: the old one ended unseen.
            await record_end(
                deps,
                userid=userid,
                external_userid=ext,
                at=created,
                reason="unknown",
                source=FactSource.SYNC,
            )
        await record_add(
            deps,
            userid=userid,
            external_userid=ext,
            at=created,
            add_way=int(follow.get("add_way") or 0),
            state=str(follow.get("state") or ""),
            source=FactSource.SYNC,
        )
    await update_follow_details(userid, ext, follow)
    return 0 if known else 1


def _same(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= SAME_MOMENT


async def _end_missing(deps: Deps, userids: set[str], found: set[tuple[str, str]]) -> int:
    ended = 0
    active = await FollowRelation.filter(active=True, userid__in=userids or {""}).values_list(
        "userid", "external_userid"
    )
    for userid, ext in active:
        if (userid, ext) not in found:
            await record_end(
                deps,
                userid=userid,
                external_userid=ext,
                at=deps.now(),
                reason="",
                source=FactSource.SYNC,
            )
            ended += 1
    return ended


async def sync_groups(deps: Deps) -> dict[str, int]:
    chat_ids: list[str] = []
    cursor = ""
    while True:
        page = await deps.wecom.groupchat_list(cursor, 1000)
        chat_ids.extend(str(g["chat_id"]) for g in page.get("group_chat_list") or [])
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            break
    counts = {"groups": len(chat_ids), "joins": 0, "quits": 0}
    for chat_id in chat_ids:
        try:
            info = await deps.wecom.groupchat_get(chat_id)
        except WeComError as exc:
            log.warning("groupchat/get %s failed: %s", chat_id, exc.explain())
            continue
        done = await reconcile_group(deps, info, FactSource.SYNC)
        counts["joins"] += done["joins"]
        counts["quits"] += done["quits"]
    gone = await CustomerGroup.filter(status="active", chat_id__not_in=chat_ids or [""])
    for group in gone:  # dismissed while its callback was missed: its members left
        await CustomerGroup.filter(chat_id=group.chat_id).update(status="dismissed")
        counts["quits"] += await members_leave(deps, group, deps.now(), FactSource.SYNC)
    return counts


@router.sync
async def sync_all(deps: Deps) -> dict[str, Any]:
    """`scrmbot sync` and the demo: the directory, tags, customers and groups."""
    return await full_sync({"deps": deps})
