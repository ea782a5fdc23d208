"""Help credit: every add through a participant's QR code becomes one attempt with its outcome,
and a counted help is an insert with the unique (activity, helper) key — never a counter.

The same add can arrive many times and from two places at once (WeCom's retries, the welcome
lane in the web process, the domain-event delivery in the worker). The attempt's key is the add
itself, so all of them end on one row. The transaction that inserts a help locks its
participant, counts the helps and awards each tier reached with a conditional stock decrement,
so two helps landing together cannot both miss (or both take) a tier, and two participants
racing for the last prize cannot both get it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.domain_events import FissionHelped, FollowAdded, FollowEnded, publish
from bot.rows import select_in
from handlers.fission.router import router
from storage.facts import Customer, FollowEndReason, FollowEvent
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
    FissionTier,
    Outcome,
)

log = logging.getLogger(__name__)
STATE_PREFIX = "f:"


def state_of(code: str) -> str:
    return STATE_PREFIX + code


def code_of(state: str) -> str | None:
    """The participant code in a contact way's state, None for any other state."""
    if not state.startswith(STATE_PREFIX):
        return None
    code = state[len(STATE_PREFIX) :]
    return code if 4 <= len(code) <= 16 and code.isalnum() else None


def attempt_key(activity_id: int, userid: str, helper: str, at: datetime) -> str:
    return f"{activity_id}:{userid}:{helper}:{int(at.timestamp())}"[:160]


@dataclass(frozen=True)
class Credit:
    attempt: FissionAttempt
    participant: FissionParticipant
    activity: FissionActivity
    awards: list[FissionAward]


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


async def _was_customer(helper: str, at: datetime, state: str) -> bool:
    """The corp had added the helper before this add (the facts' adds — callbacks and the
    sync — by any staff member), up to this add's own second (WeCom's times are whole
    seconds). Adds through the same QR code do not count: they are this help, or a second
    staff member behind one poster, refused as already helped."""
    adds = FollowEvent.filter(external_userid=helper, kind="add", at__lte=_utc(at))
    return await adds.exclude(state=state).exists()


async def _deleted_within(
    activity: FissionActivity, userid: str, helper: str, at: datetime
) -> bool:
    """The helper already deleted this staff member within the revoke window (an end that
    was processed before its add)."""
    if activity.revoke_hours <= 0:
        return False
    until = _utc(at) + timedelta(hours=activity.revoke_hours)
    return await FollowEvent.filter(
        userid=userid,
        external_userid=helper,
        kind="end",
        end_reason=FollowEndReason.BY_CUSTOMER,
        at__gte=_utc(at),
        at__lte=until,
    ).exists()


async def _refusal(
    activity: FissionActivity,
    participant: FissionParticipant,
    helper: str,
    userid: str,
    at: datetime,
    state: str,
) -> Outcome | None:
    if helper == participant.external_userid:
        return Outcome.SELF
    if not activity.published or not (_utc(activity.start_at) <= _utc(at) <= _utc(activity.end_at)):
        return Outcome.OUTSIDE_WINDOW
    if await FissionHelp.exists(activity_id=activity.id, helper=helper):
        return Outcome.ALREADY_HELPED
    if activity.new_only and await _was_customer(helper, at, state):
        return Outcome.OLD_CUSTOMER
    if activity.helper_limit > 0:
        elsewhere = await FissionHelp.filter(helper=helper, revoked_at__isnull=True).count()
        if elsewhere >= activity.helper_limit:
            return Outcome.HELPER_LIMIT
    if await _deleted_within(activity, userid, helper, at):
        return Outcome.REVOKED
    return None


async def _award(
    deps: Deps, activity: FissionActivity, participant: FissionParticipant, helps: int
) -> list[FissionAward]:
    """Inside the credit's transaction: each tier reached and not yet awarded takes one from
    its stock (a conditional UPDATE) or is recorded as out of stock."""
    awarded = set(
        await FissionAward.filter(participant_id=participant.id).values_list("tier_id", flat=True)
    )
    made: list[FissionAward] = []
    tiers = await FissionTier.filter(activity_id=activity.id, helpers__lte=helps).order_by("level")
    for tier in tiers:
        if tier.id in awarded:
            continue
        took = await FissionTier.filter(id=tier.id, stock_left__gt=0).update(
            stock_left=F("stock_left") - 1
        )
        made.append(
            await FissionAward.create(
                participant_id=participant.id,
                tier_id=tier.id,
                activity_id=activity.id,
                state=AwardState.WON if took else AwardState.OUT_OF_STOCK,
                awarded_at=deps.now(),
            )
        )
    return made


async def _record(
    deps: Deps,
    key: str,
    activity: FissionActivity,
    participant: FissionParticipant,
    helper: str,
    userid: str,
    at: datetime,
    outcome: Outcome,
) -> FissionAttempt:
    try:
        return await FissionAttempt.create(
            key=key,
            activity_id=activity.id,
            participant_id=participant.id,
            helper=helper,
            userid=userid,
            at=at,
            outcome=outcome,
            recorded_at=deps.now(),
        )
    except IntegrityError:
        return await FissionAttempt.get(key=key)


async def _count(participant_id: int) -> int:
    return await FissionHelp.filter(participant_id=participant_id, revoked_at__isnull=True).count()


async def _counted(
    deps: Deps,
    key: str,
    activity: FissionActivity,
    participant: FissionParticipant,
    helper: str,
    userid: str,
    at: datetime,
) -> tuple[FissionAttempt, list[FissionAward], int] | None:
    """Insert the help, its attempt and the awards in one transaction; None when another add
    of this helper took the (activity, helper) key first."""
    try:
        async with in_transaction():
            # Serialize credits per participant, so every help sees the ones before it.
            await FissionParticipant.filter(id=participant.id).select_for_update().first()
            name = await Customer.get_or_none(external_userid=helper).values_list("name", flat=True)
            await FissionHelp.create(
                activity_id=activity.id,
                participant_id=participant.id,
                helper=helper,
                helper_name=str(name or "")[:128],
                userid=userid,
                added_at=at,
                credited_at=deps.now(),
            )
            attempt = await FissionAttempt.create(
                key=key,
                activity_id=activity.id,
                participant_id=participant.id,
                helper=helper,
                userid=userid,
                at=at,
                outcome=Outcome.COUNTED,
                recorded_at=deps.now(),
            )
            helps = await _count(participant.id)
            awards = await _award(deps, activity, participant, helps)
    except IntegrityError:
        return None
    return attempt, awards, helps


async def credit(
    deps: Deps, *, state: str, helper: str, userid: str, at: datetime
) -> Credit | None:
    """The outcome of one add through a fission QR code (None: not a fission state, or the
    participant is gone). Idempotent per add."""
    code = code_of(state)
    if code is None:
        return None
    participant = await FissionParticipant.get_or_none(code=code)
    if participant is None:
        return None
    activity = await FissionActivity.get(id=participant.activity_id)
    key = attempt_key(activity.id, userid, helper, at)
    if (seen := await FissionAttempt.get_or_none(key=key)) is not None:
        return Credit(seen, participant, activity, [])
    earlier = await FissionHelp.get_or_none(activity_id=activity.id, helper=helper)
    if earlier is not None and (earlier.userid, earlier.participant_id) == (userid, participant.id):
        # The same relation added again (a skip-verify half add, then the full one): one help.
        first = attempt_key(activity.id, userid, helper, earlier.added_at)
        if (seen := await FissionAttempt.get_or_none(key=first)) is not None:
            return Credit(seen, participant, activity, [])
    outcome = await _refusal(activity, participant, helper, userid, at, state)
    if outcome is None:
        done = await _counted(deps, key, activity, participant, helper, userid, at)
        if done is not None:
            attempt, awards, helps = done
            helped = FissionHelped(
                activity_id=activity.id,
                participant_external_userid=participant.external_userid,
                helper_external_userid=helper,
                userid=userid,
                helps=helps,
                at=at,
            )
            await publish(deps, helped, key=f"{activity.id}:{helper}")
            log.info("fission help counted: activity %s, %s helps", activity.id, helps)
            return Credit(attempt, participant, activity, awards)
        if (seen := await FissionAttempt.get_or_none(key=key)) is not None:
            return Credit(seen, participant, activity, [])  # the same add, counted meanwhile
        outcome = Outcome.ALREADY_HELPED
    attempt = await _record(deps, key, activity, participant, helper, userid, at, outcome)
    return Credit(attempt, participant, activity, [])


@dataclass(frozen=True)
class Preview:
    """What the welcome can tell the helper before the worker credits the add: a refusal is
    final (its reasons never go away), `outcome` None means the help should count."""

    outcome: Outcome | None
    participant: FissionParticipant
    activity: FissionActivity


async def preview(
    deps: Deps, *, state: str, helper: str, userid: str, at: datetime
) -> Preview | None:
    """Reads only (the welcome lane runs in the web process): the recorded outcome when the
    worker got there first, else the refusal the rules give now, if any."""
    code = code_of(state)
    if code is None:
        return None
    participant = await FissionParticipant.get_or_none(code=code)
    if participant is None:
        return None
    activity = await FissionActivity.get(id=participant.activity_id)
    seen = await FissionAttempt.get_or_none(key=attempt_key(activity.id, userid, helper, at))
    if seen is not None:
        return Preview(seen.outcome, participant, activity)
    outcome = await _refusal(activity, participant, helper, userid, at, state)
    return Preview(outcome, participant, activity)


async def revoke(deps: Deps, *, userid: str, helper: str, at: datetime, reason: str) -> int:
    """The helper deleted the staff member: a help of theirs to that member, added within
    the activity's revoke window before `at`, no longer counts. Awards stay."""
    if reason != FollowEndReason.BY_CUSTOMER:
        return 0
    revoked = 0
    helps = await FissionHelp.filter(userid=userid, helper=helper, revoked_at__isnull=True)
    for help_ in helps:
        activity = await FissionActivity.get(id=help_.activity_id)
        if activity.revoke_hours <= 0:
            continue
        added = _utc(help_.added_at)
        if not added <= _utc(at) <= added + timedelta(hours=activity.revoke_hours):
            continue
        if await FissionHelp.filter(id=help_.id, revoked_at__isnull=True).update(
            revoked_at=deps.now()
        ):
            revoked += 1
            key = attempt_key(activity.id, userid, helper, help_.added_at)
            await FissionAttempt.filter(key=key).update(outcome=Outcome.REVOKED)
    return revoked


async def reconsider(deps: Deps, *, helper: str, at: datetime, state: str) -> int:
    """An add of the helper learned late (reordered callbacks, or a help credited by the
    welcome lane before an earlier add was stored): helps they gave after it, in activities for
    new customers only, through another QR code, were an old customer's — void them (awards
    made stay, as with revocation)."""
    voided = 0
    for help_ in await FissionHelp.filter(
        helper=helper, revoked_at__isnull=True, added_at__gt=_utc(at)
    ):
        activity = await FissionActivity.get(id=help_.activity_id)
        participant = await FissionParticipant.get_or_none(id=help_.participant_id)
        if not activity.new_only or participant is None or state == state_of(participant.code):
            continue
        if await FissionHelp.filter(id=help_.id, revoked_at__isnull=True).update(
            revoked_at=deps.now()
        ):
            voided += 1
            key = attempt_key(activity.id, help_.userid, helper, help_.added_at)
            await FissionAttempt.filter(key=key).update(outcome=Outcome.OLD_CUSTOMER)
    return voided


@router.listen_batch(FollowAdded)
async def on_follow_added(deps: Deps, events: list[FollowAdded]) -> None:
    """Each add in order: reconsider the helper's helps, then credit an add through a QR
    code. Which helpers have helps to reconsider is read once (a help is made only by a
    credit, whose helper joins them; most adds have none)."""
    helpers = {e.external_userid for e in events}
    helps = await select_in(FissionHelp, ("helper", "revoked_at"), "helper", helpers)
    helping = {str(helper) for helper, revoked_at in helps if revoked_at is None}
    for event in events:
        helper = event.external_userid
        if helper in helping:
            await reconsider(deps, helper=helper, at=event.at, state=event.state)
        if code_of(event.state) is None:
            continue
        await credit(deps, state=event.state, helper=helper, userid=event.userid, at=event.at)
        helping.add(helper)


@router.listen(FollowEnded)
async def on_follow_ended(deps: Deps, event: FollowEnded) -> None:
    await revoke(
        deps, userid=event.userid, helper=event.external_userid, at=event.at, reason=event.reason
    )
