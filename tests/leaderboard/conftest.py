"""Fixtures for the leaderboard tests: deps with a fake WeCom recording cards, a small corp,
and helpers to insert facts directly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from handlers.leaderboard import router
from storage.directory import Department, Staff
from storage.facts import FollowEvent, GroupMembershipEvent
from storage.leaderboard import Activity
from tests.support import Clock, fake_deps

T0 = datetime(2024, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
_seq = itertools.count()


class FakeWeCom:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], dict[str, Any]]] = []

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((list(touser), card))
        return {"errcode": 0}

    def to(self, userid: str) -> list[dict[str, Any]]:
        return [card for users, card in self.sent if userid in users]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None, clock: Clock) -> Deps:
    return fake_deps(settings, redis, [router], FakeWeCom(), clock=clock)


@pytest.fixture
async def corp(db: None) -> None:
    """Departments 1 > 2 (sales: alice, bob), 1 > 3 (support: carol); dave in 2 and 3."""
    for dept_id, parent in ((1, 0), (2, 1), (3, 1)):
        await Department.create(id=dept_id, name=f"部门{dept_id}", parent_id=parent)
    for userid, depts in (("alice", [2]), ("bob", [2]), ("carol", [3]), ("dave", [2, 3])):
        await Staff.create(userid=userid, name=userid.title(), departments=depts)


async def make_activity(**kw: Any) -> Activity:
    values: dict[str, Any] = {
        "name": "测试活动",
        "start_at": T0,
        "end_at": T0 + timedelta(days=7),
        "top_n": 2,
        "started_done": True,
    }
    values.update(kw)
    return await Activity.create(**values)


async def add(
    userid: str, customer: str, minutes: float, kind: str = "add", reason: str = ""
) -> FollowEvent:
    at = T0 + timedelta(minutes=minutes)
    key = f"{kind}:{userid}:{customer}:{at.isoformat()}"
    values = {"userid": userid, "external_userid": customer, "kind": kind, "at": at}
    fact, _ = await FollowEvent.get_or_create(key=key, defaults=values | {"end_reason": reason})
    return fact


async def join(
    chat: str, member: str, minutes: float, invitor: str = "", scene: int = 0, member_type: int = 2
) -> GroupMembershipEvent:
    at = T0 + timedelta(minutes=minutes)
    return await GroupMembershipEvent.create(
        key=f"join:{chat}:{member}:{at.isoformat()}:{next(_seq)}",
        chat_id=chat,
        member_id=member,
        member_type=member_type,
        kind="join",
        scene=scene,
        invitor=invitor,
        at=at,
    )


async def run_report_jobs(deps: Deps) -> int:
    """Run the data-table jobs the pages queued, as the worker would; how many ran."""
    from handlers.leaderboard import results
    from tests.support import FakeQueue

    assert isinstance(deps.queue, FakeQueue)
    jobs = [args for name, args, *_ in deps.queue.jobs if name == results.JOB]
    deps.queue.jobs = [j for j in deps.queue.jobs if j[0] != results.JOB]
    for args in jobs:
        await results.leaderboard_report({"deps": deps}, *args)
    return len(jobs)


async def data_page(client: Any, path: str) -> Any:
    """A data page's response once the worker computed its table: the first answer says it is
    computing (and queues the job), the job runs, the page asks again for that version."""
    from bot.web_keys import DEPS_KEY

    deps = client.app[DEPS_KEY]
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    if not body.get("computing"):
        return resp
    assert await run_report_jobs(deps) == 1
    sep = "&" if "?" in path else "?"
    return await client.get(f"{path}{sep}version={body['version']}")
