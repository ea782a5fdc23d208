"""The console pickers' search API: by name, scoped to what the person may see."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.core import ConsoleRole
from storage.directory import Department, Staff
from storage.facts import CorpTag, CorpTagGroup, CustomerGroup
from tests.auth.support import sign_in


@pytest.fixture
async def corp(db: None) -> None:
    """总部 1 > 销售部 2 > 华东销售 3; 总部 1 > 客服部 4. Staff 王芳(2), 李雷(3), 韩梅(4),
    离职的 张伟(2). dept_admin dave manages 销售部."""
    for dept_id, name, parent in (
        (1, "总部", 0),
        (2, "销售部", 1),
        (3, "华东销售", 2),
        (4, "客服部", 1),
    ):
        await Department.create(id=dept_id, name=name, parent_id=parent)
    for userid, name, depts, status in (
        ("wangfang", "王芳", [2], 1),
        ("lilei", "李雷", [3], 1),
        ("hanmei", "韩梅", [4], 1),
        ("zhangwei", "张伟", [2], 5),
        ("dave", "戴夫", [2], 1),
    ):
        await Staff.create(userid=userid, name=name, departments=depts, status=status)
    await ConsoleRole.create(userid="dave", role="dept_admin", departments=[2], granted_by="admin")
    await CorpTagGroup.create(group_id="g1", name="客户意向", order=2)
    await CorpTagGroup.create(group_id="g2", name="来源", order=1)
    for tag_id, group, name in (
        ("t1", "g1", "高意向"),
        ("t2", "g1", "低意向"),
        ("t3", "g2", "展会"),
    ):
        await CorpTag.create(tag_id=tag_id, group_id=group, name=name)
    await CorpTag.create(tag_id="t9", group_id="g2", name="旧标签", deleted=True)
    for chat_id, name, owner in (("c1", "华东VIP群", "lilei"), ("c2", "客服答疑群", "hanmei")):
        await CustomerGroup.create(chat_id=chat_id, name=name, owner=owner)


async def _items(client: TestClient, path: str) -> list[dict[str, Any]]:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]  # type: ignore[no-any-return]


async def test_staff_by_name_and_scope(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    found = await _items(client, "/api/facts/pick/staff?q=李")
    assert [(s["id"], s["name"], s["sub"]) for s in found] == [("lilei", "李雷", "华东销售")]
    everyone = {s["id"] for s in await _items(client, "/api/facts/pick/staff")}
    assert everyone == {"wangfang", "lilei", "hanmei", "dave"}  # not the member who left
    chosen = await _items(client, "/api/facts/pick/staff?ids=zhangwei,hanmei")
    assert {(s["id"], s["left"]) for s in chosen} == {("zhangwei", True), ("hanmei", False)}
    await sign_in(client, deps, "dave")  # 销售部 and below
    mine = {s["id"] for s in await _items(client, "/api/facts/pick/staff")}
    assert mine == {"wangfang", "lilei", "dave"}
    assert await _items(client, "/api/facts/pick/staff?q=韩") == []
    assert await _items(client, "/api/facts/pick/staff?ids=hanmei") == []
    await sign_in(client, deps, "lilei")  # a staff member picks only themself
    assert [s["id"] for s in await _items(client, "/api/facts/pick/staff")] == ["lilei"]


async def test_departments_as_a_tree(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    tree = await _items(client, "/api/facts/pick/departments")
    assert [(d["name"], d["depth"]) for d in tree] == [
        ("总部", 0),
        ("销售部", 1),
        ("华东销售", 2),
        ("客服部", 1),
    ]
    found = await _items(client, "/api/facts/pick/departments?q=华东")
    assert [(d["name"], d["match"]) for d in found] == [
        ("总部", False),
        ("销售部", False),
        ("华东销售", True),
    ]
    assert [d["name"] for d in await _items(client, "/api/facts/pick/departments?ids=4,2")] == [
        "销售部",
        "客服部",
    ]
    await sign_in(client, deps, "dave")
    tree = await _items(client, "/api/facts/pick/departments")
    assert [(d["name"], d["depth"]) for d in tree] == [("销售部", 0), ("华东销售", 1)]
    assert await _items(client, "/api/facts/pick/departments?q=客服") == []


async def test_tags_by_group_and_groups_by_owner(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    tags = await _items(client, "/api/facts/pick/tags")
    assert [(t["group"], t["name"]) for t in tags] == [
        ("客户意向", "低意向"),
        ("客户意向", "高意向"),
        ("来源", "展会"),
    ]
    assert [t["id"] for t in await _items(client, "/api/facts/pick/tags?q=意向")] == ["t2", "t1"]
    assert [t["id"] for t in await _items(client, "/api/facts/pick/tags?q=来源")] == ["t3"]
    assert [t["name"] for t in await _items(client, "/api/facts/pick/tags?ids=t9")] == ["旧标签"]
    groups = await _items(client, "/api/facts/pick/groups?q=VIP")
    assert [(g["id"], g["sub"]) for g in groups] == [("c1", "群主：李雷")]
    await sign_in(client, deps, "dave")
    assert [g["id"] for g in await _items(client, "/api/facts/pick/groups")] == ["c1"]


async def test_pickers_need_a_sign_in(client: TestClient, deps: Deps, corp: None) -> None:
    for kind in ("staff", "departments", "tags", "groups"):
        assert (await client.get(f"/api/facts/pick/{kind}")).status == 401
