"""A department admin cannot learn other departments' group names through an activity."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.core import ConsoleRole
from storage.facts import CustomerGroup
from storage.leaderboard import Metric, Participant
from tests.auth.support import csrf, sign_in
from tests.leaderboard.conftest import make_activity


async def test_group_names_are_scoped(client: TestClient, deps: Deps, corp: None) -> None:
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[2])
    await CustomerGroup.create(chat_id="wr_sales", name="销售群", owner="alice")
    await CustomerGroup.create(chat_id="wr_support", name="客服内部群", owner="carol")
    activity = await make_activity(metric=Metric.GROUP_JOINS, chat_ids=["wr_sales", "wr_support"])
    await Participant.create(activity_id=activity.id, userid="alice")
    await sign_in(client, deps, "bob")
    resp = await client.get(f"/api/leaderboard/activities/{activity.id}/groups")
    assert resp.status == 200
    names = [g["name"] for g in (await resp.json())["items"]]
    assert names == ["销售群"]


async def test_dept_admin_cannot_pick_other_departments_groups(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[2])
    await CustomerGroup.create(chat_id="wr_support", name="客服内部群", owner="carol")
    await sign_in(client, deps, "bob")
    body = {
        "name": "拉群",
        "metric": "group_joins",
        "chat_ids": ["wr_support"],
        "userids": ["alice"],
        "start_at": "2030-01-01T00:00:00+08:00",
        "end_at": "2030-01-08T00:00:00+08:00",
    }
    resp = await client.post("/api/leaderboard/activities", json=body, headers=csrf(client))
    assert resp.status == 403
    assert (await resp.json())["field"] == "chat_ids"
