"""App messages as each member receives them, template-card response codes and updates."""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

from bot.sandbox.base import CorpBase
from bot.sandbox.cardcheck import INTERACTIVE_CARDS, check_card
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import AppMessage, ResponseCode, TypedText, WelcomeMessage

MSG_TYPES = {"text", "textcard", "news", "markdown", "template_card", "image", "file"}
RESPONSE_CODE_TTL = 72 * 3600  # "72小时内有效，且只能使用一次" (REFERENCE §3)
MEMBER_PER_MINUTE = 30  # excess is silently dropped by WeCom (REFERENCE §4)


class MessagesMixin(CorpBase):
    def _init_messages(self) -> None:
        self.messages: list[AppMessage] = []
        self.response_codes: dict[str, ResponseCode] = {}
        self.dropped: list[tuple[str, str]] = []  # (userid, msgid) over the per-minute cap
        self.welcome_messages: list[WelcomeMessage] = []
        self._task_ids: set[str] = set()
        self._recent: dict[str, deque[float]] = {}
        self.menu: dict[str, Any] | None = None  # the app's custom menu (menu/create)
        self.typed: list[TypedText] = []  # what members typed to the app

    def record_typed(self, userid: str, content: str) -> None:
        self.typed.append(TypedText(userid, content, self.clock()))

    def record_passive_reply(self, userid: str, msgtype: str, body: dict[str, Any]) -> AppMessage:
        """A passive reply to a member's message: shown in their chat like any app message."""
        message = AppMessage(
            id=self.new_id("m", 12),
            msgid=self.new_id("", 40),
            userid=userid,
            msgtype=msgtype,
            payload={msgtype: body},
            created_at=self.clock(),
        )
        self.messages.append(message)
        return message

    def menu_item(self, key: str = "", url: str = "") -> dict[str, Any]:
        """The menu's click item with this key (or view item with this URL), else 40058."""
        for top in (self.menu or {}).get("button", []):
            for item in top.get("sub_button", [top]):
                if (key and item.get("key") == key) or (url and item.get("url") == url):
                    return dict(item)
        raise SandboxError(40058, "no such item in the app's menu")

    def resolve_recipients(self, touser: str, toparty: str) -> tuple[list[str], list[str]]:
        """(valid userids, invalid userids) for message/send's touser and toparty."""
        if touser.strip() == "@all":
            return list(self.staff), []
        wanted = [u for u in touser.split("|") if u]
        valid = [u for u in wanted if u in self.staff]
        for party in (p for p in toparty.split("|") if p.isdigit()):
            depts = set(self.department_tree(int(party)))
            valid += [s.userid for s in self.staff.values() if depts & set(s.department)]
        return list(dict.fromkeys(valid)), [u for u in wanted if u not in self.staff]

    def send_app_message(
        self, userids: list[str], msgtype: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        self._check_payload(msgtype, payload)
        msgid = self.new_id("", 40)
        card = payload.get("template_card") if msgtype == "template_card" else None
        task_id = str(card.get("task_id", "")) if card else ""
        result: dict[str, Any] = {"msgid": msgid}
        if card and card.get("card_type") in INTERACTIVE_CARDS:
            code = self.new_id("rc", 40)
            self.response_codes[code] = ResponseCode(code, msgid, self.clock() + RESPONSE_CODE_TTL)
            result["response_code"] = code
        if task_id:
            self._task_ids.add(task_id)
        for userid in userids:
            if not self._under_member_cap(userid):
                self.dropped.append((userid, msgid))
                continue
            self.messages.append(
                AppMessage(
                    id=self.new_id("m", 12),
                    msgid=msgid,
                    userid=userid,
                    msgtype=msgtype,
                    payload=copy.deepcopy(payload),
                    created_at=self.clock(),
                    task_id=task_id,
                    response_code=result.get("response_code", ""),
                    card=copy.deepcopy(card) if card else None,
                )
            )
        return result

    def _under_member_cap(self, userid: str) -> bool:
        now = self.clock()
        recent = self._recent.setdefault(userid, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= MEMBER_PER_MINUTE:
            return False
        recent.append(now)
        return True

    def _check_payload(self, msgtype: str, payload: dict[str, Any]) -> None:
        if msgtype not in MSG_TYPES:
            raise SandboxError(40008, f"msgtype {msgtype!r}")
        body = payload.get(msgtype)
        if not isinstance(body, dict):
            raise SandboxError(47001, f"missing {msgtype} object")
        if msgtype in ("text", "markdown"):
            content = str(body.get("content", ""))
            if not content:
                raise SandboxError(44004)
            if len(content.encode()) > 2048:
                raise SandboxError(45002, "content longer than 2048 bytes")
        if msgtype == "news" and len(body.get("articles") or []) > 8:
            raise SandboxError(45008)
        if msgtype == "template_card":
            self._check_card(body)

    def _check_card(self, card: dict[str, Any]) -> None:
        check_card(card)
        task_id = str(card.get("task_id", ""))
        if task_id and task_id in self._task_ids:
            raise SandboxError(40058, f"task_id {task_id!r} already used in this app")

    def issue_click_code(self, message: AppMessage) -> str:
        code = self.new_id("rc", 40)
        expires = self.clock() + RESPONSE_CODE_TTL
        self.response_codes[code] = ResponseCode(code, message.msgid, expires, message.userid)
        return code

    def use_response_code(self, code: str) -> ResponseCode:
        rc = self.response_codes.get(code)
        if rc is None or rc.used or rc.expires_at <= self.clock():
            raise SandboxError(40099, "unknown, used or expired response_code")
        rc.used = True
        return rc

    def update_cards(
        self, rc: ResponseCode, userids: list[str], atall: bool, update: dict[str, Any]
    ) -> list[str]:
        """Apply message/update_template_card; returns the invalid userids."""
        copies = [m for m in self.messages if m.msgid == rc.msgid]
        targets = copies if atall else [m for m in copies if m.userid in userids]
        invalid = [] if atall else [u for u in userids if u not in {m.userid for m in copies}]
        for message in targets:
            self.apply_card_update(message, update)
        return invalid

    def apply_card_update(self, message: AppMessage, update: dict[str, Any]) -> None:
        if "template_card" in update:
            check_card(update["template_card"])
            message.card = copy.deepcopy(update["template_card"])
            message.replace_name = ""
        elif "button" in update:
            card_type = (message.card or {}).get("card_type")
            if card_type not in INTERACTIVE_CARDS:
                raise SandboxError(40058, "button update needs an interactive card")
            message.replace_name = str(update["button"].get("replace_name", "")) or "已处理"
        else:
            raise SandboxError(40058, "need button or template_card")
        message.updated_at = self.clock()

    def inbox(self, userid: str) -> list[AppMessage]:
        return [m for m in self.messages if m.userid == userid]

    def find_message(self, userid: str, message_id: str) -> AppMessage:
        for message in self.messages:
            if message.id == message_id and message.userid == userid:
                return message
        raise SandboxError(40058, f"message {message_id!r} not in {userid}'s inbox")
