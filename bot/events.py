"""Typed WeCom callback events, parsed from the decrypted XML (REFERENCE.md §2).

Every event has a `route` — (Event, ChangeType) or ("message", MsgType) — that the router
matches on. Anything not modelled becomes an `UnknownEvent`: stored, and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from bot.crypto import BadRequest, parse_xml


def _s(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _is_id(text: str) -> bool:
    """ASCII digits only: "²" passes str.isdigit() but int() refuses it."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _i(data: dict[str, Any], key: str, default: int = 0) -> int:
    try:
        return int(_s(data, key) or default)
    except ValueError:
        raise BadRequest(f"<{key}> is not an integer") from None


def _items(value: Any) -> list[str]:
    """xmltodict gives a dict for one repeated element and a list for several: normalise."""
    if isinstance(value, dict):
        value = value.get("Item")
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


@dataclass(frozen=True)
class Event:
    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    event: str
    agent_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    change_type_key: ClassVar[str] = ""

    @property
    def route(self) -> tuple[str, str]:
        if self.msg_type != "event":
            return ("message", self.msg_type)
        return (self.event, _s(self.raw, "ChangeType") if self.change_type_key else "")

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.create_time, UTC)

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class TextMessage(Event):
    content: str = ""
    msg_id: str = ""

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {"content": _s(data, "Content"), "msg_id": _s(data, "MsgId")}


@dataclass(frozen=True)
class EnterAgent(Event):
    pass


@dataclass(frozen=True)
class MenuClick(Event):
    """A click on an app menu item (Event=click); `event_key` is the item's key."""

    event_key: str = ""

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {"event_key": _s(data, "EventKey")}


@dataclass(frozen=True)
class MenuView(MenuClick):
    """A view item opened (Event=view); `event_key` is its URL. Nothing to answer."""


@dataclass(frozen=True)
class ExternalContactEvent(Event):
    change_type: str = ""
    user_id: str = ""
    external_user_id: str = ""
    state: str = ""
    welcome_code: str = ""
    source: str = ""
    fail_reason: str = ""

    change_type_key: ClassVar[str] = "ChangeType"

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "change_type": _s(data, "ChangeType"),
            "user_id": _s(data, "UserID"),
            "external_user_id": _s(data, "ExternalUserID"),
            "state": _s(data, "State"),
            "welcome_code": _s(data, "WelcomeCode"),
            "source": _s(data, "Source"),
            "fail_reason": _s(data, "FailReason"),
        }


@dataclass(frozen=True)
class ExternalChatEvent(Event):
    change_type: str = ""
    chat_id: str = ""
    update_detail: str = ""
    join_scene: int = 0
    quit_scene: int = 0
    mem_change_cnt: int = 0
    mem_change_list: tuple[str, ...] = ()
    last_mem_ver: str = ""
    cur_mem_ver: str = ""

    change_type_key: ClassVar[str] = "ChangeType"

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "change_type": _s(data, "ChangeType"),
            "chat_id": _s(data, "ChatId"),
            "update_detail": _s(data, "UpdateDetail"),
            "join_scene": _i(data, "JoinScene"),
            "quit_scene": _i(data, "QuitScene"),
            "mem_change_cnt": _i(data, "MemChangeCnt"),
            "mem_change_list": tuple(_items(data.get("MemChangeList"))),
            "last_mem_ver": _s(data, "LastMemVer"),
            "cur_mem_ver": _s(data, "CurMemVer"),
        }


@dataclass(frozen=True)
class ExternalTagEvent(Event):
    change_type: str = ""
    tag_id: str = ""
    tag_type: str = ""
    strategy_id: str = ""

    change_type_key: ClassVar[str] = "ChangeType"

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "change_type": _s(data, "ChangeType"),
            "tag_id": _s(data, "Id"),
            "tag_type": _s(data, "TagType"),
            "strategy_id": _s(data, "StrategyId"),
        }


@dataclass(frozen=True)
class ContactEvent(Event):
    """change_contact: create_user / update_user / delete_user / *_party / update_tag."""

    change_type: str = ""
    user_id: str = ""
    new_user_id: str = ""
    name: str = ""
    department: tuple[int, ...] = ()
    status: int = 0
    party_id: int = 0
    parent_id: int = 0

    change_type_key: ClassVar[str] = "ChangeType"

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        depts = tuple(int(d) for d in _s(data, "Department").split(",") if _is_id(d.strip()))
        return {
            "change_type": _s(data, "ChangeType"),
            "user_id": _s(data, "UserID"),
            "new_user_id": _s(data, "NewUserID"),
            "name": _s(data, "Name"),
            "department": depts,
            "status": _i(data, "Status"),
            "party_id": _i(data, "Id"),
            "parent_id": _i(data, "ParentId"),
        }


@dataclass(frozen=True)
class TemplateCardEvent(Event):
    event_key: str = ""
    task_id: str = ""
    card_type: str = ""
    response_code: str = ""
    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def extra(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_key": _s(data, "EventKey"),
            "task_id": _s(data, "TaskId"),
            "card_type": _s(data, "CardType"),
            "response_code": _s(data, "ResponseCode"),
            "selected": _selected_items(data.get("SelectedItems")),
        }


def _selected_items(value: Any) -> dict[str, tuple[str, ...]]:
    """SelectedItems/SelectedItem/{QuestionKey, OptionIds|OpitonIds/OptionId|OpitonId}."""
    if not isinstance(value, dict):
        return {}
    items = value.get("SelectedItem")
    if isinstance(items, dict):
        items = [items]
    out: dict[str, tuple[str, ...]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        ids = item.get("OptionIds") or item.get("OpitonIds") or {}
        raw = ids.get("OptionId") or ids.get("OpitonId") if isinstance(ids, dict) else None
        values = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
        out[_s(item, "QuestionKey")] = tuple(v for v in values if isinstance(v, str))
    return out


@dataclass(frozen=True)
class UnknownEvent(Event):
    pass


EVENT_TYPES: dict[str, type[Event]] = {
    "enter_agent": EnterAgent,
    "click": MenuClick,
    "view": MenuView,
    "change_external_contact": ExternalContactEvent,
    "change_external_chat": ExternalChatEvent,
    "change_external_tag": ExternalTagEvent,
    "change_contact": ContactEvent,
    "template_card_event": TemplateCardEvent,
}


def event_from_dict(data: dict[str, Any]) -> Event:
    msg_type = _s(data, "MsgType")
    if not msg_type:
        raise BadRequest("missing <MsgType>")
    event = _s(data, "Event")
    if msg_type == "text":
        cls: type[Event] = TextMessage
    elif msg_type == "event":
        cls = EVENT_TYPES.get(event, UnknownEvent)
    else:
        cls = UnknownEvent
    return cls(
        to_user=_s(data, "ToUserName"),
        from_user=_s(data, "FromUserName"),
        create_time=_i(data, "CreateTime"),
        msg_type=msg_type,
        event=event,
        agent_id=_s(data, "AgentID"),
        raw=data,
        **cls.extra(data),
    )


def parse_event(xml: str | bytes) -> Event:
    return event_from_dict(parse_xml(xml))
