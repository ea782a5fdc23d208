"""One method per WeCom endpoint scrmbot uses. Customer-contact endpoints (externalcontact/*)
use the 客户联系 secret; everything else the app's (REFERENCE.md §5, §7)."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from bot.wecom_errors import WeComError

CONTACT = "contact"
NOT_A_CUSTOMER = 84061


class WeComEndpoints:
    settings: Settings

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        secret: str = "app",
    ) -> dict[str, Any]:
        raise NotImplementedError

    # --- directory (app secret: its visible range) ---------------------------------------

    async def get_user(self, userid: str) -> dict[str, Any]:
        return await self.call("GET", "/cgi-bin/user/get", params={"userid": userid})

    async def list_users(self, department_id: int = 1) -> list[dict[str, Any]]:
        params = {"department_id": department_id, "fetch_child": 1}
        body = await self.call("GET", "/cgi-bin/user/list", params=params)
        return list(body.get("userlist", []))

    async def list_departments(self) -> list[dict[str, Any]]:
        body = await self.call("GET", "/cgi-bin/department/list")
        return list(body.get("department", []))

    # --- customers -------------------------------------------------------------------------

    async def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        """external_contact plus every follow_user page (a customer can follow hundreds of
        members; WeCom pages them with next_cursor)."""
        params = {"external_userid": external_userid}
        body = await self.call("GET", "/cgi-bin/externalcontact/get", params=params, secret=CONTACT)
        follow = list(body.get("follow_user", []))
        while cursor := body.get("next_cursor"):
            page = {**params, "cursor": cursor}
            body = await self.call(
                "GET", "/cgi-bin/externalcontact/get", params=page, secret=CONTACT
            )
            follow.extend(body.get("follow_user", []))
        return {"external_contact": body.get("external_contact", {}), "follow_user": follow}

    async def batch_get_by_user(
        self, userids: list[str], cursor: str = "", limit: int = 100
    ) -> dict[str, Any]:
        """One page: {"external_contact_list": [...], "next_cursor": "..."}."""
        payload = {"userid_list": userids, "cursor": cursor, "limit": min(limit, 100)}
        return await self.call(
            "POST", "/cgi-bin/externalcontact/batch/get_by_user", json=payload, secret=CONTACT
        )

    async def list_external_contacts(self, userid: str) -> list[str]:
        try:
            body = await self.call(
                "GET", "/cgi-bin/externalcontact/list", params={"userid": userid}, secret=CONTACT
            )
        except WeComError as exc:
            # WeCom answers 84061 for a member who has no customers at all.
            if exc.errcode == NOT_A_CUSTOMER:
                return []
            raise
        return [str(x) for x in body.get("external_userid", [])]

    async def mark_tag(
        self,
        userid: str,
        external_userid: str,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> dict[str, Any]:
        payload = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": add or [],
            "remove_tag": remove or [],
        }
        return await self.call(
            "POST", "/cgi-bin/externalcontact/mark_tag", json=payload, secret=CONTACT
        )

    async def get_corp_tag_list(self) -> list[dict[str, Any]]:
        body = await self.call(
            "POST", "/cgi-bin/externalcontact/get_corp_tag_list", json={}, secret=CONTACT
        )
        return list(body.get("tag_group", []))

    async def add_contact_way(self, **kw: Any) -> dict[str, Any]:
        """{"config_id", "qr_code"}; `state` (≤30 chars) comes back in the add event."""
        return await self.call(
            "POST", "/cgi-bin/externalcontact/add_contact_way", json=kw, secret=CONTACT
        )

    async def del_contact_way(self, config_id: str) -> dict[str, Any]:
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/del_contact_way",
            json={"config_id": config_id},
            secret=CONTACT,
        )

    async def add_join_way(self, **kw: Any) -> dict[str, Any]:
        """{"config_id"}: ≤ 5 chats, `state` ≤ 30 characters; the QR comes from get_join_way."""
        return await self.call(
            "POST", "/cgi-bin/externalcontact/groupchat/add_join_way", json=kw, secret=CONTACT
        )

    async def get_join_way(self, config_id: str) -> dict[str, Any]:
        body = await self.call(
            "POST",
            "/cgi-bin/externalcontact/groupchat/get_join_way",
            json={"config_id": config_id},
            secret=CONTACT,
        )
        return dict(body.get("join_way", {}))

    async def del_join_way(self, config_id: str) -> dict[str, Any]:
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/groupchat/del_join_way",
            json={"config_id": config_id},
            secret=CONTACT,
        )

    async def send_welcome_msg(
        self, code: str, text: str | None = None, attachments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Usable once within 20 s of the add event (41051 afterwards)."""
        payload: dict[str, Any] = {"welcome_code": code}
        if text:
            payload["text"] = {"content": text}
        if attachments:
            payload["attachments"] = attachments[:9]
        return await self.call(
            "POST", "/cgi-bin/externalcontact/send_welcome_msg", json=payload, secret=CONTACT
        )

    async def unionid_to_external_userid(self, unionid: str, openid: str) -> dict[str, Any]:
        """{"external_userid"} for a customer, or {"pending_id"} for someone not yet one."""
        payload = {"unionid": unionid, "openid": openid}
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/unionid_to_external_userid",
            json=payload,
            secret=CONTACT,
        )

    async def external_userid_to_pending_id(self, external_userids: list[str]) -> dict[str, Any]:
        """{"result": [{"external_userid", "pending_id"}]}: which earlier pending ids (from
        unionid_to_external_userid) these customers had; at most 100 per call."""
        return await self.call(
            "POST",
            "/cgi-bin/idconvert/batch/external_userid_to_pending_id",
            json={"external_userid": external_userids[:100]},
            secret="app",  # idconvert is outside externalcontact/: the app's secret
        )

    # --- customer groups -----------------------------------------------------------------

    async def groupchat_list(self, cursor: str = "", limit: int = 100) -> dict[str, Any]:
        """One page: {"group_chat_list": [{"chat_id", "status"}], "next_cursor"}."""
        payload = {"status_filter": 0, "cursor": cursor, "limit": min(limit, 1000)}
        return await self.call(
            "POST", "/cgi-bin/externalcontact/groupchat/list", json=payload, secret=CONTACT
        )

    async def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        body = await self.call(
            "POST",
            "/cgi-bin/externalcontact/groupchat/get",
            json={"chat_id": chat_id, "need_name": 1},
            secret=CONTACT,
        )
        return dict(body.get("group_chat", {}))

    # --- identity ---------------------------------------------------------------------------

    async def auth_user_info(self, code: str) -> dict[str, Any]:
        """OAuth code → {"userid", "user_ticket"} for a member, or {"openid",
        "external_userid"?} for anyone else. Codes are single-use (40029)."""
        body = await self.call("GET", "/cgi-bin/auth/getuserinfo", params={"code": code})
        keys = ("userid", "user_ticket", "openid", "external_userid")
        return {k: body[k] for k in keys if body.get(k)}
