"""A fake WeCom client serving an in-memory corp, a recording job queue, and event builders."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from bot.deps import Deps
from bot.events import Event, event_from_dict
from bot.router import Router
from bot.settings import Settings
from bot.wecom_errors import WeComError
from handlers.facts import router
from handlers.facts.base import from_ts
from tests.support import Clock, fake_deps

T0 = 1_700_000_000


class FakeWeCom:
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.follows: dict[str, list[dict[str, Any]]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.tag_groups: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.departments: list[dict[str, Any]] = [{"id": 1, "name": "总部", "parentid": 0}]
        self.directory_error: int | None = None
        self.marked: list[tuple[str, str, list[str], list[str]]] = []
        self.calls: list[str] = []

    async def reserve_external_contacts(self, customers: int) -> int:
        return 0

    async def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        self.calls.append("get_external_contact")
        if external_userid not in self.contacts:
            raise WeComError(84061, "not external contact", "/cgi-bin/externalcontact/get")
        return {
            "external_contact": self.contacts[external_userid],
            "follow_user": list(self.follows.get(external_userid, [])),
        }

    async def batch_get_by_user(
        self, userids: list[str], cursor: str = "", limit: int = 100
    ) -> dict[str, Any]:
        items = [
            {"external_contact": self.contacts[ext], "follow_info": _info(f)}
            for ext, follows in sorted(self.follows.items())
            for f in follows
            if f["userid"] in userids
        ]
        start = int(cursor or 0)
        end = start + 1  # one per page: the paging is exercised
        return {
            "external_contact_list": items[start:end],
            "next_cursor": str(end) if end < len(items) else "",
        }

    async def groupchat_list(self, cursor: str = "", limit: int = 100) -> dict[str, Any]:
        chats = [{"chat_id": c, "status": 0} for c in sorted(self.groups)]
        return {"group_chat_list": chats, "next_cursor": ""}

    async def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        self.calls.append("groupchat_get")
        if chat_id not in self.groups:
            raise WeComError(49008, "chat not found", "/cgi-bin/externalcontact/groupchat/get")
        return dict(self.groups[chat_id])

    async def get_corp_tag_list(self) -> list[dict[str, Any]]:
        return self.tag_groups

    async def mark_tag(
        self,
        userid: str,
        external_userid: str,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> dict[str, Any]:
        self.marked.append((userid, external_userid, list(add or []), list(remove or [])))
        return {"errcode": 0}

    def _check_directory(self) -> None:
        if self.directory_error:
            raise WeComError(self.directory_error, "no privilege", "/cgi-bin/user/list")

    async def list_users(self, department_id: int = 1) -> list[dict[str, Any]]:
        self._check_directory()
        return self.users

    async def list_departments(self) -> list[dict[str, Any]]:
        self._check_directory()
        return self.departments

    async def get_user(self, userid: str) -> dict[str, Any]:
        return next(u for u in self.users if u["userid"] == userid)


def _info(follow: dict[str, Any]) -> dict[str, Any]:
    info = {k: v for k, v in follow.items() if k != "tags"}
    info["tag_id"] = [t["tag_id"] for t in follow.get("tags", [])]
    return info


def make_deps(
    settings: Settings,
    redis: Redis,
    wecom: FakeWeCom,
    now: int = T0 + 3600,
    extra: list[Router] | None = None,
) -> Deps:
    routers = [router, *(extra or [])]
    return fake_deps(settings, redis, routers, wecom, clock=Clock(from_ts(now)))


def contact_event(change: str, userid: str, ext: str, at: int, **extra: str) -> Event:
    data = {
        "ToUserName": "corp",
        "FromUserName": "sys",
        "CreateTime": str(at),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change,
        "UserID": userid,
        "ExternalUserID": ext,
        **extra,
    }
    return event_from_dict(data)


def chat_event(chat_id: str, detail: str, members: list[str], at: int, **extra: str) -> Event:
    data: dict[str, Any] = {
        "ToUserName": "corp",
        "FromUserName": "sys",
        "CreateTime": str(at),
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChangeType": "update",
        "ChatId": chat_id,
        "UpdateDetail": detail,
        "MemChangeCnt": str(len(members)),
        "MemChangeList": {"Item": members[0] if len(members) == 1 else members},
        **extra,
    }
    return event_from_dict(data)


async def deliver(deps: Deps, event: Event) -> None:
    """What the inbox does for one event, then run the jobs it queued (the refreshes)."""
    outcomes = await deps.dispatcher.dispatch_event(deps, event)
    errors = [o.error for o in outcomes if o.error]
    assert not errors, errors
    await run_jobs(deps)


async def run_jobs(deps: Deps) -> None:
    """The queued jobs (the core's, such as domain-event delivery, and the features'), and
    the ones they queue in turn."""
    from jobs.worker import CORE_FUNCTIONS

    jobs = {j.__name__: j for j in [*CORE_FUNCTIONS, *deps.dispatcher.jobs]}
    while taken := deps.queue.take():  # type: ignore[attr-defined]
        for name, args in taken:
            await jobs[name]({"deps": deps}, *args)
