"""What WeCom refuses in a template card (REFERENCE.md §3), checked before a card is accepted.

Used by message/send and message/update_template_card and by the passive-reply path, so a
card builder that breaks one of WeCom's rules fails in the tests instead of in production.
All refusals are errcode 40058 (invalid parameter) with the field named, as WeCom answers.
"""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.errors import SandboxError

INTERACTIVE_CARDS = {"button_interaction", "vote_interaction", "multiple_interaction"}
CARD_TYPES = INTERACTIVE_CARDS | {"text_notice", "news_notice"}
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
MAX_KEY_BYTES = 1024
MAX_RECIPIENTS = 1000
LIMITS = {  # list field → WeCom's maximum length
    "horizontal_content_list": 6,
    "jump_list": 3,
    "button_list": 6,
    "vertical_content_list": 4,
    "select_list": 3,
}


def _refuse(detail: str) -> SandboxError:
    return SandboxError(40058, detail)


def _dict(card: dict[str, Any], key: str) -> dict[str, Any]:
    value = card.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(f"{key} must be an object")
    return value


def _list(card: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = card.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _refuse(f"{key} must be a list of objects")
    limit = LIMITS.get(key)
    if limit is not None and len(value) > limit:
        raise _refuse(f"{key} has more than {limit} items")
    return value


def check_task_id(task_id: str) -> None:
    if not TASK_ID.fullmatch(task_id):
        raise _refuse("task_id: 1-128 characters of 0-9 a-z A-Z _ - @")


def _check_key(where: str, key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise _refuse(f"{where}.key is required")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise _refuse(f"{where}.key is longer than {MAX_KEY_BYTES} bytes")


def _check_action(where: str, action: dict[str, Any]) -> None:
    kind = action.get("type", 1)
    if kind == 1 and not action.get("url"):
        raise _refuse(f"{where}.url is required for type 1")
    if kind == 2 and not action.get("appid"):
        raise _refuse(f"{where}.appid is required for type 2")
    if kind not in (0, 1, 2):
        raise _refuse(f"{where}.type must be 0, 1 or 2")


def _check_common(card: dict[str, Any], card_type: str) -> None:
    title = _dict(card, "main_title").get("title")
    if not title and not card.get("sub_title_text"):
        raise _refuse("main_title.title or sub_title_text is required")
    for i, row in enumerate(_list(card, "horizontal_content_list")):
        if not row.get("keyname"):
            raise _refuse(f"horizontal_content_list[{i}].keyname is required")
        if row.get("type") == 1 and not row.get("url"):
            raise _refuse(f"horizontal_content_list[{i}].url is required for type 1")
    for i, jump in enumerate(_list(card, "jump_list")):
        if not jump.get("title"):
            raise _refuse(f"jump_list[{i}].title is required")
        _check_action(f"jump_list[{i}]", jump)
    action = _dict(card, "card_action")
    if card_type in ("text_notice", "news_notice") and not action:
        raise _refuse(f"card_action is required for {card_type}")
    if action:
        _check_action("card_action", action)
    menu = _dict(card, "action_menu")
    if menu:
        actions = _list(menu, "action_list")
        if not 1 <= len(actions) <= 3:
            raise _refuse("action_menu.action_list holds 1 to 3 actions")
        for i, item in enumerate(actions):
            _check_key(f"action_menu.action_list[{i}]", item.get("key"))


def _check_interaction(card: dict[str, Any], card_type: str) -> None:
    if card_type == "button_interaction":
        buttons = _list(card, "button_list")
        if not buttons:
            raise _refuse("button_list is required for button_interaction")
        for i, button in enumerate(buttons):
            if button.get("type", 0) == 1:
                if not button.get("url"):
                    raise _refuse(f"button_list[{i}].url is required for type 1")
            else:
                _check_key(f"button_list[{i}]", button.get("key"))
    if card_type in ("vote_interaction", "multiple_interaction"):
        _check_key("submit_button", _dict(card, "submit_button").get("key"))
    if card_type == "vote_interaction" and not _dict(card, "checkbox"):
        raise _refuse("checkbox is required for vote_interaction")
    if card_type == "multiple_interaction" and not _list(card, "select_list"):
        raise _refuse("select_list is required for multiple_interaction")


def check_card(card: Any) -> str:
    """Refuse a card WeCom would refuse; returns its card_type."""
    if not isinstance(card, dict):
        raise SandboxError(47001, "template_card must be an object")
    card_type = card.get("card_type")
    if card_type not in CARD_TYPES:
        raise _refuse(f"card_type {card_type!r}")
    task_id = card.get("task_id")
    if task_id is not None and task_id != "":
        check_task_id(str(task_id))
    elif card_type in INTERACTIVE_CARDS or card.get("action_menu"):
        raise _refuse("task_id is required for this card")
    _check_common(card, card_type)
    if card_type == "news_notice" and not (card.get("card_image") or card.get("image_text_area")):
        raise _refuse("news_notice needs card_image or image_text_area")
    _check_interaction(card, card_type)
    return str(card_type)


def check_recipients(count: int, what: str = "touser", limit: int = MAX_RECIPIENTS) -> None:
    """touser/userids ≤ 1,000; toparty/partyids and totag/tagids ≤ 100 (REFERENCE.md §3-4)."""
    if count > limit:
        raise _refuse(f"{what} holds more than {limit} items")
