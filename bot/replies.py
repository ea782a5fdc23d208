"""Passive replies to a template_card_event (REFERENCE.md §3, update path A).

The whole-card XML layout is the one independent SDKs write (REFERENCE "not confirmed" from
the official page): snake_case keys become CamelCase elements (`keyname` → `KeyName`,
`checkbox` → `CheckBox`), and every list item is an element named after the list
(`button_list` → `<ButtonList>…</ButtonList><ButtonList>…</ButtonList>`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CardReply:
    """What a button handler wants done to the clicked card: a new button text or a new card."""

    replace_name: str | None = None
    card: dict[str, Any] | None = field(default=None)
    # Everyone whose copy of the card changes; empty = only the person who clicked. Anyone
    # else means the update goes through message/update_template_card (a passive reply
    # changes only the clicker's copy).
    userids: tuple[str, ...] = ()

    def passive_for(self, clicker: str) -> bool:
        return not self.userids or set(self.userids) == {clicker}

    def api_body(self) -> dict[str, Any]:
        """The `button` or `template_card` part of message/update_template_card."""
        if self.card is not None:
            return {"template_card": self.card}
        return {"button": {"replace_name": self.replace_name or "已处理"}}


PASSIVE_MSGTYPES = {"text"}  # what a passive reply to a message or menu click may carry here


@dataclass(frozen=True)
class MessageReply:
    """What a text command or menu click answers: a text (sent passively when ready inside
    WeCom's 5 s) or a template card (always through message/send)."""

    msgtype: str
    body: dict[str, Any]

    @classmethod
    def text(cls, content: str) -> MessageReply:
        return cls("text", {"content": content})

    @classmethod
    def card(cls, card: dict[str, Any]) -> MessageReply:
        return cls("template_card", card)

    @property
    def passive(self) -> bool:
        return self.msgtype in PASSIVE_MSGTYPES

    def message(self) -> dict[str, Any]:
        """The msgtype part of message/send."""
        return {"msgtype": self.msgtype, self.msgtype: self.body}


def passive_message_xml(reply: MessageReply, to_user: str, corp_id: str) -> str:
    if not reply.passive:
        raise ValueError(f"{reply.msgtype} cannot be a passive reply")
    head = (
        f"<ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(corp_id)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
    )
    return f"<xml>{head}<MsgType>{cdata('text')}</MsgType>{to_xml(reply.body['content'], 'Content')}</xml>"


# Where WeCom's element name is not the plain CamelCase of the JSON key.
ELEMENT_NAMES = {"keyname": "KeyName", "checkbox": "CheckBox"}


def element_name(key: str) -> str:
    return ELEMENT_NAMES.get(key) or "".join(p[:1].upper() + p[1:] for p in key.split("_"))


def to_xml(value: Any, tag: str) -> str:
    """A list becomes one `tag` element per item (`<ButtonList>…</ButtonList><ButtonList>…`),
    as WeCom's passive-reply layout has it; booleans are `true`/`false`."""
    if isinstance(value, dict):
        inner = "".join(to_xml(v, element_name(k)) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, list):
        return "".join(to_xml(v, tag) for v in value)
    if isinstance(value, bool):
        return f"<{tag}>{'true' if value else 'false'}</{tag}>"
    if isinstance(value, int | float):
        return f"<{tag}>{value}</{tag}>"
    return f"<{tag}>{cdata(str(value))}</{tag}>"


def cdata(text: str) -> str:
    """CDATA is literal (no entities); a `]]>` inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_reply_xml(reply: CardReply, to_user: str, corp_id: str) -> str:
    head = (
        f"<ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(corp_id)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
    )
    if reply.card is not None:
        body = "<MsgType><![CDATA[update_template_card]]></MsgType>" + to_xml(
            reply.card, "TemplateCard"
        )
    else:
        body = "<MsgType><![CDATA[update_button]]></MsgType>" + to_xml(
            {"replace_name": reply.replace_name or "已处理"}, "Button"
        )
    return f"<xml>{head}{body}</xml>"
