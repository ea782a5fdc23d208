"""The console and sidebar API: journeys with their limits (Chinese messages naming the
field), rules with versions and the dry run, reminders (the not-contacted one refused with
its reason), the 客户画像 block with a staff move and its history, batch set by filters, the
funnel equal to the transitions after random moves, and who may do what."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot.deps import Deps
from handlers.stages import engine, sweep
from handlers.stages.sweep import SILENT_DISABLED
from storage.core import ConsoleRole
from storage.stages import MoveBy, StageCurrent, StageTransition
from tests.auth.support import csrf, sign_in
from tests.stages.conftest import T0, join_group, make_journey, make_rule
from tests.support import Clock

pytestmark = pytest.mark.usefixtures("corp")

STAGES = [{"name": n} for n in ("新客户", "有意向", "已报价", "已成交")]


async def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    resp = await client.post(path, json=body, headers=csrf(client))
    data = await resp.json()
    assert resp.status == status, data
    return data


async def test_journey_limits_and_editing(client: TestClient, deps: Deps) -> None:
    await sign_in(client, deps, "admin")
    too_many = [{"name": f"阶段{i}"} for i in range(13)]
    err = await post(client, "/api/stages/journeys", {"name": "销售", "stages": too_many}, 400)
    assert err["error"] == "客户阶段最多 12 项" and err["field"] == "stages"
    made = await post(client, "/api/stages/journeys", {"name": "销售", "stages": STAGES}, 201)
    assert [s["name"] for s in made["stages"]] == ["新客户", "有意向", "已报价", "已成交"]
    stage = made["stages"][1]
    cond = {"type": "days_added", "days": 3}
    rules = [{"name": f"规则{i}", "conditions": [cond]} for i in range(7)]
    err = await post(client, f"/api/stages/stages/{stage['id']}/rules", {"rules": rules}, 400)
    assert err["error"] == "规则最多 6 项"
    four = [{"name": "r", "conditions": [cond] * 4}]
    err = await post(client, f"/api/stages/stages/{stage['id']}/rules", {"rules": four}, 400)
    assert "条件最多 3 项" in err["error"]
    reminders = [{"kind": "stay", "days": 3}] * 7
    err = await post(
        client, f"/api/stages/stages/{stage['id']}/reminders", {"reminders": reminders}, 400
    )
    assert err["error"] == "提醒规则最多 6 项"
    silent = [{"kind": "silent", "days": 3, "enabled": True}]
    err = await post(
        client, f"/api/stages/stages/{stage['id']}/reminders", {"reminders": silent}, 400
    )
    assert err["error"] == SILENT_DISABLED
    # a rule saved, then edited: a new version
    saved = await post(
        client,
        f"/api/stages/stages/{stage['id']}/rules",
        {"rules": [{"name": "三天", "conditions": [cond]}]},
    )
    rule = saved["stages"][1]["rules"][0]
    assert rule["version"] == 1 and rule["enabled"] is False
    edited = {
        "id": rule["id"],
        "name": "五天",
        "enabled": True,
        "conditions": [{"type": "days_added", "days": 5}],
    }
    saved = await post(client, f"/api/stages/stages/{stage['id']}/rules", {"rules": [edited]})
    assert saved["stages"][1]["rules"][0]["version"] == 2
    # a stage with customers in it cannot be removed
    await engine.move(
        deps,
        journey_id=made["id"],
        userid="alice",
        external_userid="wm_ann",
        to_stage_id=stage["id"],
        by=MoveBy.STAFF,
        key="k1",
    )
    keep = [s for s in saved["stages"] if s["id"] != stage["id"]]
    body = {"name": "销售", "stages": [{"id": s["id"], "name": s["name"]} for s in keep]}
    err = await post(client, f"/api/stages/journeys/{made['id']}", body, 400)
    assert "还有 1 位客户" in err["error"]


async def test_dry_run_counts_what_the_rule_would_move(client: TestClient, deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[3], {"type": "group", "chat_ids": ["wr_vip"]})
    await join_group("wm_ann")  # alice's and bob's relations: a further rule takes them
    await sign_in(client, deps, "admin")
    body = {"stage_id": stages[1].id, "conditions": [{"type": "days_added", "days": 5}]}
    got = await post(client, f"/api/stages/journeys/{journey.id}/dry-run", body)
    assert got["count"] == 2  # wm_ben (alice) and wm_cat (carol)
    assert {i["external_userid"] for i in got["items"]} == {"wm_ben", "wm_cat"}
    assert await StageTransition.all().count() == 0  # nothing moved


async def test_profile_block_move_and_history(client: TestClient, deps: Deps) -> None:
    journey, stages = await make_journey()
    other, _ = await make_journey(name="售后旅程")
    other.position = 1
    await other.save()
    await make_rule(stages[2], {"type": "group", "chat_ids": ["wr_vip"]})
    await join_group("wm_ann")
    await sweep.sweep(deps)
    await sign_in(client, deps, "alice")
    resp = await client.get("/api/stages/profile?external_userid=wm_ann")
    data = await resp.json()
    assert [j["name"] for j in data["journeys"]] == ["销售旅程", "售后旅程"]  # top first
    sales = data["journeys"][0]
    # alice sees her own relation only (bob's is not hers to see)
    assert [r["userid"] for r in sales["relations"]] == ["alice"]
    assert sales["relations"][0]["stage_name"] == "已报价"
    assert sales["history"][0]["by_text"] == "规则" and "在群" in sales["history"][0]["why"]
    # change with a reason
    body = {
        "journey_id": journey.id,
        "external_userid": "wm_ann",
        "userid": "alice",
        "stage_id": stages[1].id,
        "reason": "",
    }
    err = await post(client, "/api/stages/move", body, 400)
    assert err["field"] == "reason"
    body["reason"] = "客户还在比价"
    await post(client, "/api/stages/move", body)
    # not someone else's relation
    err = await post(client, "/api/stages/move", {**body, "userid": "bob"}, 403)
    data = await (await client.get("/api/stages/profile?external_userid=wm_ann")).json()
    top = data["journeys"][0]["history"][0]
    assert (top["from"], top["to"], top["by_text"], top["reason"], top["who"]) == (
        "已报价",
        "有意向",
        "员工",
        "客户还在比价",
        "Alice",
    )


async def test_batch_set_by_filters_and_dept_admin_scope(client: TestClient, deps: Deps) -> None:
    journey, stages = await make_journey()
    await ConsoleRole.create(userid="dora", role="dept_admin", departments=[2])
    await sign_in(client, deps, "dora")
    listed = await post(client, f"/api/stages/journeys/{journey.id}/relations", {}, 403)
    assert "本部门" in listed["error"]  # a journey for everyone is not hers to manage
    journey.members = ["alice", "bob"]
    await journey.save()
    listed = await post(client, f"/api/stages/journeys/{journey.id}/relations", {"stage": "unset"})
    assert listed["total"] == 3 and listed["unset"] == 3
    body = {
        "filters": {"userids": ["alice"], "name": "安"},
        "stage_id": stages[2].id,
        "reason": "展会名单",
    }
    done = await post(client, f"/api/stages/journeys/{journey.id}/batch", body)
    assert done == {"moved": 1, "total": 1}
    row = await StageTransition.get(journey_id=journey.id)
    assert (row.userid, row.external_userid, row.by, row.created_by) == (
        "alice",
        "wm_ann",
        "batch",
        "dora",
    )
    # carol's journey is outside dora's departments
    theirs, _ = await make_journey(name="客服旅程", members=["carol"])
    await post(client, f"/api/stages/journeys/{theirs.id}/batch", body, 403)


async def test_funnel_equals_the_transitions_after_random_moves(
    client: TestClient, deps: Deps, clock: Clock
) -> None:
    journey, stages = await make_journey()
    rng = random.Random(7)
    rels = [("alice", "wm_ann"), ("bob", "wm_ann"), ("alice", "wm_ben"), ("carol", "wm_cat")]
    for i in range(60):
        clock.advance(rng.randint(1, 20) * 3600)
        userid, ext = rng.choice(rels)
        await engine.move(
            deps,
            journey_id=journey.id,
            userid=userid,
            external_userid=ext,
            to_stage_id=rng.choice(stages).id,
            by=MoveBy.BATCH,
            key=f"m{i}",
        )
    await sign_in(client, deps, "admin")
    since = (T0 - timedelta(days=1)).date().isoformat()
    data = await (
        await client.get(f"/api/stages/journeys/{journey.id}/funnel?since={since}")
    ).json()
    live = {s.id: 0 for s in stages}
    for c in await StageCurrent.filter(journey_id=journey.id):
        live[c.stage_id] += 1
    derived = {s.id: 0 for s in stages}
    for stage_id, _ in (await engine.rebuild_current(journey.id)).values():
        derived[stage_id] += 1  # type: ignore[index]
    rows = await StageTransition.filter(journey_id=journey.id).order_by(
        "userid", "external_userid", "seq"
    )
    for s in data["stages"]:
        assert s["current"] == live[s["stage_id"]] == derived[s["stage_id"]]
        assert s["in_times"] == sum(1 for r in rows if r.to_stage_id == s["stage_id"])
        assert s["out_times"] == sum(1 for r in rows if r.from_stage_id == s["stage_id"])
        assert s["total"] == len(
            {(r.userid, r.external_userid) for r in rows if r.to_stage_id == s["stage_id"]}
        )
    # per staff member, the numbers add up to the whole
    for i, s in enumerate(data["stages"]):
        assert sum(p["stages"][i]["current"] for p in data["staff"]) == s["current"]
        assert sum(p["stages"][i]["in_times"] for p in data["staff"]) == s["in_times"]
    resp = await client.get(f"/api/stages/journeys/{journey.id}/funnel.xlsx?since={since}")
    assert resp.status == 200
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][:4] == ("员工", "阶段", "历史客户总数", "当前客户数")
    assert cells[1][0] == "全部" and cells[1][3] == data["stages"][0]["current"]


async def test_staff_cannot_manage_journeys(client: TestClient, deps: Deps) -> None:
    await sign_in(client, deps, "alice")
    resp = await client.post(
        "/api/stages/journeys", json={"name": "x", "stages": STAGES}, headers=csrf(client)
    )
    assert resp.status == 403


async def test_scopes_of_funnel_profile_and_tile(client: TestClient, deps: Deps) -> None:
    journey, stages = await make_journey()
    for i, (userid, ext) in enumerate((("alice", "wm_ann"), ("carol", "wm_cat"))):
        await engine.move(
            deps, journey_id=journey.id, userid=userid, external_userid=ext,
            to_stage_id=stages[1].id, by=MoveBy.RULE, key=f"k{i}",
        )  # fmt: skip
    await ConsoleRole.create(userid="dora", role="dept_admin", departments=[2])
    await sign_in(client, deps, "dora")
    data = await (await client.get(f"/api/stages/journeys/{journey.id}/funnel")).json()
    assert data["stages"][1]["current"] == 1  # alice's, not carol's (another department)
    assert [p["userid"] for p in data["staff"]] == ["alice"]
    resp = await client.get(f"/api/stages/journeys/{journey.id}/funnel?userid=carol")
    assert resp.status == 403
    from bot.auth import load_principal
    from handlers.stages.home import stage_tiles

    dora = await load_principal("dora", deps.settings, deps.dispatcher)
    tiles = await stage_tiles(deps, dora)
    assert [(t.title, t.value) for t in tiles] == [("今日阶段变更", 1)]
    await sign_in(client, deps, "alice")
    resp = await client.get(f"/api/stages/journeys/{journey.id}/funnel")
    assert resp.status == 403  # staff see stages in the profile block, not the console data
    data = await (await client.get("/api/stages/profile?external_userid=wm_cat")).json()
    assert data["journeys"] == []  # not alice's customer


async def test_unset_pool_counts_active_member_relations_without_a_stage(
    client: TestClient, deps: Deps
) -> None:
    journey, stages = await make_journey()
    members_only, _ = await make_journey(name="客服旅程", members=["carol"])
    await engine.move(
        deps, journey_id=journey.id, userid="alice", external_userid="wm_ann",
        to_stage_id=stages[0].id, by=MoveBy.BATCH, key="k1",
    )  # fmt: skip
    await engine.move(  # moved back to the pool: counted there again
        deps, journey_id=journey.id, userid="bob", external_userid="wm_ann",
        to_stage_id=stages[0].id, by=MoveBy.BATCH, key="k2",
    )  # fmt: skip
    await engine.move(
        deps, journey_id=journey.id, userid="bob", external_userid="wm_ann",
        to_stage_id=None, by=MoveBy.STAFF, key="k3",
    )  # fmt: skip
    await sign_in(client, deps, "admin")
    data = await (await client.get("/api/stages/journeys")).json()
    unset = {j["name"]: j["unset"] for j in data["journeys"]}
    assert unset == {"销售旅程": 3, "客服旅程": 1}
    assert members_only.members == ["carol"]


async def test_an_ended_relation_leaves_the_current_counts(client: TestClient, deps: Deps) -> None:
    from storage.facts import FollowRelation

    journey, stages = await make_journey()
    for i, (userid, ext) in enumerate((("alice", "wm_ann"), ("carol", "wm_cat"))):
        await engine.move(
            deps, journey_id=journey.id, userid=userid, external_userid=ext,
            to_stage_id=stages[1].id, by=MoveBy.RULE, key=f"k{i}",
        )  # fmt: skip
    await FollowRelation.filter(userid="carol").update(active=False)  # the customer left
    await sign_in(client, deps, "admin")
    listed = await (await client.get("/api/stages/journeys")).json()
    assert listed["journeys"][0]["stages"][1]["count"] == 1
    data = await (await client.get(f"/api/stages/journeys/{journey.id}/funnel")).json()
    assert data["stages"][1]["current"] == 1
    assert data["stages"][1]["total"] == 2  # the history still counts them


async def test_a_rule_switched_on_applies_at_once(client: TestClient, deps: Deps) -> None:
    from handlers.stages.sweep import APPLY_JOB, stages_apply_journey
    from tests.support import FakeQueue

    journey, stages = await make_journey()
    await sign_in(client, deps, "admin")
    rule = {"name": "老客户", "enabled": False, "conditions": [{"type": "days_added", "days": 5}]}
    await post(client, f"/api/stages/stages/{stages[1].id}/rules", {"rules": [rule]})
    queue = deps.queue
    assert isinstance(queue, FakeQueue)
    assert [a for n, a in queue.take() if n == APPLY_JOB] == []  # saved off: nothing to do
    saved = await post(
        client, f"/api/stages/stages/{stages[1].id}/rules", {"rules": [{**rule, "enabled": True}]}
    )
    assert saved["stages"][1]["rules"][0]["version"] == 1  # only switched on: same version
    jobs = [a for n, a in queue.take() if n == APPLY_JOB]
    assert jobs == [(journey.id,)]
    await stages_apply_journey({"deps": deps}, journey.id)
    await stages_apply_journey({"deps": deps}, journey.id)  # arq may run it twice
    assert await StageTransition.filter(journey_id=journey.id).count() == 4


async def test_stuck_relations_listed_longest_first(
    client: TestClient, deps: Deps, clock: Clock
) -> None:
    journey, stages = await make_journey()
    for i, (userid, ext) in enumerate(
        (("alice", "wm_ann"), ("alice", "wm_ben"), ("carol", "wm_cat"))
    ):
        await engine.move(
            deps, journey_id=journey.id, userid=userid, external_userid=ext,
            to_stage_id=stages[1].id, by=MoveBy.BATCH, key=f"k{i}",
        )  # fmt: skip
        clock.advance(timedelta(days=10).total_seconds())
    # now: wm_ann 30 days in 有意向, wm_ben 20, wm_cat 10
    await sign_in(client, deps, "admin")
    url = f"/api/stages/journeys/{journey.id}/stuck?stage_id={stages[1].id}&stuck_days=15"
    data = await (await client.get(url)).json()
    assert [(i["external_userid"], i["days"]) for i in data["items"]] == [
        ("wm_ann", 30),
        ("wm_ben", 20),
    ]
    funnel = await (
        await client.get(f"/api/stages/journeys/{journey.id}/funnel?stuck_days=15")
    ).json()
    assert funnel["stages"][1]["stuck"] == data["total"] == 2
    bad = await client.get(f"/api/stages/journeys/{journey.id}/stuck?stage_id=abc")
    assert bad.status == 400 and (await bad.json())["field"] == "stage_id"
