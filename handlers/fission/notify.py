"""The won card: when a help completes a tier, the participant's staff member gets a card to
hand out the prize (once per award), and its 已发放 button marks it given."""

from __future__ import annotations

from bot.callback_data import CallbackData
from bot.conversation import send_once
from bot.deps import Deps
from bot.domain_events import FissionHelped
from bot.events import TemplateCardEvent
from bot.replies import CardReply, MessageReply
from cards.fission import given_card, won_card
from handlers.fission.router import router
from storage.directory import Staff
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAward,
    FissionParticipant,
    FissionReview,
    FissionTier,
)


class PrizeGiven(CallbackData, prefix="fission.given"):
    award_id: int


@router.listen(FissionHelped)
async def on_helped(deps: Deps, event: FissionHelped) -> None:
    participant = await FissionParticipant.get_or_none(
        activity_id=event.activity_id, external_userid=event.participant_external_userid
    )
    if participant is None or not participant.userid:
        return
    activity = await FissionActivity.get(id=event.activity_id)
    for award in await FissionAward.filter(participant_id=participant.id, state=AwardState.WON):
        tier = await FissionTier.get(id=award.tier_id)
        card = won_card(
            customer=participant.name or "客户",
            activity=activity.name,
            prize=tier.prize,
            helps=tier.helpers,
            url=deps.url("/sidebar?open=fission"),
            task_id=f"fission-won-{award.id}",
            given_key=PrizeGiven(award_id=award.id).pack(deps.signer),
        )
        await send_once(
            deps,
            f"fission:won:{award.id}",
            participant.userid,
            "fission.won",
            MessageReply.card(card),
        )


@router.button(PrizeGiven)
async def prize_given(deps: Deps, event: TemplateCardEvent, data: PrizeGiven) -> CardReply | None:
    award = await FissionAward.get_or_none(id=data.award_id)
    if award is None:
        return None
    participant = await FissionParticipant.get(id=award.participant_id)
    if participant.userid != event.from_user:
        return None
    if await FissionReview.exists(participant_id=participant.id, decision="hold"):
        return None  # held by an admin after a risk review
    await FissionAward.filter(id=award.id, state=AwardState.WON).update(
        state=AwardState.GIVEN, given_at=deps.now(), given_by=event.from_user
    )
    award = await FissionAward.get(id=award.id)
    if award.state is not AwardState.GIVEN or award.given_at is None:
        return None
    tier = await FissionTier.get(id=award.tier_id)
    activity = await FissionActivity.get(id=award.activity_id)
    sent = won_card(
        customer=participant.name or "客户",
        activity=activity.name,
        prize=tier.prize,
        helps=tier.helpers,
        url=deps.url("/sidebar?open=fission"),
        task_id=f"fission-won-{award.id}",
        given_key="",
    )
    staff = await Staff.get_or_none(userid=event.from_user)
    at_text = award.given_at.astimezone(deps.settings.tz).strftime("%H:%M")
    card = given_card(sent, staff.name if staff else event.from_user, at_text)
    return CardReply(card=card, userids=(participant.userid,))
