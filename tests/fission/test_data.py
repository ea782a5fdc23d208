"""An activity's data: the funnel per staff member and per day, the invite tree, risk signals
and the review that holds a prize back, and the Excel exports."""

from __future__ import annotations

import io
from datetime import timedelta

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot.deps import Deps
from handlers.fission.credit import credit, revoke, state_of
from storage.fission import FissionAward, FissionParticipant
from tests.auth.support import csrf, sign_in
from tests.fission.conftest import T0, make_activity, make_participant

URL = "/api/fission/activities"


async def help_(
    deps: Deps, p: FissionParticipant, helper: str, minutes: float, userid: str = "alice"
) -> None:
    await credit(
        deps,
        state=state_of(p.code),
        helper=helper,
        userid=userid,
        at=T0 + timedelta(minutes=minutes),
    )


async def test_funnel_tree_and_exports(client: TestClient, deps: Deps) -> None:
    activity = await make_activity(tiers=((2, 5),), revoke_hours=2)
    root = await make_participant(activity, "wm_root")
    await help_(deps, root, "wm_a", 1)
    await help_(deps, root, "wm_b", 2, userid="bob")
    await help_(deps, root, "wm_c", 3)
    await revoke(
        deps,
        userid="alice",
        helper="wm_c",
        at=T0 + timedelta(minutes=30),
        reason="deleted_by_customer",
    )
    child = await make_participant(activity, "wm_a")
    await FissionParticipant.filter(id=child.id).update(invited_by=root.id)
    await help_(deps, child, "wm_d", 60 * 24)  # the next day
    award = await FissionAward.get(participant_id=root.id)
    await sign_in(client, deps, "admin")
    await client.post(f"/api/fission/awards/{award.id}/given", json={}, headers=csrf(client))

    data = await (await client.get(f"{URL}/{activity.id}/funnel")).json()
    assert data["funnel"] == {
        "staff": 2,
        "participants": 2,
        "completed": 1,
        "new_customers": 3,
        "redeemed": 1,
    }
    by_staff = {r["userid"]: r["new_customers"] for r in data["staff"]}
    assert by_staff == {"alice": 2, "bob": 1}
    assert [(d["day"], d["new_customers"]) for d in data["days"]] == [
        ("2024-06-01", 2),
        ("2024-06-02", 1),
    ]

    roots = (await (await client.get(f"{URL}/{activity.id}/tree")).json())["roots"]
    assert [(r["name"], r["helps"]) for r in roots] == [("客户wm_root", 2)]
    assert [c["name"] for c in roots[0]["children"]] == ["客户wm_a"]
    assert [h["revoked"] for h in roots[0]["helpers"]] == [False, False, True]

    resp = await client.get(f"{URL}/{activity.id}/export")
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("客户", "客户ID", "负责员工", "参加时间", "有效助力")
    assert rows[1][4] == 2 and "已发放" in rows[1][5]
    resp = await client.get(f"{URL}/{activity.id}/export?what=attempts")
    rows = list(load_workbook(io.BytesIO(await resp.read())).active.iter_rows(values_only=True))
    assert [r[4] for r in rows[1:]] == ["助力成功", "助力成功", "已撤销", "助力成功"]
    resp = await client.get(f"{URL}/{activity.id}/funnel?format=xlsx&by=days")
    rows = list(load_workbook(io.BytesIO(await resp.read())).active.iter_rows(values_only=True))
    assert rows[0][0] == "日期" and len(rows) == 3


async def test_burst_flagged_and_a_hold_blocks_the_prize(client: TestClient, deps: Deps) -> None:
    activity = await make_activity(tiers=((5, 5),))
    p = await make_participant(activity, "wm_p")
    calm = await make_participant(activity, "wm_calm")
    for i in range(5):
        await help_(deps, p, f"wm_h{i}", 1 + i)  # five helps in five minutes
    for i in range(2):
        await help_(deps, calm, f"wm_c{i}", 60 * i)
    await sign_in(client, deps, "admin")
    items = (await (await client.get(f"{URL}/{activity.id}/risks")).json())["items"]
    assert [(i["participant_id"], i["pending_prize"]) for i in items] == [(p.id, True)]
    assert "集中助力 5 次" in items[0]["signals"][0]
    resp = await client.post(
        f"{URL}/{activity.id}/risks/review",
        json={"participant_id": p.id, "decision": "hold"},
        headers=csrf(client),
    )
    assert resp.status == 200
    award = await FissionAward.get(participant_id=p.id)
    resp = await client.post(f"/api/fission/awards/{award.id}/given", json={}, headers=csrf(client))
    assert resp.status == 409 and "暂缓" in (await resp.json())["error"]
    resp = await client.post(
        f"{URL}/{activity.id}/risks/review",
        json={"participant_id": p.id, "decision": "ok"},
        headers=csrf(client),
    )
    items = (await (await client.get(f"{URL}/{activity.id}/risks")).json())["items"]
    assert items[0]["review"] == "ok"
    resp = await client.post(f"/api/fission/awards/{award.id}/given", json={}, headers=csrf(client))
    assert resp.status == 200
    resp = await client.post(
        f"{URL}/{activity.id}/risks/review",
        json={"participant_id": p.id, "decision": "maybe"},
        headers=csrf(client),
    )
    assert resp.status == 400 and (await resp.json())["field"] == "decision"


async def test_helpers_on_one_browser_are_flagged(client: TestClient, deps: Deps) -> None:
    """Two helpers open the activity page on their personal links from the same browser."""
    from handlers.fission.pages import personal_url

    activity = await make_activity(tiers=((9, 5),))
    p = await make_participant(activity, "wm_p")
    other = await make_participant(activity, "wm_other")
    await help_(deps, p, "wm_a", 1)
    await help_(deps, p, "wm_b", 2)
    await help_(deps, other, "wm_c", 3)
    for ext in ("wm_a", "wm_b"):  # one phone, two accounts' links
        url = personal_url(deps, activity.id, ext)
        resp = await client.get(url[url.index("/f/") :])
        assert resp.status == 200
    await sign_in(client, deps, "admin")
    items = (await (await client.get(f"{URL}/{activity.id}/risks")).json())["items"]
    assert [(i["participant_id"], i["signals"]) for i in items] == [
        (p.id, ["2 位助力相关客户使用同一设备打开活动页"])
    ]
