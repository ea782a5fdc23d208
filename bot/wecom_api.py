"""One method per WeCom endpoint scrmbot uses. Customer-contact endpoints (externalcontact/*)
use the 客户联系 secret, except 获客链接 which only the app may call; everything else the
app's (REFERENCE.md §5, §7)."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from bot.wecom_errors import WeComError

CONTACT = "contact"
ACQUISITION = "/cgi-bin/externalcontact/customer_acquisition"
NOT_A_CUSTOMER = 84061
EXTERNAL_CONTACT_GET = "/cgi-bin/externalcontact/get"


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

    async def reserve(self, path: str, calls: int) -> int:
        """Take the rate tokens of `calls` coming calls to `path` at once, where the client
        paces its calls (see `WeComClient.reserve`); returns the tokens taken."""
        return 0

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

    async def reserve_external_contacts(self, customers: int) -> int:
        """The rate tokens of `customers` reads of `get_external_contact`, in one go."""
        return await self.reserve(EXTERNAL_CONTACT_GET, customers)

    async def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        """external_contact plus every follow_user page (a customer can follow hundreds of
        members; WeCom pages them with next_cursor)."""
        params = {"external_userid": external_userid}
        body = await self.call("GET", EXTERNAL_CONTACT_GET, params=params, secret=CONTACT)
        follow = list(body.get("follow_user", []))
        while cursor := body.get("next_cursor"):
            page = {**params, "cursor": cursor}
            body = await self.call("GET", EXTERNAL_CONTACT_GET, params=page, secret=CONTACT)
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

    async def update_contact_way(self, config_id: str, **kw: Any) -> dict[str, Any]:
        """Change a way in place (its QR code stays): `user`, `remark`, `state`, ..."""
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/update_contact_way",
            json={"config_id": config_id, **kw},
            secret=CONTACT,
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

    # --- 获客链接 (app secret only: a self-built app in 可调用应用; W5) ------------------------

    async def create_acquisition_link(
        self, link_name: str, user_list: list[str], *, skip_verify: bool = True
    ) -> dict[str, Any]:
        """{"link_id", "link_name", "url", "create_time"}: ≤ 100 members; `url` takes
        `?customer_channel=` (≤ 64 bytes), which comes back as the add event's `State`."""
        body = await self.call(
            "POST",
            f"{ACQUISITION}/create_link",
            json={
                "link_name": link_name,
                "range": {"user_list": user_list},
                "skip_verify": skip_verify,
            },
        )
        return dict(body["link"])

    async def update_acquisition_link(self, link_id: str, user_list: list[str]) -> dict[str, Any]:
        """Put other members behind a link in place (its URL keeps working)."""
        return await self.call(
            "POST",
            f"{ACQUISITION}/update_link",
            json={"link_id": link_id, "range": {"user_list": user_list}},
        )

    async def delete_acquisition_link(self, link_id: str) -> dict[str, Any]:
        return await self.call("POST", f"{ACQUISITION}/delete_link", json={"link_id": link_id})

    async def acquisition_quota(self) -> dict[str, Any]:
        """{"total", "balance", ...}: the corp's paid 获客 quota (one unit per new customer)."""
        return await self.call("GET", "/cgi-bin/externalcontact/customer_acquisition_quota")

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

    # --- customer moments (peers.md W8-W12) ---------------------------------------------

    async def add_moment_task(
        self,
        text: str,
        attachments: list[dict[str, Any]],
        *,
        users: list[str] | None = None,
        departments: list[int] | None = None,
        tag_ids: list[str] | None = None,
    ) -> str:
        """One enterprise moment task for every sender; the jobid (valid 24 h) to read the
        result with `get_moment_task_result`. Corps may create 10 tasks a minute."""
        visible: dict[str, Any] = {
            "sender_list": {"user_list": users or [], "department_list": departments or []}
        }
        if tag_ids:
            visible["external_contact_list"] = {"tag_list": tag_ids}
        payload: dict[str, Any] = {"visible_range": visible}
        if text:
            payload["text"] = {"content": text}
        if attachments:
            payload["attachments"] = attachments
        body = await self.call(
            "POST", "/cgi-bin/externalcontact/add_moment_task", json=payload, secret=CONTACT
        )
        return str(body["jobid"])

    async def get_moment_task_result(self, jobid: str) -> dict[str, Any]:
        """{"status": 1|2|3, "result": {"moment_id", "invalid_sender_list", ...}}: the
        creation result only, never who posted."""
        return await self.call(
            "GET",
            "/cgi-bin/externalcontact/get_moment_task_result",
            params={"jobid": jobid},
            secret=CONTACT,
        )

    async def cancel_moment_task(self, moment_id: str) -> dict[str, Any]:
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/cancel_moment_task",
            json={"moment_id": moment_id},
            secret=CONTACT,
        )

    async def _pages(self, path: str, payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            body = await self.call("POST", path, json={**payload, "cursor": cursor}, secret=CONTACT)
            items.extend(body.get(key, []))
            cursor = str(body.get("next_cursor") or "")
            if not cursor:
                return items

    async def get_moment_task(self, moment_id: str) -> list[dict[str, Any]]:
        """[{"userid", "publish_status" 0|1}] for an enterprise moment, every page."""
        return await self._pages(
            "/cgi-bin/externalcontact/get_moment_task",
            {"moment_id": moment_id, "limit": 1000},
            "task_list",
        )

    async def get_moment_list(
        self, start_time: int, end_time: int, *, creator: str = "", filter_type: int = 2
    ) -> list[dict[str, Any]]:
        """Moments created in [start, end] (at most a month apart), every page; deleted
        moments are never listed (W9)."""
        payload: dict[str, Any] = {
            "start_time": start_time,
            "end_time": end_time,
            "filter_type": filter_type,
            "limit": 20,
        }
        if creator:
            payload["creator"] = creator
        return await self._pages("/cgi-bin/externalcontact/get_moment_list", payload, "moment_list")

    async def get_moment_send_result(self, moment_id: str, userid: str) -> list[str]:
        """The customers who can see `userid`'s post of the moment."""
        rows = await self._pages(
            "/cgi-bin/externalcontact/get_moment_send_result",
            {"moment_id": moment_id, "userid": userid, "limit": 5000},
            "customer_list",
        )
        return [str(r["external_userid"]) for r in rows]

    async def get_moment_comments(self, moment_id: str, userid: str) -> dict[str, Any]:
        """{"comment_list": [...], "like_list": [...]}, each {"external_userid"|"userid",
        "create_time"}: who and when, never the comment's text."""
        return await self.call(
            "POST",
            "/cgi-bin/externalcontact/get_moment_comments",
            json={"moment_id": moment_id, "userid": userid},
            secret=CONTACT,
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
