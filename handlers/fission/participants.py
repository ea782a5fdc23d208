"""Joining an activity (one participant per customer) and the participant's own QR code: one
contact way per identified participant, made through the registry the first time it is needed,
its `state` the short participant code, kept until N days after the activity ends.

In 获客链接 mode (`options.qr_kind` = "link", W5) the activity has one link instead, made
through the same registry with the app's secret, and each participant's QR code is the link's
URL with `customer_channel=<the same state>`: WeCom hands the channel back as the add's
`State`, so the help is credited exactly as through a contact way, without the way quota."""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from tortoise.exceptions import IntegrityError

from bot import contact_ways
from bot.deps import Deps
from bot.http import ApiError
from bot.wecom_errors import WeComError
from handlers.fission.credit import state_of
from storage.contact_ways import ContactWay
from storage.facts import Customer, FollowRelation
from storage.fission import FissionActivity, FissionAttempt, FissionHelp, FissionParticipant

log = logging.getLogger(__name__)
ALPHABET = string.ascii_lowercase + string.digits
CODE_LENGTH = 8
WAY_PURPOSE = "participant"
LINK_PURPOSE = "link"
QR_WAY, QR_LINK = "way", "link"  # options.qr_kind: 渠道活码 (default) or 获客链接


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


async def _looked_after_by(external_userid: str, activity: FissionActivity) -> str:
    """The staff member who redeems the participant's prize: the activity's staff member
    they follow, else the one who added them most recently, else the activity's first."""
    relations = await FollowRelation.filter(external_userid=external_userid, active=True).order_by(
        "-added_at"
    )
    staff = [str(u) for u in activity.staff]
    for rel in relations:
        if rel.userid in staff:
            return rel.userid
    if relations:
        return relations[0].userid
    return staff[0] if staff else ""


async def join(
    deps: Deps, activity: FissionActivity, external_userid: str, invited_by: int | None = None
) -> FissionParticipant:
    """The customer's participant row, created once (a second join returns the first)."""
    if not external_userid:
        raise ApiError(403, "需要确认您的身份后才能参加活动")
    found = await FissionParticipant.get_or_none(
        activity_id=activity.id, external_userid=external_userid
    )
    if found is not None:
        return found
    customer = await Customer.get_or_none(external_userid=external_userid)
    userid = await _looked_after_by(external_userid, activity)
    if invited_by is None:
        invited_by = await _inviter(activity.id, external_userid)
    for _ in range(5):
        try:
            return await FissionParticipant.create(
                activity_id=activity.id,
                external_userid=external_userid,
                code=new_code(),
                name=(customer.name if customer else "")[:128],
                avatar=(customer.avatar if customer else "")[:512],
                userid=userid,
                invited_by=invited_by,
                joined_at=deps.now(),
            )
        except IntegrityError:
            found = await FissionParticipant.get_or_none(
                activity_id=activity.id, external_userid=external_userid
            )
            if found is not None:  # a concurrent join of the same customer
                return found
            # else the random code was taken: draw again
    raise ApiError(503, "参加活动失败，请稍后再试")


async def _inviter(activity_id: int, external_userid: str) -> int | None:
    """The participant whose poster brought this customer (their counted help, or any
    attempt), for the invite tree."""
    help_ = await FissionHelp.get_or_none(activity_id=activity_id, helper=external_userid)
    if help_ is not None:
        return int(help_.participant_id)
    attempt = (
        await FissionAttempt.filter(activity_id=activity_id, helper=external_userid)
        .order_by("at")
        .first()
    )
    return int(attempt.participant_id) if attempt else None


def qr_kind(activity: FissionActivity) -> str:
    return QR_LINK if (activity.options or {}).get("qr_kind") == QR_LINK else QR_WAY


@dataclass(frozen=True)
class PosterQr:
    """What the participant's QR code is: WeCom's image of their contact way (`image_url`),
    or the text of a QR code drawn here (`text`: the 获客链接 URL with their channel)."""

    key: str
    image_url: str = ""
    text: str = ""


def channel_url(url: str, code: str) -> str:
    """The link's URL carrying the participant's state as `customer_channel`."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode({'customer_channel': state_of(code)})}"


async def poster_qr(
    deps: Deps, activity: FissionActivity, participant: FissionParticipant
) -> PosterQr:
    if qr_kind(activity) == QR_LINK:
        link = await acquisition_link(deps, activity)
        return PosterQr(link.config_id, text=channel_url(link.qr_code, participant.code))
    way = await qr_way(deps, activity, participant)
    return PosterQr(way.config_id, image_url=way.qr_code)


async def acquisition_link(deps: Deps, activity: FissionActivity) -> ContactWay:
    """The activity's 获客链接, made the first time a poster needs it (behind the activity's
    staff, deleted N days after the end like the contact ways)."""
    return await contact_ways.acquisition_link(
        deps,
        feature="fission",
        purpose=LINK_PURPOSE,
        owner_key=str(activity.id),
        name=f"裂变活动{activity.id}",
        **_behind_staff(activity),
    )


async def qr_way(
    deps: Deps, activity: FissionActivity, participant: FissionParticipant
) -> ContactWay:
    """The participant's contact way (reused when it exists; the registry's quota guard and
    back-off apply to a new one)."""
    return await contact_ways.contact_way(
        deps,
        feature="fission",
        purpose=WAY_PURPOSE,
        owner_key=str(participant.id),
        state=state_of(participant.code),
        remark=f"裂变{activity.id}",
        **_behind_staff(activity),
    )


def _behind_staff(activity: FissionActivity) -> dict[str, Any]:
    """The staff a poster's QR adds and when its way or link is deleted."""
    if not activity.staff:
        raise ApiError(409, "活动未设置添加的员工，暂时无法生成海报")
    return {
        "users": [str(u) for u in activity.staff],
        "expires_at": activity.end_at + timedelta(days=activity.way_keep_days),
    }


async def expire_ways(activity: FissionActivity) -> int:
    """Every participant way and the link of the activity deleted N days after its end (also
    after an edit of the end or of N)."""
    at = activity.end_at + timedelta(days=activity.way_keep_days)
    links = await ContactWay.filter(
        feature="fission", purpose=LINK_PURPOSE, owner_key=str(activity.id)
    ).update(expires_at=at)
    ids = await FissionParticipant.filter(activity_id=activity.id).values_list("id", flat=True)
    if not ids:
        return int(links)
    return int(links) + int(
        await ContactWay.filter(
            feature="fission", purpose=WAY_PURPOSE, owner_key__in=[str(i) for i in ids]
        ).update(expires_at=at)
    )


async def update_ways(deps: Deps, activity: FissionActivity) -> tuple[int, int]:
    """Every participant way and the link of the activity put behind the activity's current
    staff, in place (posters already shared keep working); returns (updated, refused).
    Idempotent."""
    ids = await FissionParticipant.filter(activity_id=activity.id).values_list("id", flat=True)
    ways = await ContactWay.filter(
        feature="fission", purpose=WAY_PURPOSE, owner_key__in=[str(i) for i in ids]
    )
    ways += await ContactWay.filter(
        feature="fission", purpose=LINK_PURPOSE, owner_key=str(activity.id)
    )
    users = [str(u) for u in activity.staff]
    updated = refused = 0
    for way in ways:
        try:
            await contact_ways.update_users(deps, way, users)
        except WeComError as exc:  # e.g. a single-person way offered several staff members
            log.warning("fission way %s kept its staff: %s", way.config_id, exc)
            refused += 1
            continue
        updated += 1
    return updated, refused
