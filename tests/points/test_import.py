"""Import: a row-by-row preview naming each refusal, all-or-nothing apply (a bad row, or a
deduction beyond a balance, applies none), and an apply that is idempotent per row."""

from __future__ import annotations

import io

import aiohttp
from aiohttp.test_utils import TestClient
from openpyxl import Workbook

from bot.deps import Deps
from storage.facts import Customer
from storage.points import PointsAccount, PointsEntry
from tests.auth.support import csrf, sign_in
from tests.points.support import assert_consistent, save_program


def _form(name: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _upload(client: TestClient, name: str, data: bytes) -> dict:  # type: ignore[type-arg]
    resp = await client.post("/api/points/import", data=_form(name, data), headers=csrf(client))
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def _balance(ext: str) -> int:
    acc = await PointsAccount.get_or_none(external_userid=ext)
    return int(acc.balance) if acc else 0


async def test_preview_names_each_refused_row_and_apply_refuses_the_file(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps)
    await Customer.create(external_userid="wm_ann2", name="安")  # a second 安
    await sign_in(client, deps, "admin")
    text = "客户,积分,原因\nwm_ann,100,老会员\n猫,50,老会员\n安,20,重名\n无名氏,10,\nwm_ben,abc,\n"
    preview = await _upload(client, "points.csv", text.encode("utf-8-sig"))
    rows = {r["row"]: r for r in preview["rows"]}
    assert rows[2]["external_userid"] == "wm_ann" and "error" not in rows[2]
    assert rows[3]["external_userid"] == "wm_cat" and "error" not in rows[3]
    assert rows[4]["error"] == "有 2 位客户匹配，请改用 external_userid"
    assert rows[5]["error"] == "找不到这位客户"
    assert rows[6]["error"] == "积分应为非零整数"
    assert (preview["ok"], preview["refused"]) == (2, 3)
    resp = await client.post(f"/api/points/import/{preview['id']}/apply", headers=csrf(client))
    assert resp.status == 400 and "第 4 行" in (await resp.json())["error"]
    assert await PointsEntry.all().count() == 0


async def test_apply_is_all_or_nothing_and_once_per_row(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await save_program(deps)
    await sign_in(client, deps, "admin")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["客户", "积分", "原因"], ["wm_ann", 100, "迁移"], ["wm_ben", -30, "扣回"]):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    preview = await _upload(client, "points.xlsx", buf.getvalue())
    assert preview["refused"] == 0
    # wm_ben has no points: the deduction fails, and wm_ann's row is rolled back with it
    resp = await client.post(f"/api/points/import/{preview['id']}/apply", headers=csrf(client))
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "第 3 行：积分余额不足（当前 0 分）"
    assert await PointsEntry.all().count() == 0

    good = await _upload(
        client, "ok.csv", "客户,积分,原因\nwm_ann,100,迁移\nwm_ann,-30,扣回\n".encode()
    )
    for _ in range(2):
        resp = await client.post(f"/api/points/import/{good['id']}/apply", headers=csrf(client))
        assert resp.status == 200 and (await resp.json())["state"] == "applied"
    assert await PointsEntry.filter(kind="import").count() == 2
    assert await _balance("wm_ann") == 70
    await assert_consistent("wm_ann")


async def test_import_needs_an_admin_and_a_known_format(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "alice")
    resp = await client.post("/api/points/import", data=_form("a.csv", b"x"), headers=csrf(client))
    assert resp.status == 403
    await sign_in(client, deps, "admin")
    resp = await client.post("/api/points/import", data=_form("a.txt", b"x"), headers=csrf(client))
    err = await resp.json()
    assert resp.status == 400 and err["field"] == "file" and "CSV 或 Excel" in err["error"]
    resp = await client.post(
        "/api/points/import", data=_form("a.csv", "名字,分数\n".encode()), headers=csrf(client)
    )
    assert resp.status == 400 and "缺少：客户、积分" in (await resp.json())["error"]
