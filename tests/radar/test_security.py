"""Radar permissions and bad data: shares only to one's own customers, department-restricted
radars and files, live events, link targets."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.radar import Radar, RadarType, Share, Visit
from tests.auth.support import csrf, sign_in
from tests.radar.support import make_radar, make_share, open_link


async def test_shares_only_to_my_own_customers(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    await sign_in(client, deps, "bob")
    h = csrf(client)
    for ext in ("wm_ann", "wm_nobody"):  # alice's customer; no one's
        body = {"radar_id": radar.id, "external_userid": ext}
        resp = await client.post("/api/radar/shares", json=body, headers=h)
        assert resp.status == 403, ext
        assert (await resp.json())["field"] == "external_userid"
    body = {"radar_id": radar.id, "external_userid": "wm_ben"}
    assert (await client.post("/api/radar/shares", json=body, headers=h)).status == 201
    assert await Share.filter(external_userid="wm_ann").count() == 0


async def test_department_radars_and_files_stay_in_the_department(
    client: TestClient, deps: Deps, corp: None
) -> None:
    support = await make_radar(deps, departments=[4], cover="")  # carol's department only
    file_name = support.files[0]["name"]
    for userid, expected in (("alice", 404), ("bob", 404), ("carol", 200), ("admin", 200)):
        await sign_in(client, deps, userid)
        assert (await client.get(f"/api/radar/radars/{support.id}")).status == expected, userid
        assert (await client.get(f"/api/radar/files/{file_name}")).status == expected, userid
    open_radar = await make_radar(deps)
    await sign_in(client, deps, "alice")
    assert (await client.get(f"/api/radar/radars/{open_radar.id}")).status == 200
    assert (await client.get(f"/api/radar/files/{open_radar.files[0]['name']}")).status == 200


async def test_live_events_only_for_radars_i_may_see(
    client: TestClient, deps: Deps, corp: None
) -> None:
    support = await make_radar(deps, departments=[4])
    await sign_in(client, deps, "alice")
    assert (await client.get(f"/api/radar/radars/{support.id}/live")).status == 404
    await sign_in(client, deps, "carol")
    resp = await client.get(f"/api/radar/radars/{support.id}/live")
    assert resp.status == 200
    assert await resp.content.readline() == b"retry: 3000\n"
    resp.close()


async def test_link_targets_without_line_breaks_in_any_case(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    base = {"type": "link", "name": "官网", "title": "官网"}
    for bad in ("https://a.example/\r\nSet-Cookie:x=1", "https://a.example/\nx", "ftp://a/"):
        body = base | {"url": bad}
        resp = await client.post("/api/radar/radars", json=body, headers=h)
        assert resp.status == 400, bad
        assert (await resp.json())["field"] == "url"
    resp = await client.post(
        "/api/radar/radars", json=base | {"url": "HTTPS://a.example/页面?q=1"}, headers=h
    )
    assert resp.status == 201, await resp.text()
    radar = await Radar.get(id=(await resp.json())["id"])
    assert radar.url == "https://a.example/%E9%A1%B5%E9%9D%A2?q=1"
    share = await make_share(deps, radar)
    resp = await client.get(f"/r/{share.token}", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, radar.url)
    broken = await Radar.create(
        type=RadarType.LINK, name="旧", title="旧", url="https://a.example/\r\nX: 1"
    )  # saved before targets were checked
    status, html = await open_link(client, f"/r/{(await make_share(deps, broken)).token}")
    assert status == 502 and "链接地址有误" in html
    assert await Visit.filter(radar_id=broken.id).count() == 1
