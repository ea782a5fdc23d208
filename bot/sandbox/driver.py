"""Plays the WeCom client: changes the sandbox corp and sends the callback WeCom would send,
encrypted and signed, to the service's callback URL."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.crypto import CallbackError, WeComCrypto, parse_xml
from bot.sandbox.acquisition import ADD_WAY as ACQUISITION_ADD_WAY
from bot.sandbox.acquisition import cut_channel
from bot.sandbox.callbacks import event_xml, selected_items_xml, text_xml
from bot.sandbox.cardxml import parse_reply
from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import AppMessage


@dataclass
class CallbackResult:
    status: int
    body: str
    xml: str  # the decrypted XML that was sent
    info: dict[str, Any] = field(default_factory=dict)


class SandboxDriver:
    def __init__(
        self,
        corp: Corp,
        callback_url: str,
        crypto: WeComCrypto,
        session: aiohttp.ClientSession,
        agent_id: int = 1000002,
    ) -> None:
        self.corp, self.callback_url, self.crypto = corp, callback_url, crypto
        self.session, self.agent_id = session, agent_id
        self.log: list[CallbackResult] = []

    async def deliver_raw(self, xml: str, times: int = 1) -> list[CallbackResult]:
        """Send one encrypted envelope `times` times, as WeCom's retries do."""
        params, body = self.crypto.encrypt_callback(xml)
        results = []
        for _ in range(times):
            async with self.session.post(self.callback_url, params=params, data=body) as resp:
                result = CallbackResult(resp.status, await resp.text(), xml)
            self.log.append(result)
            results.append(result)
        return results

    async def _deliver(self, xml: str, **info: Any) -> CallbackResult:
        result = (await self.deliver_raw(xml))[0]
        result.info.update(info)
        return result

    def _event(self, event: str, from_user: str = "sys", **fields: Any) -> str:
        return event_xml(self.crypto.corp_id, from_user, self.corp.now(), event, **fields)

    # customers -------------------------------------------------------------------------

    async def customer_adds_staff(
        self,
        userid: str,
        external_userid: str = "",
        *,
        state: str = "",
        add_way: int = 1,
        name: str | None = None,
        welcome: bool = True,
    ) -> CallbackResult:
        corp = self.corp
        if not external_userid or external_userid not in corp.customers:
            label = name or f"新客户{random.randint(1000, 9999)}"
            external_userid = corp.add_customer(label, external_userid or None).external_userid
        corp.add_follow(userid, external_userid, state, add_way)
        code = corp.issue_welcome_code(userid, external_userid) if welcome else None
        xml = self._event(
            "change_external_contact",
            ChangeType="add_external_contact",
            UserID=userid,
            ExternalUserID=external_userid,
            State=state,
            WelcomeCode=code,
        )
        return await self._deliver(xml, external_userid=external_userid, welcome_code=code)

    async def customer_scans_contact_way(
        self, config_id: str, external_userid: str = "", *, name: str | None = None
    ) -> CallbackResult:
        way = self.corp.get_contact_way(config_id)
        userid = random.choice(way.users)
        return await self.customer_adds_staff(
            userid, external_userid, state=way.state, add_way=1, name=name
        )

    async def customer_opens_acquisition_link(
        self,
        link_id: str,
        customer_channel: str = "",
        external_userid: str = "",
        *,
        name: str | None = None,
    ) -> CallbackResult:
        """A customer opens a 获客链接 (`url?customer_channel=…`) and adds one of its members:
        the add event carries the channel as `State`, one unit of quota is used
        (`bot.sandbox.acquisition` has the refusals)."""
        state = cut_channel(customer_channel)
        userid = self.corp.take_link_add(link_id, external_userid)
        result = await self.customer_adds_staff(
            userid, external_userid, state=state, add_way=ACQUISITION_ADD_WAY, name=name
        )
        self.corp.record_link_add(link_id, result.info["external_userid"], userid, state)
        return result

    async def staff_deletes_customer(self, userid: str, external_userid: str) -> CallbackResult:
        self.corp.remove_follow(userid, external_userid)
        xml = self._event(
            "change_external_contact",
            ChangeType="del_external_contact",
            UserID=userid,
            ExternalUserID=external_userid,
        )
        return await self._deliver(xml)

    async def customer_deletes_staff(self, userid: str, external_userid: str) -> CallbackResult:
        self.corp.remove_follow(userid, external_userid)
        xml = self._event(
            "change_external_contact",
            ChangeType="del_follow_user",
            UserID=userid,
            ExternalUserID=external_userid,
        )
        return await self._deliver(xml)

    # groups ----------------------------------------------------------------------------

    async def create_group(
        self, owner: str, name: str, members: list[str] | None = None
    ) -> CallbackResult:
        chat = self.corp.create_group(owner, name, members)
        xml = self._event("change_external_chat", ChatId=chat.chat_id, ChangeType="create")
        return await self._deliver(xml, chat_id=chat.chat_id)

    async def dismiss_group(self, chat_id: str) -> CallbackResult:
        self.corp.dismiss_group(chat_id)
        xml = self._event("change_external_chat", ChatId=chat_id, ChangeType="dismiss")
        return await self._deliver(xml)

    async def customer_joins_group(
        self, chat_id: str, external_userid: str, *, scene: int = 0, invitor: str | None = None
    ) -> CallbackResult:
        if scene not in (0, 3):
            raise SandboxError(40058, "JoinScene is 0 (invited / invite link) or 3 (group QR)")
        member_scene = 3 if scene == 3 else (1 if invitor else 2)
        change = self.corp.join_group(chat_id, external_userid, member_scene, invitor or "")
        xml = self._event(
            "change_external_chat",
            ChatId=chat_id,
            ChangeType="update",
            UpdateDetail="add_member",
            JoinScene=scene,
            MemChangeCnt=1,
            MemChangeList=[external_userid],
            LastMemVer=change.last_version,
            CurMemVer=change.cur_version,
        )
        return await self._deliver(xml, member_version=change.cur_version)

    async def customer_quits_group(
        self, chat_id: str, external_userid: str, *, scene: int = 0
    ) -> CallbackResult:
        if scene not in (0, 1):
            raise SandboxError(40058, "QuitScene is 0 (left) or 1 (removed by owner/admin)")
        change = self.corp.quit_group(chat_id, external_userid)
        xml = self._event(
            "change_external_chat",
            ChatId=chat_id,
            ChangeType="update",
            UpdateDetail="del_member",
            QuitScene=scene,
            MemChangeCnt=1,
            MemChangeList=[external_userid],
            LastMemVer=change.last_version,
            CurMemVer=change.cur_version,
        )
        return await self._deliver(xml, member_version=change.cur_version)

    # tags and directory ----------------------------------------------------------------

    async def tag_changed(
        self,
        tag_id: str,
        *,
        tag_type: str = "tag",
        change_type: str = "create",
        strategy_id: str = "",
    ) -> CallbackResult:
        xml = self._event(
            "change_external_tag",
            Id=tag_id,
            TagType=tag_type,
            ChangeType=change_type,
            StrategyId=strategy_id or None,
        )
        return await self._deliver(xml)

    async def staff_created(
        self, userid: str, name: str, department: list[int] | None = None
    ) -> CallbackResult:
        staff = self.corp.add_staff(userid, name, department)
        return await self._contact(
            "create_user",
            userid,
            Name=staff.name,
            Department=",".join(map(str, staff.department)),
            Status=1,
        )

    async def staff_updated(self, userid: str, **changes: Any) -> CallbackResult:
        staff = self.corp.update_staff(userid, **changes)
        return await self._contact(
            "update_user",
            userid,
            Name=staff.name,
            Department=",".join(map(str, staff.department)),
            Status=staff.status,
        )

    async def staff_deleted(self, userid: str) -> CallbackResult:
        self.corp.delete_staff(userid)
        return await self._contact("delete_user", userid)

    async def _contact(self, change_type: str, userid: str, **fields: Any) -> CallbackResult:
        xml = self._event(
            "change_contact", from_user="sys", ChangeType=change_type, UserID=userid, **fields
        )
        return await self._deliver(xml)

    # a member in the WeCom client ------------------------------------------------------

    async def send_text(self, userid: str, content: str, times: int = 1) -> CallbackResult:
        """A member types to the app; `times` > 1 delivers it again as WeCom's retries do.
        A passive reply shows in the member's chat as WeCom shows it."""
        self.corp.get_staff(userid)
        self.corp.record_typed(userid, content)
        msg_id = str(random.randint(10**18, 10**19 - 1))
        xml = text_xml(self.crypto.corp_id, userid, self.corp.now(), content, msg_id, self.agent_id)
        results = await self.deliver_raw(xml, times)
        for result in results:
            self._apply_message_reply(userid, result)
        results[0].info["msg_id"] = msg_id
        return results[0]

    async def click_menu(self, userid: str, key: str) -> CallbackResult:
        """A member taps a click item of the app's menu."""
        self.corp.get_staff(userid)
        self.corp.menu_item(key=key)
        xml = self._event("click", from_user=userid, EventKey=key, AgentID=self.agent_id)
        result = await self._deliver(xml)
        self._apply_message_reply(userid, result)
        return result

    async def open_menu_link(self, userid: str, url: str) -> CallbackResult:
        """A member taps a view item: WeCom reports it (Event=view) and opens the page."""
        self.corp.get_staff(userid)
        self.corp.menu_item(url=url)
        xml = self._event("view", from_user=userid, EventKey=url, AgentID=self.agent_id)
        return await self._deliver(xml, url=url)

    async def enter_agent(self, userid: str) -> CallbackResult:
        self.corp.get_staff(userid)
        xml = self._event("enter_agent", from_user=userid, EventKey="", AgentID=self.agent_id)
        return await self._deliver(xml)

    async def click_card(
        self,
        userid: str,
        message_id: str,
        button_key: str,
        selected: dict[str, list[str]] | None = None,
    ) -> CallbackResult:
        message = self.corp.find_message(userid, message_id)
        card = message.card or {}
        if message.replace_name:
            raise SandboxError(40058, "this card's buttons were already replaced")
        code = self.corp.issue_click_code(message)
        message.clicks.append(button_key)
        xml = self._event(
            "template_card_event",
            from_user=userid,
            EventKey=button_key,
            TaskId=message.task_id,
            CardType=str(card.get("card_type", "")),
            ResponseCode=code,
            AgentID=self.agent_id,
        )
        if selected:
            xml = xml.replace("</xml>", selected_items_xml(selected) + "</xml>")
        result = await self._deliver(xml, response_code=code)
        if result.status == 200 and result.body.strip():
            self._apply_passive_reply(message, code, result)
        return result

    # moments: WeCom sends no callback for them; the service learns by polling the APIs --

    async def staff_publishes_moment(self, userid: str, moment_id: str) -> CallbackResult:
        """The member confirms an enterprise moment in 客户朋友圈 → 企业通知."""
        sender = self.corp.publish_moment(moment_id, userid)
        return CallbackResult(200, "", "", {"visible_to": len(sender.visible_to)})

    async def staff_posts_moment(
        self, userid: str, text: str, link_url: str = "", link_title: str = ""
    ) -> CallbackResult:
        """A personal moment, as the JS-SDK shareToExternalMoments leaves one."""
        attachments = []
        if link_url:
            link = {"title": link_title, "url": link_url, "media_id": ""}
            attachments.append({"msgtype": "link", "link": link})
        moment = self.corp.post_personal_moment(userid, text, attachments)
        return CallbackResult(200, "", "", {"moment_id": moment.moment_id})

    async def customer_likes_moment(
        self, userid: str, moment_id: str, external_userid: str
    ) -> CallbackResult:
        self.corp.react_to_moment(moment_id, userid, external_userid, "like")
        return CallbackResult(200, "", "", {})

    async def customer_comments_moment(
        self, userid: str, moment_id: str, external_userid: str
    ) -> CallbackResult:
        self.corp.react_to_moment(moment_id, userid, external_userid, "comment")
        return CallbackResult(200, "", "", {})

    def _open_reply(self, body: str) -> str:
        """The decrypted XML of a passive reply (signature checked)."""
        envelope = parse_xml(body)
        encrypt, sig = str(envelope.get("Encrypt", "")), str(envelope.get("MsgSignature", ""))
        ts, nonce = str(envelope.get("TimeStamp", "")), str(envelope.get("Nonce", ""))
        self.crypto.check_signature(sig, ts, nonce, encrypt)
        return self.crypto.decrypt(encrypt)

    def _apply_message_reply(self, userid: str, result: CallbackResult) -> None:
        if result.status != 200 or not result.body.strip():
            return
        try:
            reply = parse_xml(self._open_reply(result.body))
        except (CallbackError, ValueError) as exc:
            result.info["reply_error"] = str(exc)
            return
        if reply.get("MsgType") != "text" or reply.get("ToUserName") != userid:
            result.info["reply_error"] = f"unexpected passive reply {reply.get('MsgType')!r}"
            return
        content = str(reply.get("Content") or "")
        self.corp.record_passive_reply(userid, "text", {"content": content})
        result.info["reply"] = "text"

    def _apply_passive_reply(self, message: AppMessage, code: str, result: CallbackResult) -> None:
        try:
            reply = parse_reply(self._open_reply(result.body))
        except (CallbackError, ValueError) as exc:
            result.info["reply_error"] = str(exc)
            return
        update = (
            {"template_card": reply["template_card"]}
            if "template_card" in reply
            else {"button": {"replace_name": reply["replace_name"]}}
        )
        try:
            self.corp.use_response_code(code)  # a code serves one update: this one
            self.corp.apply_card_update(message, update)
        except SandboxError as exc:
            result.info["reply_error"] = exc.errmsg
            return
        result.info["reply"] = reply["msg_type"]
