"""The welcome arbiter: one welcome per add, chosen by feature priority, sent inside WeCom's
20 s — or the reason it was not, and a card to the staff member with the content to forward.

WeCom gives one WelcomeCode per add, usable once within 20 s of the event, none when the
member has a welcome configured in the admin console, and 41051 when another app used it
first (peers.md W6). The decision runs on a lane of its own: the web process starts it as
soon as the add is stored (never behind the inbox queue), and the worker runs it again as a
safety net; the unique `WelcomeLog` key makes the first one decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.events import Event, ExternalContactEvent
from bot.metrics import WELCOMES
from bot.wecom_errors import WeComError
from storage.core import WelcomeLog

log = logging.getLogger(__name__)
ADD_CHANGES = ("add_external_contact", "add_half_external_contact")
DEADLINE_SECONDS = 18.0  # WeCom's 20 s, less a margin for the call itself


@dataclass(frozen=True)
class Welcome:
    """What a provider wants sent: text and up to 9 attachments (WeCom's format)."""

    text: str
    attachments: list[dict[str, Any]] = field(default_factory=list)


def is_add(event: Event) -> bool:
    return isinstance(event, ExternalContactEvent) and event.change_type in ADD_CHANGES


def welcome_key(event: ExternalContactEvent) -> str:
    if event.welcome_code:
        return f"code:{event.welcome_code}"[:160]
    return f"add:{event.user_id}:{event.external_user_id}:{event.create_time}"[:160]


async def decided(events: list[ExternalContactEvent]) -> set[str]:
    """The welcome keys of these adds that were already claimed (one read)."""
    keys = {welcome_key(e) for e in events}
    return {str(k) for k in await WelcomeLog.filter(key__in=keys).values_list("key", flat=True)}


async def choose(deps: Deps, event: ExternalContactEvent) -> tuple[str, Welcome] | None:
    """The highest-priority provider that has a welcome for this add (one failing is skipped)."""
    for provider in deps.dispatcher.welcome_providers:
        try:
            found = await provider.handler(deps, event)
        except Exception:
            log.exception("welcome provider %s failed", provider.name)
            continue
        if found is not None:
            return provider.name, found
    return None


async def _claim(deps: Deps, event: ExternalContactEvent, **decision: Any) -> WelcomeLog | None:
    """The add's row, pending (or already with its `decision`); None when another run has it."""
    try:
        return await WelcomeLog.create(
            key=welcome_key(event),
            userid=event.user_id,
            external_userid=event.external_user_id,
            state=event.state[:64],
            event_at=event.created_at,
            **decision,
        )
    except IntegrityError:
        return None


async def _send(deps: Deps, code: str, welcome: Welcome) -> str:
    """ "" when sent, else the reason."""
    try:
        await deps.wecom.send_welcome_msg(code, welcome.text or None, welcome.attachments)
    except WeComError as exc:
        log.warning("send_welcome_msg refused: %s", exc.explain())
        return "41051" if exc.errcode == 41051 else "error"
    return ""


async def arbitrate(deps: Deps, event: ExternalContactEvent) -> WelcomeLog | None:
    """Decide once for this add; None when another run already decided.

    Providers only read, so they are asked first: when none has a welcome nothing will be
    sent, and the decision is the one INSERT of the row (most adds of a corp without
    welcomes). Otherwise the row is claimed before anything goes out to WeCom."""
    chosen = await choose(deps, event)
    if chosen is None:
        row = await _claim(
            deps, event, status="not_sent", reason="no_provider", decided_at=deps.now()
        )
        if row is not None:
            WELCOMES.labels("no_provider").inc()
        return row
    row = await _claim(deps, event)
    if row is None:
        return None
    provider, welcome = chosen
    age = (deps.now() - event.created_at).total_seconds()
    if not event.welcome_code:
        reason = "no_code"
    elif age > DEADLINE_SECONDS:
        reason = "late"
    else:
        reason = await _send(deps, event.welcome_code, welcome)
    if reason:
        row.fallback_sent = await _fallback(deps, event, welcome, reason)
    row.provider = provider
    row.status, row.reason, row.decided_at = ("not_sent" if reason else "sent"), reason, deps.now()
    await row.save(update_fields=["fallback_sent", "provider", "status", "reason", "decided_at"])
    WELCOMES.labels(reason or "sent").inc()
    return row


async def _fallback(deps: Deps, event: ExternalContactEvent, welcome: Welcome, reason: str) -> bool:
    from cards.welcome import fallback_card  # people-facing text lives under cards/

    url = deps.url(f"/sidebar?open=profile&external_userid={event.external_user_id}")
    card = fallback_card(welcome.text, len(welcome.attachments), reason, url)
    try:
        await deps.wecom.send_template_card([event.user_id], card)
    except Exception:
        log.exception("welcome fallback card to %s failed", event.user_id)
        return False
    return True


class WelcomeLane:
    """The web process's deadline lane: one task per add, started when the add is stored."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, event: Event) -> None:
        if not isinstance(event, ExternalContactEvent) or not is_add(event):
            return
        task = asyncio.create_task(self._run(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, event: ExternalContactEvent) -> None:
        try:
            await arbitrate(self.deps, event)
        except Exception:
            log.exception("welcome arbiter failed; the worker will decide")

    async def close(self) -> None:
        """On shutdown: let running decisions finish (they are bounded by WeCom's 20 s)."""
        if self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(self.tasks, timeout=DEADLINE_SECONDS)
