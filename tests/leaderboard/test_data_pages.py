"""The console data pages: every column as seed 000 defines it, checked against the facts,
the same numbers in the table, the Excel, the ranking and the sidebar."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot.deps import Deps
from handlers.leaderboard import counting
from handlers.leaderboard.activities import set_members
from storage.core import ConsoleRole
from storage.facts import Customer, CustomerGroup, FollowRelation, GroupMember
from storage.facts import GroupMembershipEvent as G
from tests.auth.support import sign_in
from tests.leaderboard.conftest import T0, add, data_page, join, make_activity

URL = "/api/leaderboard/activities"


@pytest.fixture
async def admin(corp: None) -> None:
    await ConsoleRole.create(userid="bob", role="admin")


async def _table(client: TestClient, activity_id: int, kind: str) -> dict[str, Any]:
    resp = await data_page(client, f"{URL}/{activity_id}/data/{kind}")
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def _excel(client: TestClient, activity_id: int, kind: str) -> list[list[Any]]:
    query = "?format=xlsx"
    if kind != "customers":  # the export of the table the page shows
        query += f"&version={(await _table(client, activity_id, kind))['version']}"
    resp = await client.get(f"{URL}/{activity_id}/data/{kind}{query}")
    assert resp.status == 200
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


async def _relation(userid: str, ext: str, active: bool, reason: str = "") -> None:
    await FollowRelation.create(
        userid=userid, external_userid=ext, added_at=T0, active=active, end_reason=reason
    )


async def test_lost_and_net_follow_the_seed(client: TestClient, deps: Deps, admin: None) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice"], [])
    await add("alice", "c0", -60)  # before the window: a customer, not invited
    await add("alice", "c5", -30)
    await add("alice", "c5", 5, kind="end", reason="deleted_by_customer")  # lost, not invited
    for i, ext in enumerate(("c1", "c2", "c3", "c4")):
        await add("alice", ext, 10 + i)
    await add("alice", "c1", 20, kind="end", reason="deleted_by_customer")  # lost
    await add("alice", "c2", 21, kind="end", reason="deleted_by_staff")  # not a loss
    await add("alice", "c3", 22, kind="end", reason="deleted_by_customer")
    await add("alice", "c3", 23)  # re-added: not lost
    for ext, active, reason in (
        ("c0", True, ""),
        ("c1", False, "deleted_by_customer"),
        ("c2", False, "deleted_by_staff"),
        ("c3", True, ""),
        ("c4", True, ""),
        ("c5", False, "deleted_by_customer"),
    ):
        await _relation("alice", ext, active, reason)
    await sign_in(client, deps, "admin")
    data = await _table(client, activity.id, "members")
    assert data["headers"] == ["排名", "成员", "总客户数", "邀请客户数", "流失客户数", "净增客户数"]
    # 总客户数: c0 c3 c4; 邀请: c1..c4; 流失: c1 c5; 净增: invited minus lost (c1).
    assert data["rows"] == [[1, "Alice", 3, 4, 2, 3]]
    assert set(data["definitions"]) == set(data["headers"][2:])
    assert "删除" in data["definitions"]["流失客户数"]
    assert (await _excel(client, activity.id, "members"))[1:] == data["rows"]
    days = await _table(client, activity.id, "dates")
    assert days["headers"] == ["日期", "邀请客户数", "流失客户数", "净增客户数"]
    assert days["rows"][0] == ["2024-06-01", 4, 2, 3]
    customers = await _table(client, activity.id, "customers")
    status = {r[0]: r[3] for r in customers["rows"]}
    assert status["c1"].startswith("已流失") and status["c2"] == "成员已删除客户"


async def test_invited_honours_dedup_everywhere(
    client: TestClient, deps: Deps, admin: None
) -> None:
    activity = await make_activity(dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    await add("carol", "c1", -10)  # someone else first
    await add("alice", "c1", 1)
    await add("alice", "c2", 2)
    await add("bob", "c3", 3)
    await add("bob", "c4", 4)
    ranking = {r.userid: r.count for r in await counting.recompute(activity)}
    assert ranking == {"alice": 1, "bob": 2}
    await sign_in(client, deps, "admin")
    rows = (await _table(client, activity.id, "members"))["rows"]
    assert {r[1]: r[3] for r in rows} == {"Alice": 1, "Bob": 2}
    side = await (await client.get(f"{URL}/{activity.id}/ranking")).json()
    assert {r["name"]: r["count"] for r in side["rows"]} == {"Alice": 1, "Bob": 2}
    excel = await _excel(client, activity.id, "members")
    assert {r[1]: r[3] for r in excel[1:]} == {"Alice": 1, "Bob": 2}


async def test_group_metric_tables_show_joins_and_names(
    client: TestClient, deps: Deps, admin: None
) -> None:
    await CustomerGroup.create(chat_id="g1", name="VIP群", owner="alice")
    activity = await make_activity(metric="group_joins", chat_ids=["g1"])
    await set_members(activity.id, ["alice", "bob"], [])
    await Customer.create(external_userid="wm_m1", name="张三")
    await join("g1", "wm_m1", 1, invitor="alice")
    await G.create(
        key="q1", chat_id="g1", member_id="wm_m1", kind="quit", at=T0 + timedelta(minutes=2)
    )
    await join("g1", "wm_m1", 3, invitor="alice")  # re-joins: counts again, not a leaver
    await join("g1", "wm_m2", 4, scene=3)  # by the owner's QR: alice
    await join("g1", "wm_m3", 5, invitor="bob")
    await G.create(
        key="q3", chat_id="g1", member_id="wm_m3", kind="quit", at=T0 + timedelta(minutes=6)
    )
    for member, name in (("wm_m1", ""), ("wm_m2", "李四")):
        await GroupMember.create(chat_id="g1", member_id=member, join_time=T0, name=name)
    await sign_in(client, deps, "admin")
    data = await _table(client, activity.id, "members")
    assert data["headers"] == [
        "排名",
        "成员",
        "入群次数",
        "入群客户数",
        "退群客户数",
        "净增入群客户数",
    ]
    assert data["rows"] == [[1, "Alice", 3, 2, 0, 2], [2, "Bob", 1, 1, 1, 0]]
    assert (await _excel(client, activity.id, "members"))[1:] == data["rows"]
    customers = await _table(client, activity.id, "customers")
    assert [(r[0], r[1], r[3], r[4]) for r in customers["rows"]] == [
        ("张三", "Alice", "VIP群", "仍在群"),
        ("张三", "Alice", "VIP群", "仍在群"),
        ("李四", "Alice", "VIP群", "仍在群"),
        ("wm_m3", "Bob", "VIP群", "已退群"),
    ]
    for keyword, total in (("李", 1), ("张", 2), ("Bob", 1), ("wm_m3", 1)):
        found = await (await client.get(f"{URL}/{activity.id}/data/customers?q={keyword}")).json()
        assert found["total"] == total and len(found["rows"]) == total, keyword
    days = await _table(client, activity.id, "dates")
    assert days["rows"][0] == ["2024-06-01", 4, 3, 1, 2]


async def test_customer_page_is_paged_and_exported_whole(
    client: TestClient, deps: Deps, admin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.leaderboard import report_customers

    monkeypatch.setattr(report_customers, "EXPORT_CHUNK", 3)  # several keyset chunks
    activity = await make_activity()
    await set_members(activity.id, ["alice", "bob"], [])
    for i in range(7):
        await add("alice" if i % 2 else "bob", f"c{i}", 1)  # same time: ordered by id
    await sign_in(client, deps, "admin")
    first = await (await client.get(f"{URL}/{activity.id}/data/customers?page=2&size=3")).json()
    assert first["total"] == 7 and [r[0] for r in first["rows"]] == ["c3", "c4", "c5"]
    named = await (await client.get(f"{URL}/{activity.id}/data/customers?q=Ali")).json()
    assert named["total"] == 3
    excel = await _excel(client, activity.id, "customers")
    assert [r[0] for r in excel[1:]] == [f"c{i}" for i in range(7)]
    await Customer.create(external_userid="c2", name="王五")
    for keyword, rows in (("王", ["王五"]), ("c4", ["c4"]), ("%", []), ("zz", [])):
        found = await (await client.get(f"{URL}/{activity.id}/data/customers?q={keyword}")).json()
        assert [r[0] for r in found["rows"]] == rows and found["total"] == len(rows), keyword


async def test_data_pages_work_past_the_drivers_bind_parameter_limit(
    client: TestClient, deps: Deps, admin: None
) -> None:
    """33,000 credited customers: more than asyncpg's 32,767 bind parameters (and SQLite's
    limit) if any page passed the customers as a list, so every page joins in SQL."""
    from storage.facts import FollowEvent

    activity = await make_activity(dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    customers = 33_000
    await FollowEvent.bulk_create(
        [
            FollowEvent(
                key=f"bulk:{i}",
                userid="alice" if i % 3 else "bob",
                external_userid=f"c{i}",
                kind="add",
                at=T0 + timedelta(seconds=i),
            )
            for i in range(customers)
        ],
        batch_size=2000,
    )
    await sign_in(client, deps, "admin")
    page = await (await client.get(f"{URL}/{activity.id}/data/customers?page=1650&size=20")).json()
    assert page["total"] == customers and len(page["rows"]) == 20
    members = await _table(client, activity.id, "members")
    assert sum(row[3] for row in members["rows"]) == customers  # 邀请客户数
    days = await _table(client, activity.id, "dates")
    assert sum(row[1] for row in days["rows"]) == customers
    sheet = await _excel(client, activity.id, "customers")
    assert len(sheet) == customers + 1
