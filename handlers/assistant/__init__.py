"""应用助手 — the app's own side of the conversation with staff: 帮助, the answer to text no
command takes, and the menu card sent when a staff member opens the app (once a day each)."""

from __future__ import annotations

from bot.conversation import send_once
from bot.deps import Deps
from bot.events import EnterAgent, MenuClick, TextMessage
from bot.replies import MessageReply
from bot.router import Router
from cards.assistant import help_text, menu_card, unknown_card
from storage.directory import Staff

router = Router("assistant")
router.menu_link("全部功能", "/sidebar", group="工作台", order=900)


@router.text("帮助", "help", "?", "？", description="查看我能听懂的指令", order=0)
async def help_command(deps: Deps, event: TextMessage, args: str) -> MessageReply:
    return MessageReply.text(help_text(deps.dispatcher.commands))


@router.menu_click("帮助", key="assistant.help", order=950)
async def help_click(deps: Deps, event: MenuClick) -> MessageReply:
    return MessageReply.text(help_text(deps.dispatcher.commands))


@router.unknown_text
async def unknown(deps: Deps, event: TextMessage) -> MessageReply:
    card = unknown_card(event.content.strip(), deps.dispatcher.commands, deps.url("/sidebar"))
    return MessageReply.card(card)


def _links(deps: Deps) -> list[tuple[str, str]]:
    items = [i for i in deps.dispatcher.menu_items if i.url]
    links = [(i.name, i.url if "://" in i.url else deps.url(i.url)) for i in items]
    return links or [("工作台", deps.url("/sidebar"))]


@router.event("enter_agent")
async def on_enter(deps: Deps, event: EnterAgent) -> None:
    """At most one menu card a day each: the day (corp time zone) is part of the reply key."""
    day = event.created_at.astimezone(deps.settings.tz).date().isoformat()
    staff = await Staff.get_or_none(userid=event.from_user)
    card = menu_card(staff.name if staff else "", deps.dispatcher.commands, _links(deps))
    key = f"enter_agent:{event.from_user}:{day}"
    await send_once(deps, key, event.from_user, "enter_agent", MessageReply.card(card))


__all__ = ["router"]
