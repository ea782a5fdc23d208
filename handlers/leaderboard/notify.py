"""Sending leaderboard notices exactly once: a NoticeLog row is claimed (unique key) before
the card goes out and released if the send fails, so two workers, a restart or a replayed
fact never send a notice twice. Crossings of the cutoff are damped per participant."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.callback_data import CallbackData
from bot.deps import Deps
from cards.leaderboard import CardActivity, RankLine, Standing, crossing_card, near_card
from handlers.leaderboard import counting
from storage.directory import Staff
from storage.leaderboard import Activity, NoticeKind, NoticeLog

log = logging.getLogger(__name__)

# Atomically swap a participant's zone and return the old one, so two workers that see the
# same crossing agree on who reports it.
_SWAP = "local o = redis.call('HGET', KEYS[1], ARGV[1]) redis.call('HSET', KEYS[1], ARGV[1], \
ARGV[2]) return o"


class MyCustomers(CallbackData, prefix="lb.mine"):
    """The 即将上榜 card's 查看我的客户 button."""

    activity_id: int


async def claim(activity_id: int, userid: str, kind: str, slot: str, now: datetime) -> bool:
    try:
        await NoticeLog.create(
            activity_id=activity_id, userid=userid, kind=kind, slot=slot, sent_at=now
        )
    except IntegrityError:
        return False
    return True


async def send_once(
    deps: Deps, activity_id: int, userid: str, kind: str, slot: str, card: dict[str, Any]
) -> bool:
    """Send unless already sent for this slot; a failed send frees the slot for a retry."""
    if not await claim(activity_id, userid, kind, slot, deps.now()):
        return False
    try:
        await deps.wecom.send_template_card([userid], card)
    except Exception:
        log.warning("leaderboard %s notice to %s failed; will retry", kind, userid, exc_info=True)
        await NoticeLog.filter(
            activity_id=activity_id, userid=userid, kind=kind, slot=slot
        ).delete()
        return False
    return True


def card_activity(deps: Deps, activity: Activity) -> CardActivity:
    fmt = "%Y-%m-%d %H:%M"
    tz = deps.settings.tz
    return CardActivity(
        id=activity.id,
        name=activity.name,
        metric=activity.metric,
        top_n=activity.top_n,
        description=activity.description,
        start=activity.start_at.astimezone(tz).strftime(fmt),
        end=activity.end_at.astimezone(tz).strftime(fmt),
    )


def page_url(deps: Deps, activity_id: int) -> str:
    return deps.url(f"/sidebar?open=leaderboard&activity={activity_id}")


async def names_of(userids: list[str]) -> dict[str, str]:
    rows = await Staff.filter(userid__in=userids).values_list("userid", "name")
    found = {uid: name for uid, name in rows}
    return {uid: found.get(uid) or uid for uid in userids}


async def top_lines(deps: Deps, activity: Activity, n: int) -> list[RankLine]:
    rows = await counting.live_page(deps.redis, activity, 0, n)
    names = await names_of([r.userid for r in rows])
    return [RankLine(r.rank, names[r.userid], r.count) for r in rows if r.count > 0]


def make_standing(
    row: counting.RankRow, cutoff: counting.RankRow | None, top_n: int, **extra: Any
) -> Standing:
    if row.rank <= top_n and row.count > 0:
        return Standing(row.rank, row.count, **extra)
    cutoff_count = cutoff.count if cutoff else 0
    gap_count = max(cutoff_count - row.count + 1, 1)
    return Standing(row.rank, row.count, max(row.rank - top_n, 0), gap_count, **extra)


async def cutoff_row(deps: Deps, activity: Activity) -> counting.RankRow | None:
    rows = await counting.live_page(deps.redis, activity, activity.top_n - 1, 1)
    return rows[0] if rows else None


# --- crossings -----------------------------------------------------------------------------


def zone(activity: Activity, rank: int, count: int) -> str:
    if count <= 0:
        return "off"
    if rank <= activity.top_n:
        return "on"
    if rank <= activity.top_n + activity.about_to_rank_distance:
        return "near"
    return "off"


def crossing_kind(old: str, new: str) -> NoticeKind | None:
    if new == "on" and old != "on":
        return NoticeKind.ON_LIST
    if old == "on" and new != "on":
        return NoticeKind.DROPPED
    if new == "near" and old == "off":
        return NoticeKind.ABOUT_TO_RANK
    return None


def _enabled(activity: Activity, kind: NoticeKind) -> bool:
    if kind is NoticeKind.ABOUT_TO_RANK:
        return bool(activity.remind_about_to_rank)
    return bool(activity.remind_on_off_list)


async def check_crossings(deps: Deps, activity: Activity, userid: str) -> list[str]:
    """After `userid`'s count changed: who entered or left a zone (they, and whoever they
    pushed down across the cutoff or out of the about-to-rank band). Returns who was sent."""
    start = activity.top_n  # 0-based index of the first place below the cutoff
    band = await counting.live_page(
        deps.redis, activity, start - 1, activity.about_to_rank_distance + 2
    )
    me = await counting.live_rank(deps.redis, activity, userid)
    rows = {r.userid: r for r in band}
    if me is not None:
        rows[me.userid] = me
    return await _check_rows(deps, activity, list(rows.values()))


async def check_all_zones(deps: Deps, activity: Activity) -> list[str]:
    """After the cutoff itself moved (上榜名次 changed): everyone on or near the list before,
    and everyone on or near it now, gets the notice their move calls for."""
    stored = await deps.redis.hgetall(f"lb:{activity.id}:zone")  # type: ignore[misc]
    before = [
        (k.decode() if isinstance(k, bytes) else k)
        for k, v in stored.items()
        if (v.decode() if isinstance(v, bytes) else v) != "off"
    ]
    now_in = await counting.live_page(
        deps.redis, activity, 0, activity.top_n + activity.about_to_rank_distance
    )
    rows = {r.userid: r for r in now_in}
    for uid in before:
        if uid not in rows and (row := await counting.live_rank(deps.redis, activity, uid)):
            rows[uid] = row
    return await _check_rows(deps, activity, list(rows.values()))


async def _check_rows(deps: Deps, activity: Activity, rows: list[counting.RankRow]) -> list[str]:
    cutoff = await cutoff_row(deps, activity)
    sent = []
    for row in rows:
        new = zone(activity, row.rank, row.count)
        old = await deps.redis.eval(_SWAP, 1, f"lb:{activity.id}:zone", row.userid, new)  # type: ignore[misc]
        old_zone = old.decode() if isinstance(old, bytes) else (old or "off")
        kind = crossing_kind(old_zone, new)
        if kind and _enabled(activity, kind) and await _notify(deps, activity, row, cutoff, kind):
            sent.append(row.userid)
    return sent


async def _notify(
    deps: Deps,
    activity: Activity,
    row: counting.RankRow,
    cutoff: counting.RankRow | None,
    kind: NoticeKind,
) -> bool:
    now = deps.now()
    window = timedelta(minutes=max(1, activity.damping_minutes))
    recent = await NoticeLog.filter(
        activity_id=activity.id, userid=row.userid, kind=kind.value, sent_at__gt=now - window
    ).exists()
    if recent:
        return False
    slot = f"x{int(now.timestamp() // window.total_seconds())}"
    me = make_standing(row, cutoff, activity.top_n)
    card = crossing_card(kind.value, card_activity(deps, activity), me, page_url(deps, activity.id))
    if kind is NoticeKind.ABOUT_TO_RANK:
        who = hashlib.sha256(row.userid.encode()).hexdigest()[:12]
        key = MyCustomers(activity_id=activity.id).pack(deps.signer)
        card = near_card(card, f"lb-near-{activity.id}-{who}-{slot}", key)
    return await send_once(deps, activity.id, row.userid, kind.value, slot, card)
