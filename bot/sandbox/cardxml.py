"""Read the passive update_template_card reply's XML back into a template_card dict.

The inverse of `bot.replies.to_xml`: CamelCase elements become snake_case keys, and an element
whose name ends in "List" holds one child per list item.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

INT_KEYS = {"type", "style", "desc_color", "mode", "atall"}
FLOAT_KEYS = {"aspect_ratio"}
BOOL_KEYS = {"is_checked"}


def snake(tag: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", tag).lower()


def _leaf(key: str, text: str) -> Any:
    try:
        if key in INT_KEYS:
            return int(text)
        if key in FLOAT_KEYS:
            return float(text)
        if key in BOOL_KEYS:
            return text.strip() in ("1", "true", "True")
    except ValueError:
        return text
    return text


def element_to_value(el: ET.Element) -> Any:
    children = list(el)
    if el.tag.endswith("List") and len(el.tag) > 4:
        return [element_to_value(child) for child in children]
    if not children:
        return _leaf(snake(el.tag), el.text or "")
    return {snake(child.tag): element_to_value(child) for child in children}


def parse_reply(xml: str) -> dict[str, Any]:
    """The decrypted passive reply as {"msg_type", "replace_name" | "template_card"}."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"reply is not XML: {exc}") from None
    msg_type = root.findtext("MsgType", "")
    if msg_type == "update_button":
        return {"msg_type": msg_type, "replace_name": root.findtext("Button/ReplaceName", "")}
    card = root.find("TemplateCard")
    if msg_type == "update_template_card" and card is not None:
        return {"msg_type": msg_type, "template_card": element_to_value(card)}
    raise ValueError(f"not a template-card reply: MsgType {msg_type!r}")
