"""Helpers for the leaderboard tests that run the whole stack (app + sandbox + worker)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.auth import SESSION_COOKIE
from bot.sandbox.corp import Corp
from handlers.leaderboard import counting
from handlers.leaderboard.activities import set_members, sync_participants
from storage.leaderboard import Activity
from tests.harness import Stack
from tests.support import session_value

PARTICIPANTS = ("lina", "wangwei", "zhaomin")


def sales_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    for userid, name in zip(PARTICIPANTS, ("李娜", "王伟", "赵敏"), strict=True):
        corp.add_staff(userid, name, [2])
    corp.add_staff("boss", "老板", [1])
    return corp


async def sync_directory(stack: Stack) -> None:
    for _, hook in stack.deps.dispatcher.hooks("sync"):
        await hook(stack.deps)


async def running_activity(stack: Stack, **kw: Any) -> Activity:
    now = stack.deps.now()
    values: dict[str, Any] = {
        "name": "六月拉新",
        "description": "添加新客户越多排名越高",
        "start_at": now - timedelta(hours=1),
        "end_at": now + timedelta(days=2),
        "top_n": 1,
        "started_done": True,
        "remind_daily": False,
    }
    activity = await Activity.create(**(values | kw))
    await set_members(activity.id, list(PARTICIPANTS), [])
    await sync_participants(stack.deps.redis, activity)
    await counting.rebuild(stack.deps.redis, activity)
    return activity


async def session_cookie(stack: Stack, userid: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={await session_value(stack.deps, userid)}"}


async def api_get(stack: Stack, userid: str, path: str) -> Any:
    async with stack.session.get(
        stack.app_url + path, headers=await session_cookie(stack, userid)
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()
