from __future__ import annotations

import io
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot import schedule as bot_schedule
from bot.deps import Deps
from handlers.leaderboard import schedule
from handlers.leaderboard.activities import set_members
from storage.core import ConsoleRole
from storage.facts import Customer
from storage.leaderboard import Activity
from tests.auth.support import csrf, sign_in
from tests.leaderboard.conftest import T0, Clock, add, data_page, make_activity

URL = "/api/leaderboard/activities"


@pytest.fixture
async def roles(corp: None) -> None:
    await ConsoleRole.create(userid="carol", role="dept_admin", departments=[3])
    await ConsoleRole.create(userid="bob", role="admin")


async def _post(client: TestClient, deps: Deps, who: str, url: str, body: dict) -> tuple[int, dict]:
    await sign_in(client, deps, who)
    resp = await client.post(url, json=body, headers=csrf(client))
    return resp.status, await resp.json()


async def test_edit_rules_per_state(
    client: TestClient, deps: Deps, roles: None, clock: Clock
) -> None:
    clock.now = T0 - timedelta(days=1)
    status, created = await _post(
        client,
        deps,
        "admin",
        URL,
        {
            "name": "六月",
            "start_at": T0.isoformat(),
            "end_at": (T0 + timedelta(days=2)).isoformat(),
            "userids": ["alice", "bob"],
            "top_n": 3,
        },
    )
    assert status == 201, created
    one = f"{URL}/{created['id']}"
    status, body = await _post(client, deps, "admin", one, {"metric": "group_joins"})
    assert status == 400 and body["field"] == "chat_ids"  # not started: allowed, but validated
    status, _ = await _post(client, deps, "admin", one, {"name": "六月冲刺", "dedup": True})
    assert status == 200
    clock.now = T0 + timedelta(hours=1)  # running
    status, body = await _post(client, deps, "admin", one, {"dedup": False})
    assert status == 409 and body["field"] == "dedup" and "去重" in body["error"]
    status, body = await _post(client, deps, "admin", one, {"userids": ["alice"]})
    assert status == 409 and "参与成员" in body["error"]
    status, body = await _post(
        client,
        deps,
        "admin",
        one,
        {"userids": ["bob", "alice"], "top_n": 5, "description": "新规则"},
    )
    assert status == 200 and body["top_n"] == 5  # unchanged list is not a change
    clock.now = T0 + timedelta(days=3)  # ended
    status, body = await _post(client, deps, "admin", one, {"top_n": 6})
    assert status == 409 and "已结束" in body["error"]
    status, copy = await _post(client, deps, "admin", one + "/copy", {})
    assert status == 201 and copy["userids"] == ["alice", "bob"] and copy["dedup"] is True
    status, _ = await _post(client, deps, "admin", one + "/delete", {})
    assert status == 200 and (await Activity.get(id=created["id"])).deleted


async def test_permission_matrix(client: TestClient, deps: Deps, roles: None) -> None:
    sales = await make_activity(name="销售")
    await set_members(sales.id, ["alice", "bob"], [])
    support = await make_activity(name="客服")
    await set_members(support.id, ["carol"], [])
    cases = [  # who, activity, GET ranking, GET member data
        ("alice", sales, 200, 403),
        ("alice", support, 403, 403),
        ("carol", sales, 403, 403),
        ("carol", support, 200, 200),
        ("bob", sales, 200, 200),
        ("bob", support, 200, 200),
    ]
    for who, activity, ranking, data in cases:
        await sign_in(client, deps, who)
        got = (await client.get(f"{URL}/{activity.id}/ranking")).status
        got_data = (await client.get(f"{URL}/{activity.id}/data/members")).status
        assert (who, activity.name, got, got_data) == (who, activity.name, ranking, data)
    await sign_in(client, deps, "alice")
    assert (await client.get(URL + "?tab=all")).status == 403
    await sign_in(client, deps, "carol")
    names = [a["name"] for a in (await (await client.get(URL + "?tab=all")).json())["items"]]
    assert names == ["客服"]
    status, body = await _post(
        client,
        deps,
        "carol",
        URL,
        {
            "name": "x",
            "start_at": T0.isoformat(),
            "end_at": (T0 + timedelta(days=1)).isoformat(),
            "userids": ["alice"],
        },
    )
    assert status == 403 and body["field"] == "userids"


async def test_member_table_and_excel_have_the_same_columns(
    client: TestClient, deps: Deps, roles: None
) -> None:
    activity = await make_activity(dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    await add("alice", "c1", 1)
    await add("bob", "c1", 2)
    await add("alice", "c2", 3)
    await add("alice", "c2", 4, kind="end", reason="deleted_by_customer")
    await sign_in(client, deps, "admin")
    data = await (await data_page(client, f"{URL}/{activity.id}/data/members")).json()
    assert data["headers"] == ["排名", "成员", "总客户数", "邀请客户数", "流失客户数", "净增客户数"]
    assert data["rows"][0][1:] == ["Alice", 0, 2, 1, 1]
    resp = await client.get(
        f"{URL}/{activity.id}/data/members?format=xlsx&version={data['version']}"
    )
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == data["headers"] and rows[1:] == data["rows"]
    custom = await (await client.get(f"{URL}/{activity.id}/data/customers")).json()
    reasons = {(r[1], r[0]): r[5] for r in custom["rows"]}
    assert reasons[("Bob", "c1")] == "重复：首次由 Alice 添加"
    assert reasons[("Alice", "c2")] == "计入"


async def test_customer_table_explains_each_uncounted_add(
    client: TestClient, deps: Deps, roles: None
) -> None:
    activity = await make_activity(dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    await add("alice", "c3", 5)
    await add("alice", "c3", 6, kind="end")
    await add("alice", "c3", 7)  # the same member again
    await Customer.create(
        external_userid="c4", first_added_by="carol", first_added_at=T0 - timedelta(days=1)
    )
    await add("bob", "c4", 8)  # first added before the window, known only from a sync
    await sign_in(client, deps, "admin")
    custom = await (await client.get(f"{URL}/{activity.id}/data/customers")).json()
    got = [(r[1], r[0], r[4], r[5]) for r in custom["rows"]]
    assert got == [
        ("Alice", "c3", True, "计入"),
        ("Alice", "c3", False, "重复：该成员已添加过此客户"),
        ("Bob", "c4", False, "重复：首次由 Carol 添加"),
    ]


@pytest.mark.parametrize("raw", ["99999999999999999999", "2147483648", "²"])
async def test_an_impossible_activity_id_is_not_found(
    client: TestClient, deps: Deps, raw: str
) -> None:
    await sign_in(client, deps, "admin")
    for path in (f"{URL}/{raw}", f"{URL}/{raw}/data/members", f"{URL}/{raw}/ranking"):
        resp = await client.get(path)
        assert resp.status == 404, (path, await resp.text())
        assert (await resp.json())["error"] == "活动不存在"


async def test_saving_an_activity_plans_its_runs(
    client: TestClient, deps: Deps, roles: None, clock: Clock
) -> None:
    """Created: start, one broadcast a day, end. Edited: the broadcasts move. Reminders off:
    cancelled. Deleted: nothing left to run."""
    clock.now = T0 - timedelta(days=1)
    body = {
        "name": "六月",
        "start_at": T0.isoformat(),  # 09:00 local
        "end_at": (T0 + timedelta(days=3)).isoformat(),
        "userids": ["alice"],
        "daily_time": "18:00",
    }
    status, created = await _post(client, deps, "admin", URL, body)
    assert status == 201, created
    one, prefix = f"{URL}/{created['id']}", f"{created['id']}:"

    async def planned(feature: str) -> list[str]:
        runs = await bot_schedule.runs_of(feature, prefix)
        local = deps.settings.tz
        return [
            r.due_at.astimezone(local).strftime("%m-%d %H:%M") for r in runs if r.state == "pending"
        ]

    assert await planned(schedule.START) == ["06-01 09:00"]
    assert await planned(schedule.DAILY) == ["06-01 18:00", "06-02 18:00", "06-03 18:00"]
    assert await planned(schedule.END) == ["06-04 09:00"]
    status, _ = await _post(client, deps, "admin", one, {"daily_time": "08:30"})
    assert status == 200
    assert await planned(schedule.DAILY) == ["06-02 08:30", "06-03 08:30", "06-04 08:30"]
    status, _ = await _post(
        client, deps, "admin", one, {"end_at": (T0 + timedelta(days=1)).isoformat()}
    )
    assert await planned(schedule.DAILY) == ["06-02 08:30"]
    assert await planned(schedule.END) == ["06-02 09:00"]
    status, _ = await _post(client, deps, "admin", one, {"remind_daily": False})
    assert await planned(schedule.DAILY) == []
    status, _ = await _post(client, deps, "admin", f"{one}/delete", {})
    assert status == 200
    assert await planned(schedule.START) == [] and await planned(schedule.END) == []
