"""Smart follow-up, run in the worker (never inline on the landing page): tags, timeline and
the coalesced alert for an identified customer; and the delayed write-back of heartbeats."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from bot import visitor_oauth
from bot.deps import Deps
from bot.domain_events import FollowAdded, RadarVisited, publish
from cards.radar import Alert, alert_card, timeline_text
from handlers.facts import add_timeline, mark_tags
from handlers.radar import lead, people, visits
from handlers.radar.buttons import FollowedUp
from handlers.radar.common import live_channel
from handlers.radar.router import router
from handlers.radar.visits import read_beats
from storage.facts import Customer, FollowRelation, TimelineEntry
from storage.radar import AlertLog, Radar, RadarType, TagMark, Visit

log = logging.getLogger(__name__)
ALERT_WINDOW_MINUTES = 30
ACTIVE_WITHIN = 60  # a visit with a beat this recent is still open
MAX_ROUNDS = 180  # stop following a tab left open for hours


def timeline_key(visit_id: str) -> str:
    return f"radar:visit:{visit_id}"


async def _customer_name(external_userid: str) -> str:
    customer = await Customer.get_or_none(external_userid=external_userid)
    return customer.name if customer and customer.name else "未知客户"


async def _tag_owner(root_userid: str, external_userid: str) -> str | None:
    """Tags live on a follow relation: the sharing staff member's, else any active one."""
    rels = await FollowRelation.filter(external_userid=external_userid, active=True).values_list(
        "userid", flat=True
    )
    owners = [str(uid) for uid in rels]
    if root_userid in owners:
        return root_userid
    return owners[0] if owners else None


async def followup(deps: Deps, visit_id: str) -> None:
    visit = await Visit.get_or_none(id=visit_id)
    if visit is None or not visit.external_userid:
        return
    radar = await Radar.get_or_none(id=visit.radar_id)
    if radar is None:
        return
    ext = visit.external_userid
    visited = RadarVisited(
        visit_id=visit.id,
        radar_id=radar.id,
        radar_title=radar.title,
        external_userid=ext,
        userid=visit.root_userid,
        at=visit.started_at,
        level=visit.level,
    )
    await publish(deps, visited, key=visit.id)
    if radar.tag_ids:
        await _tag_once(deps, visit, radar)
    if radar.timeline:
        await add_timeline(
            deps,
            external_userid=ext,
            kind="radar_view",
            key=timeline_key(visit.id),
            text=timeline_text(radar.title, None, None),
            userid=visit.root_userid,
            feature="radar",
            detail={"radar_id": radar.id, "level": visit.level},
            at=visit.started_at,
        )
    if radar.alert:
        await send_alert(deps, visit, radar)


async def _tag_once(deps: Deps, visit: Visit, radar: Radar) -> None:
    """The radar's tags, once per (radar, customer): a staff member who later removes them is
    not overruled. The mark is a row (Redis may be lost); a failed WeCom call releases it
    so a later visit tags again."""
    ext = visit.external_userid
    owner = await _tag_owner(visit.root_userid, ext)
    if not owner:
        return
    try:
        mark = await TagMark.create(radar_id=radar.id, external_userid=ext, marked_at=deps.now())
    except IntegrityError:
        return
    try:
        await mark_tags(
            deps,
            userid=owner,
            external_userid=ext,
            add=list(radar.tag_ids),
            remove=[],
            by="radar",
            feature="radar",
        )
    except Exception:
        await mark.delete()
        raise


async def send_alert(deps: Deps, visit: Visit, radar: Radar) -> bool:
    """One card per (staff, customer, radar) per 30 minutes; the ledger row decides."""
    minutes = int(visit.started_at.timestamp()) // 60
    try:
        ledger = await AlertLog.create(
            userid=visit.root_userid,
            external_userid=visit.external_userid,
            radar_id=radar.id,
            bucket=minutes // ALERT_WINDOW_MINUTES,
            sent_at=deps.now(),
        )
    except IntegrityError:
        return False
    card = await _alert(deps, visit, radar, ledger.id)
    await AlertLog.filter(id=ledger.id).update(card=card)
    try:
        await deps.wecom.send_template_card([visit.root_userid], card)
    except Exception:
        await ledger.delete()  # not sent: the next visit in this window may alert
        raise
    return True


async def _alert(deps: Deps, visit: Visit, radar: Radar, alert_id: int) -> dict[str, Any]:
    forwarder = ""
    if visit.level >= 2 and visit.parent_visitor_id:
        # who the forwarder was on this share (their own visit), not what their browser is
        parent = (
            await Visit.filter(
                radar_id=visit.radar_id,
                share_id=visit.share_id,
                visitor_id=visit.parent_visitor_id,
            )
            .exclude(external_userid="")
            .first()
            .values("external_userid")
        )
        forwarder = await _customer_name(parent["external_userid"]) if parent else "访客"
    ext = visit.external_userid
    # Someone else's customer (reached through a forward): the lead page, not a profile the
    # sender may not open.
    own = await lead.follows(visit.root_userid, ext)
    return alert_card(
        Alert(
            customer_name=await _customer_name(ext),
            radar_title=radar.title,
            level=visit.level,
            forwarder=forwarder,
            at_text=visit.started_at.astimezone(deps.settings.tz).strftime("%H:%M"),
            profile_url=deps.url(
                f"/sidebar?open=profile&external_userid={ext}" if own else lead.lead_path(visit.id)
            ),
            link_title="查看客户画像" if own else "查看线索",
        ),
        task_id=f"radar-alert-{alert_id}",
        done_key=FollowedUp(alert_id=alert_id).pack(deps.signer),
    )


async def finalize(deps: Deps, visit_id: str, round_no: int) -> bool:
    """Write the heartbeats back; True when the visit is over (else it is checked again)."""
    visit = await Visit.get_or_none(id=visit_id)
    if visit is None or visit.finalized:
        return True
    beats = await read_beats(deps, visit_id)
    now = deps.now()
    if beats:
        visit.duration_seconds = max(visit.duration_seconds, beats.get("t", 0))
        visit.progress = max(visit.progress, beats.get("p", 0))
        visit.max_page = max(visit.max_page, beats.get("pg", 0))
        visit.last_beat_at = now - timedelta(seconds=max(0, int(now.timestamp()) - beats["last"]))
    last = visit.last_beat_at or visit.started_at
    active = (now - last).total_seconds() < ACTIVE_WITHIN and round_no < MAX_ROUNDS
    visit.finalized = not active
    await visit.save()
    await people.record([people.fields_of(visit)])
    if visit.finalized:
        await _close_timeline(deps, visit)
        event = {
            "type": "visit_end",
            "duration": visit.duration_seconds,
            "progress": visit.progress,
        }
        await deps.redis.publish(live_channel(visit.radar_id), json.dumps(event))
    return visit.finalized


async def _close_timeline(deps: Deps, visit: Visit) -> None:
    if not visit.external_userid:
        return
    radar = await Radar.get_or_none(id=visit.radar_id)
    if radar is None or not radar.timeline:
        return
    measured = radar.type is not RadarType.LINK
    text = timeline_text(
        radar.title,
        visit.duration_seconds if measured else None,
        visit.progress if measured else None,
    )
    detail: dict[str, Any] = {"radar_id": radar.id, "level": visit.level}
    detail |= {"duration": visit.duration_seconds, "progress": visit.progress}
    await TimelineEntry.filter(key=timeline_key(visit.id)).update(text=text, detail=detail)


async def finalize_many(deps: Deps, visit_ids: list[str], round_no: int) -> list[str]:
    """Write back a batch's heartbeats; the visits still open, to be checked again."""
    still_open = []
    for visit_id in visit_ids:
        try:
            if not await finalize(deps, visit_id, round_no):
                still_open.append(visit_id)
        except Exception:  # one bad row must not keep the rest of the batch from closing
            log.exception("radar: finalizing visit %s failed", visit_id)
    return still_open


FOLLOWUP_ATTEMPTS = 5
FOLLOWUP_RETRY_SECONDS = 30.0


@router.listen_batch(FollowAdded)
async def visitor_became_customer(deps: Deps, events: list[FollowAdded]) -> None:
    """Visitors who were not customers when WeChat identified them (a pending_id) are now;
    whether anyone is waiting is asked once per delivery set (most sets: nobody, no call)."""
    for external_userid in dict.fromkeys(e.external_userid for e in events):
        await visitor_oauth.resolve_added(deps, external_userid)


@router.job
async def radar_followups(ctx: dict[str, Any], visit_ids: list[str], attempt: int = 0) -> None:
    """One visit failing (WeCom busy, say) does not hold up the batch: the failed ones are
    tried again later on their own; every step is idempotent."""
    deps: Deps = ctx["deps"]
    failed = []
    for visit_id in visit_ids:
        try:
            await followup(deps, visit_id)
        except Exception:
            log.exception("radar: follow-up of visit %s failed (attempt %d)", visit_id, attempt)
            failed.append(visit_id)
    if failed and attempt + 1 < FOLLOWUP_ATTEMPTS:
        await deps.queue.enqueue(
            "radar_followups",
            failed,
            attempt + 1,
            job_id=f"radar:follow:{failed[0]}:retry{attempt + 1}",
            defer_by=FOLLOWUP_RETRY_SECONDS * 2**attempt,
        )


@router.job
async def radar_finalize_many(ctx: dict[str, Any], visit_ids: list[str], round_no: int = 0) -> None:
    deps: Deps = ctx["deps"]
    still_open = await finalize_many(deps, visit_ids, round_no)
    if still_open:
        nxt = round_no + 1
        await deps.queue.enqueue(
            "radar_finalize_many",
            still_open,
            nxt,
            job_id=f"radar:fin:{still_open[0]}:{nxt}",
            defer_by=visits.FINALIZE_AFTER,
        )
