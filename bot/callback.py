"""`GET/POST /wecom/callback` — a thin aiohttp adapter over crypto, events and the inbox.

Answers within WeCom's 5 s: verify → decrypt → parse → store → enqueue → 200. A card click
also runs its button handler here, bounded by a budget, so the update can go back as the
passive reply; past the budget the worker updates the card through the API instead.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from bot import conversation, inbox
from bot.crypto import (
    MAX_BODY_BYTES,
    BadRequest,
    CallbackError,
    Stale,
    TooLarge,
    WeComCrypto,
)
from bot.deps import Deps
from bot.events import Event, TemplateCardEvent, parse_event
from bot.inbox import press
from bot.inbox_batch import InboxBatcher
from bot.metrics import CALLBACKS
from bot.replies import passive_message_xml, passive_reply_xml
from bot.web_keys import DEPS_KEY
from bot.welcome import WelcomeLane
from storage.core import InboxEvent

log = logging.getLogger(__name__)
CRYPTO_KEY = web.AppKey("crypto", WeComCrypto)
BATCHER_KEY = web.AppKey("inbox_batcher", InboxBatcher)
WELCOME_KEY = web.AppKey("welcome_lane", WelcomeLane)


def _query(request: web.Request, *names: str) -> list[str]:
    values = [request.query.get(n, "") for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise CallbackError(f"missing query parameter(s): {', '.join(missing)}")
    return values


def _reject(request: web.Request, exc: CallbackError, kind: str) -> web.Response:
    log.warning("callback rejected: %s (from %s)", exc.reason, request.remote)
    CALLBACKS.labels(kind, f"rejected_{exc.status}").inc()
    return web.Response(status=exc.status, text=exc.reason)


async def verify_url(request: web.Request) -> web.Response:
    crypto = request.app[CRYPTO_KEY]
    try:
        sig, ts, nonce, echo = _query(request, "msg_signature", "timestamp", "nonce", "echostr")
        plain = crypto.verify_url(sig, ts, nonce, echo)
    except CallbackError as exc:
        return _reject(request, exc, "verify")
    return web.Response(text=plain)


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge("body larger than 64 KiB")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge("body larger than 64 KiB")
    return body


def check_fresh(timestamp: str, window: float, now: float | None = None) -> None:
    """WeCom signs the time it first sent a message and its retries (within seconds) reuse
    it, so a validly signed message older than the window is a replay of a captured one."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise BadRequest("timestamp is not a number")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > window:
        raise Stale(f"timestamp {age:.0f}s away from now, outside the {window:.0f}s window")


async def receive(request: web.Request) -> web.Response:
    crypto, deps = request.app[CRYPTO_KEY], request.app[DEPS_KEY]
    try:
        sig, ts, nonce = _query(request, "msg_signature", "timestamp", "nonce")
        xml = crypto.decrypt_callback(sig, ts, nonce, await _read_body(request))
        check_fresh(ts, deps.settings.inbox.callback_max_age_seconds)
        event = parse_event(xml)
    except CallbackError as exc:
        return _reject(request, exc, "unknown")
    kind = inbox.kind_of(event)
    if isinstance(event, TemplateCardEvent):
        return await _card_click(deps, crypto, xml, event)
    if conversation.is_conversation(event):
        return await _message(deps, crypto, xml, event)
    created = await request.app[BATCHER_KEY].store(inbox.inbox_key(xml), kind, xml) is not None
    CALLBACKS.labels(kind, "stored" if created else "duplicate").inc()
    if created:
        request.app[WELCOME_KEY].start(event)  # the deadline lane: not behind the inbox queue
    return web.Response(text="")


async def _card_click(
    deps: Deps, crypto: WeComCrypto, xml: str, event: TemplateCardEvent
) -> web.Response:
    """Stored on its own (not batched) so the worker cannot race the fast path."""
    row, created = await inbox.store(xml, event, deps.now())
    CALLBACKS.labels("template_card_event", "stored" if created else "duplicate").inc()
    if not created:
        return web.Response(text="")
    reply = await _card_fast_path(deps, crypto, row.id, event)
    await inbox.enqueue(deps, row)
    return web.Response(text=reply or "", content_type="application/xml" if reply else "text/plain")


async def _card_fast_path(
    deps: Deps, crypto: WeComCrypto, row_id: int, event: TemplateCardEvent
) -> str | None:
    budget = deps.settings.inbox.card_reply_budget_seconds
    try:
        reply = await asyncio.wait_for(press(deps, row_id, event), budget)
    except TimeoutError:
        log.info("card handler over %.1fs budget; the worker will update the card", budget)
        return None
    except Exception:
        log.exception("card handler failed on the fast path; the worker will retry it")
        return None
    if reply is not None and not reply.passive_for(event.from_user):
        return None  # others' copies change too: the worker updates them through the API
    await inbox.record_run(row_id, inbox.BUTTON_RUN, deps.now())
    if reply is None:
        return None
    await InboxEvent.filter(id=row_id).update(replied=True)
    return crypto.encrypt_reply(passive_reply_xml(reply, event.from_user, crypto.corp_id))


async def _message(deps: Deps, crypto: WeComCrypto, xml: str, event: Event) -> web.Response:
    """A message or menu click: answered passively when the answer is a text ready in time."""
    row, created = await inbox.store(xml, event, deps.now())
    CALLBACKS.labels(inbox.kind_of(event), "stored" if created else "duplicate").inc()
    if not created:
        return web.Response(text="")
    reply = await conversation.passive_answer(deps, event)
    if reply is not None:
        await inbox.record_run(row.id, inbox.TEXT_RUN, deps.now())
    await inbox.enqueue(deps, row)
    if reply is None:
        return web.Response(text="")
    body = crypto.encrypt_reply(passive_message_xml(reply, event.from_user, crypto.corp_id))
    return web.Response(text=body, content_type="application/xml")


async def _batcher(app: web.Application) -> None:
    app[BATCHER_KEY] = InboxBatcher(app[DEPS_KEY])
    app[WELCOME_KEY] = WelcomeLane(app[DEPS_KEY])


async def _close_welcomes(app: web.Application) -> None:
    await app[BATCHER_KEY].settled()  # answered rows' wake-ups, before Redis is closed
    await app[WELCOME_KEY].close()


def setup(app: web.Application, crypto: WeComCrypto) -> None:
    """Call after the app's resources context is added (the batcher needs the Deps)."""
    app[CRYPTO_KEY] = crypto
    app.on_startup.append(_batcher)
    app.on_shutdown.append(_close_welcomes)
    app.router.add_get("/wecom/callback", verify_url)
    app.router.add_post("/wecom/callback", receive)
