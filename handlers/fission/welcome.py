"""The helper's welcome, chosen by the welcome arbiter for an add through a participant's QR
code: the activity's text, the reason when the rules refuse the help (final: those reasons
never go away), and the helper's own link so the chain goes on. The help itself is credited
by the worker, from the facts' FollowAdded in the customer's order; the web process only
reads here, so a burst of adds does not put credit transactions on the callback path."""

from __future__ import annotations

from bot.deps import Deps
from bot.events import ExternalContactEvent
from bot.welcome import Welcome
from cards.fission import welcome_text
from handlers.fission.credit import code_of, preview
from handlers.fission.pages import personal_url
from handlers.fission.router import router

PRIORITY = 30  # above a contact way's own welcome (20) and the default (10)


@router.welcome(PRIORITY)
async def helper_welcome(deps: Deps, event: ExternalContactEvent) -> Welcome | None:
    if code_of(event.state) is None or not event.external_user_id:
        return None
    found = await preview(
        deps,
        state=event.state,
        helper=event.external_user_id,
        userid=event.user_id,
        at=event.created_at,
    )
    if found is None:
        return None
    activity, inviter = found.activity, found.participant
    link = personal_url(deps, activity.id, event.external_user_id)
    outcome = str(found.outcome) if found.outcome is not None else "pending"
    text = welcome_text(activity.welcome_text, outcome, inviter.name, activity.name, link)
    return Welcome(text=text)
