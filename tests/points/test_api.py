"""The customer page's identity and actions, the console API and the sidebar block, through
the real app: personal link vs shared link, a forward, bad input in Chinese, permissions."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.points.page import personal_path
from storage.directory import Staff
from storage.facts import FollowRelation
from storage.points import PointsAccount, PointsEntry, PointsReward
from tests.auth.support import csrf, sign_in
from tests.points.support import save_program

PAGE = {"X-Points-Page": "1"}


async def test_the_personal_link_credits_its_first_browser_only(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps, signin_points=5)
    path = personal_path(deps, "wm_ann")
    resp = await client.get(path)
    assert resp.status == 200
    assert "社群积分" in await resp.text()
    state = await (await client.get(f"{path}/api/state")).json()
    assert state["identity"]["can_earn"] and state["me"]["balance"] == 0
    # no page header: refused (a cross-site form cannot send it)
    assert (await client.post(f"{path}/api/signin")).status == 403
    first = await client.post(f"{path}/api/signin", headers=PAGE)
    body = await first.json()
    assert first.status == 200 and body["awarded"] == [{"reason": "每日签到", "points": 5}]
    again = await (await client.post(f"{path}/api/signin", headers=PAGE)).json()
    assert again["already"] is True
    # another browser opening the same link is someone the customer forwarded it to
    client.session.cookie_jar.clear()
    await client.get(path)
    state = await (await client.get(f"{path}/api/state")).json()
    assert state["identity"]["can_earn"] is False and state["me"] is None
    refused = await client.post(f"{path}/api/signin", headers=PAGE)
    assert refused.status == 403 and "专属" in (await refused.json())["error"]
    assert (await PointsAccount.get(external_userid="wm_ann")).balance == 5


async def test_the_shared_link_can_look_but_not_earn_without_the_service_account(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps, signin_points=5)
    await PointsReward.create(name="保温杯", cost=50, stock=3, created_at=deps.now())
    assert (await client.get("/p/-")).status == 200
    state = await (await client.get("/p/-/api/state")).json()
    assert state["identity"] == {
        "level": "anonymous",
        "can_earn": False,
        "why": "请点开顾问发给您的专属积分链接（不要使用群公告或别人转发的链接），即可签到和兑换。",
    }
    assert [r["name"] for r in state["rewards"]] == ["保温杯"]
    assert (await client.post("/p/-/api/signin", headers=PAGE)).status == 403
    assert (await client.get("/p/wm_ann.AAAAAAAAAAAAAAAA")).status == 404  # a forged link


async def test_profile_and_redeem_from_the_page(client: TestClient, deps: Deps, corp: None) -> None:
    await save_program(deps, signin_points=60, profile_points=10, profile_fields=["phone"])
    reward = await PointsReward.create(name="保温杯", cost=50, stock=1, created_at=deps.now())
    path = personal_path(deps, "wm_ann")
    await client.get(path)
    bad = await client.post(f"{path}/api/profile", json={"phone": "12"}, headers=PAGE)
    err = await bad.json()
    assert bad.status == 400 and err["field"] == "phone" and "手机号" in err["error"]
    ok = await client.post(f"{path}/api/profile", json={"phone": "13800000000"}, headers=PAGE)
    assert (await ok.json())["awarded"] == [{"reason": "完善信息：手机号", "points": 10}]
    await client.post(f"{path}/api/signin", headers=PAGE)
    body = {"reward_id": reward.id, "nonce": "tap-12345678"}
    first = await client.post(f"{path}/api/redeem", json=body, headers=PAGE)
    second = await client.post(f"{path}/api/redeem", json=body, headers=PAGE)
    assert (await first.json())["id"] == (await second.json())["id"]
    gone = await client.post(
        f"{path}/api/redeem", json=body | {"nonce": "tap-other-1"}, headers=PAGE
    )
    assert gone.status == 409 and "已兑完" in (await gone.json())["error"]
    state = await (await client.get(f"{path}/api/state")).json()
    assert state["me"]["balance"] == 20 and state["me"]["held"] == 50
    assert state["me"]["redemptions"][0]["state"] == "pending"


async def test_the_console_needs_an_admin_and_names_bad_fields(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "alice")
    assert (await client.get("/api/points/program")).status == 403
    await sign_in(client, deps, "admin")
    resp = await client.post(
        "/api/points/program",
        json={
            "enabled": True,
            "streak_tiers": [{"days": 7, "points": 5}, {"days": 3, "points": 1}],
        },
        headers=csrf(client),
    )
    assert resp.status == 400 and "连续签到奖励的天数必须逐级递增" in (await resp.json())["error"]
    resp = await client.post(
        "/api/points/program",
        json={"enabled": True, "chat_ids": ["g1"], "signin_points": 5},
        headers=csrf(client),
    )
    data = await resp.json()
    assert resp.status == 200 and data["config"]["signin_points"] == 5
    notice = data["entry_points"][1]
    assert notice["works"] is False and "服务号" in notice["detail"]


async def test_batch_award_is_once_per_request_and_reversal_follows_the_rule(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps)
    await sign_in(client, deps, "admin")
    body = {"chat_ids": ["g1"], "points": 30, "reason": "直播互动", "request_id": "req-00000001"}
    for _ in range(2):
        resp = await client.post("/api/points/adjust", json=body, headers=csrf(client))
        assert resp.status == 200
    assert await PointsEntry.filter(rule="manual").count() == 3  # g1 has three customers
    deduct = body | {
        "chat_ids": [],
        "external_userids": ["wm_ann"],
        "points": -20,
        "request_id": "req-00000002",
    }
    resp = await client.post("/api/points/adjust", json=deduct, headers=csrf(client))
    assert (await resp.json())["done"] == 1
    rows = (await (await client.get("/api/points/ledger?external_userid=wm_ann")).json())["items"]
    award = next(r for r in rows if r["amount"] == 30)
    resp = await client.post(
        f"/api/points/ledger/{award['id']}/reverse", json={}, headers=csrf(client)
    )
    assert resp.status == 409 and "已有 20 分被使用或已过期" in (await resp.json())["error"]
    customers = (await (await client.get("/api/points/customers?q=猫")).json())["items"]
    assert [(c["name"], c["balance"]) for c in customers] == [("猫", 30)]
    export = await client.get("/api/points/customers/export")
    assert export.status == 200 and export.content_type.endswith("sheet")


async def test_the_sidebar_block_is_scoped_and_staff_adjust_within_the_limit(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps, staff_limit=50)
    await Staff.create(userid="dave", name="Dave", departments=[2])
    await sign_in(client, deps, "dave")
    assert (await client.get("/api/points/profile?external_userid=wm_ann")).status == 403
    await sign_in(client, deps, "alice")
    over = {
        "external_userid": "wm_ann",
        "points": 80,
        "reason": "活动",
        "request_id": "r-000000001",
    }
    resp = await client.post("/api/points/profile/adjust", json=over, headers=csrf(client))
    assert resp.status == 400 and "不能超过 50 分" in (await resp.json())["error"]
    resp = await client.post(
        "/api/points/profile/adjust", json=over | {"points": 40}, headers=csrf(client)
    )
    assert (await resp.json())["balance"] == 40
    block = await (await client.get("/api/points/profile?external_userid=wm_ann")).json()
    assert block["balance"] == 40 and block["entries"][0]["reason"] == "活动"
    assert block["entries"][0]["amount"] == 40
    assert await FollowRelation.filter(userid="alice", external_userid="wm_ann").exists()
