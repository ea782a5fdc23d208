"""Joining an activity (one participant per customer) and the participant's own QR code: one
contact way per identified participant, made through the registry the first time it is needed,
its `state` the short participant code, kept until N days after the activity ends."""

from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta

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


async def qr_way(
    deps: Deps, activity: FissionActivity, participant: FissionParticipant
) -> ContactWay:
    """The participant's contact way (reused when it exists; the registry's quota guard and
    back-off apply to a new one)."""
    if not activity.staff:
        raise ApiError(409, "活动未设置添加的员工，暂时无法生成海报")
    return await contact_ways.contact_way(
        deps,
        feature="fission",
        purpose=WAY_PURPOSE,
        owner_key=str(participant.id),
        users=[str(u) for u in activity.staff],
        state=state_of(participant.code),
        expires_at=activity.end_at + timedelta(days=activity.way_keep_days),
        remark=f"裂变{activity.id}",
    )


async def expire_ways(activity: FissionActivity) -> int:
    """Every participant way of the activity deleted N days after its end (also after an
    edit of the end or of N)."""
    ids = await FissionParticipant.filter(activity_id=activity.id).values_list("id", flat=True)
    if not ids:
        return 0
    at = activity.end_at + timedelta(days=activity.way_keep_days)
    return int(
        await ContactWay.filter(
            feature="fission", purpose=WAY_PURPOSE, owner_key__in=[str(i) for i in ids]
        ).update(expires_at=at)
    )


async def update_ways(deps: Deps, activity: FissionActivity) -> tuple[int, int]:
    """Every participant way of the activity put behind the activity's current staff, in
    place (posters already shared keep working); returns (updated, refused). Idempotent."""
    ids = await FissionParticipant.filter(activity_id=activity.id).values_list("id", flat=True)
    ways = await ContactWay.filter(
        feature="fission", purpose=WAY_PURPOSE, owner_key__in=[str(i) for i in ids]
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
