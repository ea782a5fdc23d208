"""The data a plan gathers, as the console and the sidebar read it: per run and staff member
(how each post is known), per moment reactions and clicks per 100 viewers, the Excel rows,
the content ranking, and staff seeing only their own tasks."""

from __future__ import annotations

import io

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot.deps import Deps
from bot.sandbox.corp import Corp
from handlers.sop import links
from storage.sop import SopRun, SopTask, TaskState
from tests.auth.support import csrf, sign_in
from tests.sop.conftest import after
from tests.sop.test_runs import image, make_plan
from tests.support import Clock, run_due


async def test_data_excel_ranking_and_own_tasks(
    client: TestClient, deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    name = image(deps)
    link = {"title": "新品手册", "url": "https://example.com/book", "cover": name}
    plan = await make_plan(deps, items=[{"text": "看看", "kind": "link", "link": link}])
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    alice = await SopTask.get(userid="alice")
    url = deps.url(f"/m/{alice.token}")
    moment = corp.post_personal_moment("alice", "看看", [{"msgtype": "link", "link": {"url": url}}])
    corp.react_to_moment(moment.moment_id, "alice", "wm_a1", "like")
    sop_run = await SopRun.get(plan_id=plan.id)
    await links.record_click(deps, sop_run, alice, "visitor1", "wm_a1")
    after(clock, minutes=2)
    await run_due(deps)

    await sign_in(client, deps, "admin")
    runs = await (await client.get(f"/api/sop/plans/{plan.id}/runs")).json()
    row = runs["items"][0]
    assert (row["posted"], row["pending"], row["clicks"], row["likes"], row["visible"]) == (
        1,
        1,
        1,
        1,
        2,
    )
    assert row["rate"] == 50.0 and row["clicks_per_100"] == 50.0
    detail = await (await client.get(f"/api/sop/runs/{sop_run.id}")).json()
    mine = next(i for i in detail["items"] if i["userid"] == "alice")
    assert mine["posted_via_zh"] == "识别到链接" and mine["liked_by"] == ["wm_a1"]
    staff = await (await client.get(f"/api/sop/plans/{plan.id}/staff")).json()
    assert [(r["userid"], r["rate"]) for r in staff["items"]] == [("alice", 100.0), ("bob", 0.0)]
    trend = await (await client.get(f"/api/sop/plans/{plan.id}/staff-trend")).json()
    assert trend["weeks"] == ["2024-06-03"]
    assert [(r["name"], r["rates"]) for r in trend["series"]] == [
        ("张丽", [100.0]),
        ("王博", [0.0]),
    ]
    ranking = await (await client.get("/api/sop/ranking")).json()
    assert ranking["items"][0]["score"] == 100.0 and ranking["items"][0]["suggest"]

    resp = await client.get(f"/api/sop/plans/{plan.id}/export.xlsx")
    assert resp.status == 200
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:7] == ["计划", "发送时间", "延迟", "方式", "员工", "状态", "发布来源"]
    assert [(r[4], r[5], r[6], r[9], r[10]) for r in rows[1:]] == [
        ("张丽", "已发布", "识别到链接", 1, 1),
        ("王博", "待发布", None, 0, 0),
    ]

    await sign_in(client, deps, "bob")  # staff: only their own tasks
    mine_list = await (await client.get("/api/sop/my")).json()
    assert [t["id"] for t in mine_list["tasks"]] == [(await SopTask.get(userid="bob")).id]
    assert mine_list["tasks"][0]["content"]["link"]["url"].endswith(
        f"/m/{(await SopTask.get(userid='bob')).token}"
    )
    assert (await client.get(f"/api/sop/tasks/{alice.id}")).status == 404
    resp = await client.post(f"/api/sop/tasks/{alice.id}/skip", headers=csrf(client))
    assert resp.status == 404
    assert (await SopTask.get(id=alice.id)).state is TaskState.POSTED
    assert (await client.get(f"/api/sop/plans/{plan.id}/runs")).status == 403


async def test_home_tile_counts_todays_tasks(
    client: TestClient, deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    from bot.auth_types import Principal, Role
    from handlers.sop.home import sop_tiles

    admin = Principal("admin", "管理员", Role.SUPER_ADMIN)
    assert await sop_tiles(deps, admin) == [], "no tile before the first plan"
    await make_plan(deps)
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    await SopTask.filter(userid="alice").update(state=TaskState.POSTED)

    tiles = await sop_tiles(deps, admin)
    assert [(t.title, t.value) for t in tiles] == [("今日朋友圈已发布", "1 / 2")]
