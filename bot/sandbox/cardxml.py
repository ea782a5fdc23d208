"""Read the passive update_template_card reply's XML back into a template_card dict.

The inverse of `bot.replies.to_xml`: CamelCase elements become snake_case keys, and elements
whose name ends in "List" are list items (one element per item, repeated).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

INT_KEYS = {"type", "style", "desc_color", "mode", "atall"}
FLOAT_KEYS = {"aspect_ratio"}
BOOL_KEYS = {"is_checked", "disable"}


KEY_NAMES = {"KeyName": "keyname", "CheckBox": "checkbox"}


def snake(tag: str) -> str:
    return KEY_NAMES.get(tag) or re.sub(r"(?<!^)(?=[A-Z])", "_", tag).lower()


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
    """Children named `…List` are list items: repeated siblings gather into one list."""
    children = list(el)
    if not children:
        return _leaf(snake(el.tag), el.text or "")
    out: dict[str, Any] = {}
    for child in children:
        key, value = snake(child.tag), element_to_value(child)
        if child.tag.endswith("List") and len(child.tag) > 4:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


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
