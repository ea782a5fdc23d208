"""A staff member reads a customer's profile and timeline only while following them."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.core import ConsoleRole
from storage.directory import Department, Staff
from storage.facts import Customer, FollowRelation
from tests.auth.support import sign_in

AT = datetime(2026, 1, 5, tzinfo=UTC)


async def _setup() -> FollowRelation:
    await Department.create(id=2, name="销售部", parent_id=1)
    for userid in ("alice", "boss"):
        await Staff.create(userid=userid, name=userid, departments=[2])
    await ConsoleRole.create(userid="boss", role="dept_admin", departments=[2])
    await Customer.create(external_userid="wm_gone", name="老客户")
    return await FollowRelation.create(userid="alice", external_userid="wm_gone", added_at=AT)


async def test_read_access_ends_with_the_follow(client: TestClient, deps: Deps) -> None:
    relation = await _setup()
    await sign_in(client, deps, "alice")
    paths = ["/api/facts/customers/wm_gone", "/api/facts/customers/wm_gone/timeline"]
    for path in paths:
        assert (await client.get(path)).status == 200, path
    relation.active, relation.ended_at = False, AT
    await relation.save()
    for path in paths:
        assert (await client.get(path)).status == 403, path
    await sign_in(client, deps, "boss")  # the department's admin still sees the history
    for path in paths:
        assert (await client.get(path)).status == 200, path
