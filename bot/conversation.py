"""The app answering staff: text commands and menu clicks, each answered at most once.

A message is stored in the inbox like any callback. On the fast path (inside WeCom's 5 s) the
answer is computed within a budget; a text answer goes back as the passive reply. Anything
else (a card, a slow command) is answered by the worker through message/send. Either way the
answer is claimed first in `ConversationReply` under the message's own key, so WeCom's
re-deliveries, a retried job or two workers never answer twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.events import Event, MenuClick, MenuView, TextMessage
from bot.replies import MessageReply
from storage.core import ConversationReply

log = logging.getLogger(__name__)


def is_conversation(event: Event) -> bool:
    """Events the app answers (a view item only opens its page)."""
    return isinstance(event, TextMessage) or (
        isinstance(event, MenuClick) and not isinstance(event, MenuView)
    )


def reply_key(event: Event) -> str:
    """WeCom's own dedupe key: MsgId for messages, FromUserName + CreateTime for events."""
    if isinstance(event, TextMessage) and event.msg_id:
        return f"msg:{event.msg_id}"
    key = event.event_key if isinstance(event, MenuClick) else ""
    return f"{event.event}:{event.from_user}:{event.create_time}:{key}"[:160]


async def claim(deps: Deps, key: str, userid: str, kind: str, via: str) -> bool:
    try:
        await ConversationReply.create(
            key=key, userid=userid, kind=kind, via=via, sent_at=deps.now()
        )
    except IntegrityError:
        return False
    return True


async def send_once(deps: Deps, key: str, userid: str, kind: str, reply: MessageReply) -> bool:
    """message/send unless this key was answered; a refused send frees the key for a retry."""
    if not await claim(deps, key, userid, kind, "api"):
        return False
    try:
        await deps.wecom.send_message([userid], reply.message())
    except Exception:
        await ConversationReply.filter(key=key).delete()
        raise
    return True


async def compute(deps: Deps, event: Event) -> MessageReply | None:
    """The answer: the command the text starts with, else the unknown-text answer; or the
    clicked menu item's."""
    dispatcher = deps.dispatcher
    if isinstance(event, TextMessage):
        command, args = dispatcher.command_for(event.content)
        if command is not None:
            return await command.handler(deps, event, args)
        if dispatcher.unknown_text is not None:
            return await dispatcher.unknown_text(deps, event)
        return None
    if isinstance(event, MenuClick):
        item = dispatcher.click_for(event.event_key)
        if item is None or item.handler is None:
            log.info("menu click with unknown key ignored")
            return None
        return await item.handler(deps, event)
    return None


async def passive_answer(deps: Deps, event: Event) -> MessageReply | None:
    """The fast path: a passive-capable answer ready within the budget, claimed; else None
    (the worker answers)."""
    budget = deps.settings.inbox.card_reply_budget_seconds
    try:
        reply = await asyncio.wait_for(compute(deps, event), budget)
    except TimeoutError:
        log.info("answer over %.1fs budget; the worker will send it", budget)
        return None
    except Exception:
        log.exception("answer failed on the fast path; the worker will retry it")
        return None
    if reply is None or not reply.passive:
        return None
    if not await claim(deps, reply_key(event), event.from_user, event.event or "text", "passive"):
        return None
    return reply


async def respond(deps: Deps, event: Event) -> None:
    """The worker path: answer through message/send, once per message."""
    key = reply_key(event)
    if await ConversationReply.exists(key=key):
        return
    reply = await compute(deps, event)
    if reply is not None:
        await send_once(deps, key, event.from_user, event.event or "text", reply)


async def publish_menu(deps: Deps) -> dict[str, Any]:
    """Set the app's custom menu (WeCom menu/create) from what the features register."""
    menu = deps.dispatcher.menu_json(deps)
    params = {"agentid": str(deps.settings.wecom.agent_id)}
    await deps.wecom.call("POST", "/cgi-bin/menu/create", params=params, json=menu)
    return menu


async def first_press(deps: Deps, userid: str, event_key: str, inbox_id: int) -> bool:
    """A button key works once per person: a later callback with the same key (a replay, a
    forged re-send) does nothing. Retries of the same callback (same inbox row) go on."""
    digest = hashlib.sha256(event_key.encode()).hexdigest()[:40]
    key = f"button:{userid}:{digest}"[:160]
    try:
        await ConversationReply.create(
            key=key,
            userid=userid,
            kind="button",
            via="press",
            sent_at=deps.now(),
            inbox_id=inbox_id,
        )
    except IntegrityError:
        row = await ConversationReply.get_or_none(key=key)
        return row is not None and row.inbox_id == inbox_id
    return True
