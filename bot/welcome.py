"""The welcome arbiter: one welcome per add, chosen by feature priority, sent inside WeCom's
20 s — or the reason it was not, and a card to the staff member with the content to forward.

WeCom gives one WelcomeCode per add, usable once within 20 s of the event, none when the
member has a welcome configured in the admin console, and 41051 when another app used it
first (peers.md W6). The decision runs on a lane of its own: the web process decides the adds
stored within a few milliseconds of each other together (never behind the inbox queue; one
INSERT claims the group's rows), and the worker runs it again as a safety net; the unique
`WelcomeLog` key makes the first one decide, so a code is used at most once per add.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.deps import Deps
from bot.events import Event, ExternalContactEvent
from bot.metrics import WELCOMES
from bot.rows import select_in
from bot.wecom_errors import WeComError
from storage.core import WelcomeLog
from storage.sql import fetch_dicts

log = logging.getLogger(__name__)
ADD_CHANGES = ("add_external_contact", "add_half_external_contact")
DEADLINE_SECONDS = 18.0  # WeCom's 20 s, less a margin for the call itself
CLAIM_COLUMNS = (
    "key",
    "userid",
    "external_userid",
    "state",
    "event_at",
    "provider",
    "status",
    "reason",
    "fallback_sent",
    "decided_at",
)
NO_PROVIDER = ("not_sent", "no_provider")
CLAIM_CHUNK = 500  # adds per INSERT (10 parameters each)
GATHER_SECONDS = 0.02  # the lane decides the adds stored within 20 ms together


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
    return {str(k) for (k,) in await select_in(WelcomeLog, ("key",), "key", keys)}


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


async def _claim(deps: Deps, adds: list[Decision]) -> None:
    """One INSERT … ON CONFLICT DO NOTHING for the group: each add's row, pending (or with its
    decision already, when nothing will be sent); `row_id` stays None for an add another run
    already claimed. The unique key is what makes a WelcomeCode used at most once."""
    now = deps.now()
    values: list[Any] = []
    for add in adds:
        e = add.event
        status, reason, decided_at = ("pending", "", None) if add.chosen else NO_PROVIDER + (now,)
        values += [add.key, e.user_id, e.external_user_id, e.state[:64], e.created_at]
        values += [add.provider, status, reason, False, decided_at]
    one = "(" + ",".join("?" * len(CLAIM_COLUMNS)) + ")"
    sql = (
        f"INSERT INTO {WelcomeLog._meta.db_table} ({','.join(CLAIM_COLUMNS)}) "
        f"VALUES {','.join([one] * len(adds))} ON CONFLICT (key) DO NOTHING RETURNING id, key"
    )
    claimed = {row["key"]: row["id"] for row in await fetch_dicts(sql, values)}
    for add in adds:
        add.row_id = claimed.get(add.key)


async def _send(deps: Deps, code: str, welcome: Welcome) -> str:
    """ "" when sent, else the reason. Whatever went wrong, the code is not tried again (it
    may have been used): the staff member gets the fallback card instead."""
    try:
        await deps.wecom.send_welcome_msg(code, welcome.text or None, welcome.attachments)
    except WeComError as exc:
        log.warning("send_welcome_msg refused: %s", exc.explain())
        return "41051" if exc.errcode == 41051 else "error"
    except Exception:
        log.exception("send_welcome_msg failed")
        return "error"
    return ""


@dataclass
class Decision:
    """One add of a group: its provider's welcome (if any), then its claimed row and outcome."""

    index: int  # in the group as submitted
    event: ExternalContactEvent
    key: str
    chosen: tuple[str, Welcome] | None
    row_id: int | None = None
    reason: str = ""
    fallback_sent: bool = False

    @property
    def provider(self) -> str:
        return self.chosen[0] if self.chosen else ""

    async def deliver(self, deps: Deps) -> None:
        """The welcome within WeCom's deadline, else the reason and the fallback card."""
        assert self.chosen is not None
        welcome = self.chosen[1]
        code = self.event.welcome_code
        age = (deps.now() - self.event.created_at).total_seconds()
        if not code:
            self.reason = "no_code"
        elif age > DEADLINE_SECONDS:
            self.reason = "late"
        else:
            self.reason = await _send(deps, code, welcome)
        if self.reason:
            self.fallback_sent = await _fallback(deps, self.event, welcome, self.reason)


async def claim(deps: Deps, events: list[ExternalContactEvent]) -> list[Decision | None]:
    """The group's claims, one per event: None where another run (or an earlier copy of the
    same add in this group) already has it. Providers only read, so they are asked first; one
    INSERT then claims every add's row, and an add no provider welcomes is decided by it."""
    adds: dict[str, Decision] = {}
    for index, event in enumerate(events):
        key = welcome_key(event)
        if key not in adds:
            adds[key] = Decision(index, event, key, await choose(deps, event))
    todo = list(adds.values())
    for start in range(0, len(todo), CLAIM_CHUNK):
        await _claim(deps, todo[start : start + CLAIM_CHUNK])
    claimed: list[Decision | None] = [None] * len(events)
    for add in todo:
        if add.row_id is not None:
            claimed[add.index] = add
    WELCOMES.labels("no_provider").inc(sum(1 for add in todo if add.row_id and not add.chosen))
    return claimed


async def settle(deps: Deps, claimed: list[Decision | None]) -> None:
    """The claimed welcomes go out concurrently; their outcomes are written by one UPDATE per
    distinct outcome."""
    sending = [add for add in claimed if add is not None and add.chosen is not None]
    await asyncio.gather(*(add.deliver(deps) for add in sending))
    outcomes: dict[tuple[str, str, bool], list[int]] = {}
    for add in sending:
        assert add.row_id is not None
        outcomes.setdefault((add.provider, add.reason, add.fallback_sent), []).append(add.row_id)
        WELCOMES.labels(add.reason or "sent").inc()
    now = deps.now()
    for (provider, reason, fallback_sent), ids in outcomes.items():
        await WelcomeLog.filter(id__in=ids).update(
            provider=provider,
            status="not_sent" if reason else "sent",
            reason=reason,
            fallback_sent=fallback_sent,
            decided_at=now,
        )


async def arbitrate_many(deps: Deps, events: list[ExternalContactEvent]) -> list[bool]:
    """Decide once for each add of a group; False where it was already decided."""
    claimed = await claim(deps, events)
    await settle(deps, claimed)
    return [add is not None for add in claimed]


async def arbitrate(deps: Deps, event: ExternalContactEvent) -> bool:
    """Decide once for this add; False when another run already decided."""
    return (await arbitrate_many(deps, [event]))[0]


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
    """The web process's deadline lane, started when an add is stored. The adds stored within
    `GATHER_SECONDS` of each other are decided together: one INSERT claims them all, then
    their welcomes go out. Groups may overlap (the unique key decides), so a slow send never
    holds the next group's claim."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.tasks: set[asyncio.Task[Any]] = set()
        self._pending: list[ExternalContactEvent] = []

    def start(self, event: Event) -> None:
        if not isinstance(event, ExternalContactEvent) or not is_add(event):
            return
        self._pending.append(event)
        if len(self._pending) == 1:  # the first of a group starts its timer
            task = asyncio.create_task(self._decide_after(GATHER_SECONDS))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _decide_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        events, self._pending = self._pending, []
        try:
            await arbitrate_many(self.deps, events)
        except Exception:
            log.exception("welcome arbiter failed for %d adds; the worker will decide", len(events))

    async def close(self) -> None:
        """On shutdown: let running decisions finish (they are bounded by WeCom's 20 s)."""
        if self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(self.tasks, timeout=DEADLINE_SECONDS)
