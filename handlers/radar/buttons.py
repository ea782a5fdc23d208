"""The alert card's 已跟进 button: the first press marks the alert followed and every copy of
the card shows 「已由 张伟 跟进 · 14:32」."""

from __future__ import annotations

from bot.callback_data import CallbackData
from bot.deps import Deps
from bot.events import TemplateCardEvent
from bot.replies import CardReply
from cards.radar import followed_card
from handlers.radar.router import router
from storage.directory import Staff
from storage.radar import AlertLog


class FollowedUp(CallbackData, prefix="radar.done"):
    alert_id: int


@router.button(FollowedUp)
async def mark_followed(deps: Deps, event: TemplateCardEvent, data: FollowedUp) -> CardReply | None:
    """Idempotent: a retry of the same press answers the same card; a press by someone else
    after the first one changes nothing (their copy was already updated)."""
    await AlertLog.filter(id=data.alert_id, followed_by="").update(
        followed_by=event.from_user, followed_at=deps.now()
    )
    alert = await AlertLog.get_or_none(id=data.alert_id)
    if alert is None or alert.followed_by != event.from_user or alert.followed_at is None:
        return None
    staff = await Staff.get_or_none(userid=event.from_user)
    at_text = alert.followed_at.astimezone(deps.settings.tz).strftime("%H:%M")
    card = followed_card(alert.card, staff.name if staff else event.from_user, at_text)
    return CardReply(card=card, userids=(alert.userid,))
