"""Analytics: overview numbers, levels, funnel, path and network, Excel, scoping."""

from __future__ import annotations

import io

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from bot.deps import Deps
from tests.auth.support import sign_in
from tests.radar.support import make_radar, make_share, open_link, page_config


async def _spread(client: TestClient, deps: Deps) -> int:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    link = page_config(html)["self"]
    _, html = await open_link(client, link)  # level 2
    await open_link(client, link)  # another level 2
    await open_link(client, page_config(html)["self"])  # level 3 through the first level 2
    await make_share(deps, radar, userid="carol", ext="")
    return radar.id


async def test_overview_levels_funnel(client: TestClient, deps: Deps, corp: None) -> None:
    rid = await _spread(client, deps)
    await sign_in(client, deps, "admin")
    body = await (await client.get(f"/api/radar/radars/{rid}/stats")).json()
    ov = body["overview"]
    assert ov["visitors"] == 4 and ov["visits"] == 4 and ov["sends"] == 2
    assert ov["shared_visitors"] == 3 and ov["identified"] == 1
    assert ov["share_rate"] == 50.0  # ann and the first level-2 visitor brought someone
    assert [(lv["level"], lv["visitors"], lv["share_rate"]) for lv in body["levels"]] == [
        (1, 1, 100.0),
        (2, 2, 50.0),
        (3, 1, 0.0),
    ]
    # people at every step: ann was sent it, opened it, read under 10 s, brought two people
    funnel = [(s["label"], s["count"]) for s in body["funnel"]]
    assert funnel == [
        ("收到雷达的客户", 1),
        ("打开的客户", 1),
        ("查看超过10秒", 0),
        ("转发带来新访客", 1),
    ]
    live = await (await client.get(f"/api/radar/radars/{rid}/stats?live=1")).json()
    assert live == {"overview": ov, "levels": body["levels"]}  # the console's live refresh
    assert len(body["pages"]) == 4
    staff = {s["userid"]: s for s in body["staff"]}
    assert staff["alice"]["visits"] == 4 and staff["alice"]["direct"] == 1
    assert staff["carol"]["sends"] == 1


async def test_customers_path_network_excel(client: TestClient, deps: Deps, corp: None) -> None:
    rid = await _spread(client, deps)
    await sign_in(client, deps, "admin")
    body = await (await client.get(f"/api/radar/radars/{rid}/customers")).json()
    assert body["total"] == 4
    ann = next(i for i in body["items"] if i["external_userid"] == "wm_ann")
    assert ann["brought"] == 2 and ann["level"] == 1 and ann["last_channel"] == "单聊"
    deep = next(i for i in body["items"] if i["level"] == 3)
    person = await (await client.get(f"/api/radar/radars/{rid}/people/{deep['key']}")).json()
    assert [p["kind"] for p in person["path"]] == ["staff", "customer", "customer", "customer"]
    assert person["path"][0]["name"] == "Alice" and person["path"][1]["name"] == "安"
    net = await (await client.get(f"/api/radar/radars/{rid}/people/wm_ann")).json()
    assert len(net["network"]["children"]) == 2
    resp = await client.get(f"/api/radar/radars/{rid}/customers.xlsx")
    assert resp.status == 200
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("客户", "所属成员", "客户层级")
    assert len(rows) == 5
    assert ("安", "Alice", "1级") in [r[:3] for r in rows]
    filtered = await (await client.get(f"/api/radar/radars/{rid}/customers?q=安")).json()
    assert filtered["total"] == 1


async def test_staff_see_only_their_own(client: TestClient, deps: Deps, corp: None) -> None:
    rid = await _spread(client, deps)
    await sign_in(client, deps, "bob")
    body = await (await client.get(f"/api/radar/radars/{rid}/stats")).json()
    assert body["overview"]["visits"] == 0
    await sign_in(client, deps, "alice")
    mine = await (await client.get("/api/radar/mine")).json()
    assert mine["radars"][0]["visits"] == 4
    prof = await (await client.get("/api/radar/profile?external_userid=wm_ann")).json()
    assert len(prof["items"]) == 1
