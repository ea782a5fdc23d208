"""Console API: groups, radars, uploads checked by content, permissions, toolbar shares."""

from __future__ import annotations

import io
import sys

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.radar.demo import demo_pdf, demo_png
from storage.radar import Radar, Share, Visit
from tests.auth.support import csrf, sign_in
from tests.radar.support import make_radar


def _form(kind: str, data: bytes | None = None, **fields: str) -> FormData:
    form = FormData()
    for key, value in {"name": "手册", "title": "产品手册", "type": kind, **fields}.items():
        form.add_field(key, value)
    if data is not None:
        form.add_field("files", data, filename="a.pdf", content_type="application/pdf")
    return form


async def test_groups_lifecycle(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    ids = []
    for name in ("甲", "乙", "丙"):
        resp = await client.post("/api/radar/groups", json={"name": name}, headers=h)
        assert resp.status == 201
        ids.append((await resp.json())["id"])
    resp = await client.post(f"/api/radar/groups/{ids[2]}/move", json={"to": "top"}, headers=h)
    assert [g["name"] for g in (await resp.json())["groups"]] == ["丙", "甲", "乙"]
    resp = await client.post(f"/api/radar/groups/{ids[0]}/move", json={"to": "down"}, headers=h)
    assert [g["name"] for g in (await resp.json())["groups"]] == ["丙", "乙", "甲"]
    resp = await client.post(f"/api/radar/groups/{ids[0]}/move", json={"to": "sideways"}, headers=h)
    assert resp.status == 400
    resp = await client.patch(
        f"/api/radar/groups/{ids[1]}", json={"name": "新名", "departments": [2]}, headers=h
    )
    assert (await resp.json())["departments"] == [2]
    await Radar.create(group_id=ids[1], name="x", type="link", title="x", url="https://a.b/")
    resp = await client.delete(f"/api/radar/groups/{ids[1]}", headers=h)
    assert resp.status == 400
    assert (await resp.json())["error"] == "分组下还有雷达，请先移出后再删除"
    resp = await client.delete(f"/api/radar/groups/{ids[0]}", headers=h)
    assert resp.status == 200


async def test_uploads_are_checked_by_content(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    png = demo_png("x", (1, 2, 3))
    resp = await client.post("/api/radar/radars", data=_form("pdf", png), headers=h)
    assert resp.status == 400
    assert "PDF" in (await resp.json())["error"]
    resp = await client.post("/api/radar/radars", data=_form("pdf", b"<html>%PDF-"), headers=h)
    assert resp.status == 400
    resp = await client.post("/api/radar/radars", data=_form("pdf"), headers=h)
    assert resp.status == 400  # no file
    resp = await client.post("/api/radar/radars", data=_form("pdf", demo_pdf(2)), headers=h)
    assert resp.status == 201
    body = await resp.json()
    assert body["page_count"] == 2
    name = body["files"][0]["name"]
    assert name.endswith(".pdf") and name != "a.pdf"  # a random name, not the upload's
    stored = deps.settings.storage.upload_dir
    assert (await client.get(f"/api/radar/files/{name}")).status == 200
    assert stored
    resp = await client.post("/api/radar/radars", data=_form("video", demo_pdf(1)), headers=h)
    assert resp.status == 400
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    resp = await client.post("/api/radar/radars", data=_form("video", mp4), headers=h)
    assert resp.status == 201
    resp = await client.post("/api/radar/radars", data=_form("link", url="ftp://x"), headers=h)
    assert resp.status == 400


async def test_upload_size_limit(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    big = b"%PDF-" + b"0" * (deps.settings.storage.max_upload_mb * 1024 * 1024 + 10)
    resp = await client.post("/api/radar/radars", data=_form("pdf", big), headers=csrf(client))
    assert resp.status == 413


async def test_edit_and_delete(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    radar = await make_radar(deps)
    resp = await client.patch(
        f"/api/radar/radars/{radar.id}", json={"title": "新标题", "friends_only": True}, headers=h
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["title"] == "新标题" and body["friends_only"] is True
    resp = await client.patch(f"/api/radar/radars/{radar.id}", json={"type": "link"}, headers=h)
    assert resp.status == 400
    assert (await client.delete(f"/api/radar/radars/{radar.id}", headers=h)).status == 200
    assert (await client.get(f"/api/radar/radars/{radar.id}")).status == 404


async def test_staff_cannot_manage(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "alice")
    h = csrf(client)
    assert (await client.post("/api/radar/groups", json={"name": "x"}, headers=h)).status == 403
    assert (
        await client.post("/api/radar/radars", data=_form("pdf", demo_pdf(1)), headers=h)
    ).status == 403
    client.session.cookie_jar.clear()
    assert (await client.get("/api/radar/toolbar")).status == 401


async def test_toolbar_visibility_and_share(client: TestClient, deps: Deps, corp: None) -> None:
    sales = await make_radar(deps, departments=[2], title="销售资料")
    support = await make_radar(deps, departments=[4], title="客服资料")
    await make_radar(deps, title="公开资料")
    await sign_in(client, deps, "bob")  # department 3, under sales (2)
    h = csrf(client)
    body = await (await client.get("/api/radar/toolbar")).json()
    titles = [r["title"] for g in body["groups"] for r in g["radars"]]
    assert titles == ["销售资料", "公开资料"]
    resp = await client.post(
        "/api/radar/shares", json={"radar_id": support.id, "external_userid": "wm_ben"}, headers=h
    )
    assert resp.status == 404
    resp = await client.post("/api/radar/shares", json={"radar_id": sales.id}, headers=h)
    assert resp.status == 400
    for _ in range(2):
        resp = await client.post(
            "/api/radar/shares", json={"radar_id": sales.id, "external_userid": "wm_ben"}, headers=h
        )
        assert resp.status == 201
    body = await resp.json()
    assert body["news"]["link"] == deps.url("/r/" + body["token"])
    assert body["news"]["title"] == "销售资料"
    assert deps.signer.check_token("radar.share", body["token"])
    assert await Share.filter(radar_id=sales.id, userid="bob").count() == 2
    resp = await client.post(
        "/api/radar/shares", json={"radar_id": sales.id, "chat_id": "wr1"}, headers=h
    )
    assert resp.status == 201


async def test_impossible_ids_are_404_not_500(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    for bad in ("²", "99999999999", "1e3", "-1"):
        assert (await client.get(f"/api/radar/radars/{bad}")).status == 404, bad


def _bmff(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\x00" * 64


async def test_video_uploads_check_the_mp4_brand(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    refused = {
        "AVIF": _bmff(b"avif", b"mif1", b"miaf"),
        "HEIC": _bmff(b"heic", b"mif1"),
        "QuickTime": _bmff(b"qt  ", b"qt  "),
    }
    for kind, data in refused.items():
        resp = await client.post("/api/radar/radars", data=_form("video", data), headers=h)
        body = await resp.json()
        assert resp.status == 400, kind
        assert body["field"] == "files"
        assert "H.264" in body["error"] and "微信" in body["error"], body
    for brand in (b"isom", b"mp42", b"avc1"):
        resp = await client.post("/api/radar/radars", data=_form("video", _bmff(brand)), headers=h)
        assert resp.status == 201, brand
    assert (await Radar.filter(type="video").count()) == 3


async def test_a_radar_without_a_group_is_listed(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    form = {"type": "link", "name": "官网", "title": "官网", "url": "https://example.com/a"}
    resp = await client.post("/api/radar/radars", json=form, headers=h)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["group_id"] is None
    radar_id = (await resp.json())["id"]
    groups = await (await client.get("/api/radar/groups")).json()
    assert groups["ungrouped"] == 1
    await sign_in(client, deps, "carol")  # any staff member may send it
    body = await (await client.get("/api/radar/toolbar")).json()
    assert body["groups"][-1]["name"] == "未分组"
    assert [r["id"] for r in body["groups"][-1]["radars"]] == [radar_id]
    share = {"radar_id": radar_id, "chat_id": "wr_support"}
    resp = await client.post("/api/radar/shares", json=share, headers=csrf(client))
    assert resp.status == 201


async def test_group_errors_name_the_field_in_chinese(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    h = csrf(client)
    for body in ({"name": "   "}, {"name": ""}):
        resp = await client.post("/api/radar/groups", json=body, headers=h)
        assert resp.status == 400
        assert await resp.json() == {"error": "分组名称不能为空", "field": "name"}
    resp = await client.post(
        "/api/radar/groups", json={"name": "甲", "departments": ["x"]}, headers=h
    )
    assert await resp.json() == {"error": "可见部门第1项必须是数字", "field": "departments.0"}
    resp = await client.post("/api/radar/groups", json={"name": " 甲 "}, headers=h)
    gid = (await resp.json())["id"]
    resp = await client.patch(f"/api/radar/groups/{gid}", json={"name": " "}, headers=h)
    assert (await resp.json())["error"] == "分组名称不能为空"


async def test_list_shows_visits_limits_and_copies_a_link(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps)
    share = await Share.create(
        token="tok-a", radar=radar, userid="alice", external_userid="wm_ann", created_at=deps.now()
    )
    for i in range(3):
        await Visit.create(
            id=f"v{i}", share_id=share.id, radar_id=radar.id, visitor_id=f"b{i}",
            root_userid="alice", started_at=deps.now(),
        )  # fmt: skip
    await sign_in(client, deps, "admin")
    body = await (await client.get("/api/radar/radars")).json()
    (item,) = body["radars"]
    assert (item["sends"], item["visits"]) == (1, 3)
    assert body["limits"]["max_upload_mb"] == deps.settings.storage.max_upload_mb
    resp = await client.post(f"/api/radar/radars/{radar.id}/link", headers=csrf(client))
    assert resp.status == 201
    url = (await resp.json())["url"]
    token = url.rsplit("/r/", 1)[1]
    made = await Share.get(token=token)
    assert (made.userid, made.external_userid, made.chat_id) == ("admin", "", "")
    await sign_in(client, deps, "alice")  # staff may not mint links from the console
    assert (
        await client.post(f"/api/radar/radars/{radar.id}/link", headers=csrf(client))
    ).status == 403


async def test_uploaded_pdfs_are_packed_for_the_phone_viewer(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """A PDF is stored with its page objects packed in object streams (the viewer then needs
    a few byte ranges before the first page, not the whole file); its pages are counted from
    its structure, so a PDF that came packed already is not a 0-page PDF."""
    import pikepdf

    from handlers.radar import uploads

    await sign_in(client, deps, "admin")
    h = csrf(client)
    packed = io.BytesIO()
    with pikepdf.open(io.BytesIO(demo_pdf(5))) as pdf:
        pdf.save(packed, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    for upload, pages in ((demo_pdf(7), 7), (packed.getvalue(), 5)):
        resp = await client.post("/api/radar/radars", data=_form("pdf", upload), headers=h)
        assert resp.status == 201
        body = await resp.json()
        assert body["page_count"] == pages
        path = uploads.upload_dir(deps.settings) / body["files"][0]["name"]
        stored = path.read_bytes()
        assert body["files"][0]["size"] == len(stored)
        assert b"/ObjStm" in stored and uploads.pdf_pages(stored) == 0  # no page dict in sight
        with pikepdf.open(path) as pdf:
            assert len(pdf.pages) == pages


async def test_uploaded_pdf_first_page_drawn_and_unreadable_pdf_refused(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """The first page is drawn once at upload as an image beside the PDF (the landing page
    shows it while the viewer loads); a PDF no phone could show is refused with the reason,
    and nothing of it is kept."""
    from PIL import Image

    from handlers.radar import uploads

    await sign_in(client, deps, "admin")
    h = csrf(client)
    resp = await client.post("/api/radar/radars", data=_form("pdf", demo_pdf(3)), headers=h)
    assert resp.status == 201
    entry = (await resp.json())["files"][0]
    assert (entry["pages"], entry["width"], entry["height"]) == (3, 595, 842)
    image = uploads.upload_dir(deps.settings) / uploads.first_page_name(entry["name"])
    with Image.open(image) as drawn:
        assert drawn.format == "JPEG" and drawn.width == uploads.FIRST_PAGE_WIDTH
    before = sorted(p.name for p in uploads.upload_dir(deps.settings).iterdir())
    encrypted = io.BytesIO()
    import pikepdf

    with pikepdf.open(io.BytesIO(demo_pdf(2))) as pdf:
        pdf.save(encrypted, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    damaged = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n"
    for bad in (damaged, encrypted.getvalue()):
        resp = await client.post("/api/radar/radars", data=_form("pdf", bad), headers=h)
        assert resp.status == 400
        body = await resp.json()
        assert "无法打开" in body["error"] and body["field"] == "files"
    assert sorted(p.name for p in uploads.upload_dir(deps.settings).iterdir()) == before


def test_a_pdf_is_stored_unpacked_without_pikepdf(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install that predates the dependency still takes PDFs (as uploaded, pages counted
    from the page markers) instead of failing every upload."""
    from handlers.radar import uploads

    monkeypatch.setitem(sys.modules, "pikepdf", None)  # import pikepdf -> ImportError
    pdf = demo_pdf(3)
    entry = uploads.store_pdf(deps.settings, pdf, "PDF")
    assert entry["pages"] == 3 and entry["size"] == len(pdf)
    assert (uploads.upload_dir(deps.settings) / entry["name"]).read_bytes() == pdf
