"""Passive replies to a template_card_event (REFERENCE.md §3, update path A).

The whole-card XML layout is taken from SDK code, not the official page (REFERENCE "not
confirmed"): snake_case keys become CamelCase elements, list items repeat their parent's
singular element name (`button_list` → `<ButtonList><Button>…</Button></ButtonList>`).
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

    def api_body(self) -> dict[str, Any]:
        """The `button` or `template_card` part of message/update_template_card."""
        if self.card is not None:
            return {"template_card": self.card}
        return {"button": {"replace_name": self.replace_name or "已处理"}}


def _camel(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def to_xml(value: Any, tag: str) -> str:
    if isinstance(value, dict):
        inner = "".join(to_xml(v, _camel(k)) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, list):
        item_tag = _singular_tag(tag)
        return f"<{tag}>" + "".join(to_xml(v, item_tag) for v in value) + f"</{tag}>"
    if isinstance(value, bool):
        return f"<{tag}>{int(value)}</{tag}>"
    if isinstance(value, int | float):
        return f"<{tag}>{value}</{tag}>"
    return f"<{tag}>{cdata(str(value))}</{tag}>"


def cdata(text: str) -> str:
    """CDATA is literal (no entities); a `]]>` inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _singular_tag(tag: str) -> str:
    return tag[: -len("List")] if tag.endswith("List") and len(tag) > 4 else "Item"


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
