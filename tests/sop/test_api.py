"""The plan API: bad input named in Chinese (over-long text, 10 images, a javascript: link, a
40 s video), the calendar, pause / resume / copy / delete, and who may manage a plan."""

from __future__ import annotations

import struct
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.sandbox.corp import Corp
from storage.core import ConsoleRole
from storage.schedule import RunState, ScheduledRun
from storage.sop import SopPlan
from tests.auth.support import csrf, sign_in
from tests.sop.conftest import PNG, plan_body

BASE = "/api/sop/plans"


async def _send(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    resp = await client.request(method, path, json=body, headers=csrf(client))
    return resp.status, await resp.json()


def _mp4(seconds: int, brand: bytes = b"isom") -> bytes:
    mvhd = b"mvhd" + bytes([0, 0, 0, 0]) + b"\0" * 8 + struct.pack(">II", 1000, seconds * 1000)
    ftyp = struct.pack(">I", 16) + b"ftyp" + brand + b"\0" * 4
    return ftyp + struct.pack(">I", len(mvhd) + 4) + mvhd + b"\0" * 64


async def _upload(client: TestClient, data: bytes, kind: str, filename: str) -> Any:
    form = FormData()
    form.add_field("kind", kind)
    form.add_field("file", data, filename=filename)
    resp = await client.post("/api/sop/media", data=form, headers=csrf(client))
    return resp.status, await resp.json()


async def test_bad_input_names_the_field(
    client: TestClient, deps: Deps, directory: None, corp: Corp
) -> None:
    await sign_in(client, deps, "admin")
    status, body = await _upload(client, PNG, "image", "a.png")
    assert status == 201
    img = body["name"]
    cases = [
        ({"items": [{"text": "字" * 2001}]}, "内容第1项的文案太长（最多 2000 个字）"),
        ({"items": [{"kind": "images", "images": [img] * 10}]}, "内容第1项的图片最多 9 项"),
        (
            {
                "items": [
                    {
                        "kind": "link",
                        "link": {"title": "t", "url": "javascript:alert(1)", "cover": img},
                    }
                ]
            },
            "内容第1项的链接的链接地址：链接地址必须以 http:// 或 https:// 开头",
        ),
        ({"freq": "weekly"}, "每周重复时请选择每周发送日"),
        ({"userids": []}, "请选择执行员工或执行部门"),
        ({"quiet_start": "11:00", "quiet_end": "13:00"}, "发送时间在免打扰时段内"),
        ({"tag_ids": ["et1"]}, "员工个人发表时由员工在企业微信里选择可见范围"),
    ]
    for patch, message in cases:
        status, body = await _send(client, "POST", BASE, plan_body(**patch))
        assert status == 400 and body["error"].startswith(message), (patch, body)
    status, body = await _upload(client, _mp4(40), "video", "a.mp4")
    assert status == 400 and "不能超过 30 秒" in body["error"] and body["field"] == "file"
    status, body = await _upload(client, _mp4(20), "video", "b.mp4")
    assert status == 201
    for brand in (b"qt  ", b"heic", b"avif"):  # the container, not a video WeChat plays
        status, body = await _upload(client, _mp4(20, brand), "video", "c.mp4")
        assert status == 400 and "不支持 MOV、HEIC、AVIF" in body["error"], brand


async def test_calendar_pause_resume_copy_delete(
    client: TestClient, deps: Deps, directory: None, corp: Corp
) -> None:
    await sign_in(client, deps, "admin")
    status, plan = await _send(
        client, "POST", BASE, plan_body(freq="monthly", month_days=[31], end_date=None)
    )
    assert status == 201
    status, cal = await _send(client, "GET", f"{BASE}/{plan['id']}/calendar")
    days = [c["due_at"][:10] for c in cal["upcoming"][:3]]
    assert days == ["2024-06-30", "2024-07-31", "2024-08-31"]  # 04:00 UTC = 12:00 local
    pending = ScheduledRun.filter(feature="sop.run", state=RunState.PENDING)
    assert await pending.count() == 1  # planned 35 days ahead
    assert (await _send(client, "POST", f"{BASE}/{plan['id']}/pause"))[0] == 200
    assert await pending.count() == 0
    assert (await _send(client, "POST", f"{BASE}/{plan['id']}/resume"))[0] == 200
    assert await pending.count() == 1
    status, copy = await _send(client, "POST", f"{BASE}/{plan['id']}/copy")
    assert status == 201 and copy["paused"] and copy["name"].endswith("（副本）")
    assert await pending.count() == 1  # the copy runs nothing until resumed
    assert (await _send(client, "DELETE", f"{BASE}/{plan['id']}"))[0] == 200
    assert await pending.count() == 0
    status, listed = await _send(client, "GET", BASE)
    assert [p["id"] for p in listed["items"]] == [copy["id"]]


async def test_department_admins_manage_their_departments_plans(
    client: TestClient, deps: Deps, directory: None, corp: Corp
) -> None:
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[2])
    await sign_in(client, deps, "bob")
    status, body = await _send(client, "POST", BASE, plan_body(userids=["carol"]))
    assert status == 403 and body["field"] == "userids"
    status, mine = await _send(client, "POST", BASE, plan_body(userids=["alice"]))
    assert status == 201
    other = await SopPlan.create(
        name="客服计划",
        userids=["carol"],
        start_date="2024-06-03",
        items=[{"text": "x", "kind": "text"}],
    )
    status, listed = await _send(client, "GET", BASE)
    assert [p["id"] for p in listed["items"]] == [mine["id"]]
    assert (await _send(client, "POST", f"{BASE}/{other.id}/pause"))[0] == 403
    await sign_in(client, deps, "alice")  # staff: no plans
    assert (await _send(client, "GET", BASE))[0] == 403
