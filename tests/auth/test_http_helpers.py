"""read_json's Chinese errors, page_params, and xlsx_response."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from pydantic import BaseModel, Field

from bot.http import ApiError, error_response, json_ok, page_params, read_json, xlsx_response


class Activity(BaseModel):
    name: str = Field(min_length=1, max_length=10, title="活动名称")
    quota: int = Field(ge=1, title="名额")
    kind: Literal["radar", "fission"] = Field(title="类型")


async def _create(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_json(request, Activity)
        page, size = page_params(request)
    except ApiError as exc:
        return error_response(exc)
    return json_ok({"name": body.name, "page": page, "size": size})


@pytest.fixture
async def client(aiohttp_client: Callable[[web.Application], Awaitable[TestClient]]) -> TestClient:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/x", _create)
    return await aiohttp_client(app)


GOOD = {"name": "春季拉新", "quota": 5, "kind": "radar"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"quota": 5, "kind": "radar"}, "name", "缺少必填项：活动名称"),
        ({**GOOD, "name": "长" * 11}, "name", "活动名称太长（最多 10 个字）"),
        ({**GOOD, "name": ""}, "name", "活动名称不能为空"),
        ({**GOOD, "quota": "many"}, "quota", "名额必须是数字"),
        ({**GOOD, "quota": 0}, "quota", "名额不能小于 1"),
        ({**GOOD, "kind": "x"}, "kind", "类型的取值无效，可选：'radar' or 'fission'"),
    ],
)
async def test_validation_messages(
    client: TestClient, body: dict[str, object], field: str, message: str
) -> None:
    resp = await client.post("/x", json=body)
    assert resp.status == 400
    assert (await resp.json()) == {"error": message, "field": field}


async def test_not_json_and_not_object(client: TestClient) -> None:
    resp = await client.post("/x", data=b"{nope")
    assert (await resp.json())["error"] == "请求内容不是有效的 JSON"
    resp = await client.post("/x", json=[1])
    assert (await resp.json())["error"] == "请求内容必须是一个 JSON 对象"


async def test_body_over_one_mib_is_413(client: TestClient) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    resp = await client.post("/x", data=big)
    assert resp.status == 413
    assert "请求内容过大" in (await resp.json())["error"]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * (64 * 1024)

    resp = await client.post("/x", data=chunks())  # no Content-Length: counted while reading
    assert resp.status == 413


async def test_page_params(client: TestClient) -> None:
    resp = await client.post("/x?page=3&size=50", json=GOOD)
    assert (await resp.json()) == {"name": "春季拉新", "page": 3, "size": 50}
    for query, field in (("size=101", "size"), ("page=x", "page"), ("page=0", "page")):
        resp = await client.post(f"/x?{query}", json=GOOD)
        assert resp.status == 400 and (await resp.json())["field"] == field


def test_xlsx_response_round_trip() -> None:
    when = datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    rows: list[list[Any]] = [
        ["张三", 3, when, True],
        ['=HYPERLINK("http://x")', None, None, ["a", "b"]],
    ]
    headers = ["成员", "人数", "时间", "有效"]
    resp = xlsx_response("拉新排行.xlsx", headers, rows, ZoneInfo("Asia/Shanghai"))
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="export.xlsx"')
    assert "filename*=UTF-8''%E6%8B%89%E6%96%B0%E6%8E%92%E8%A1%8C.xlsx" in disposition
    assert isinstance(resp.body, bytes)
    sheet = load_workbook(io.BytesIO(resp.body)).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == ["成员", "人数", "时间", "有效"]
    local = datetime(2024, 5, 1, 10, 30, tzinfo=UTC).replace(tzinfo=None)  # Asia/Shanghai
    assert values[1] == ["张三", 3, local, "是"]
    assert values[2] == ['=HYPERLINK("http://x")', None, None, "a、b"]
    assert sheet["A3"].data_type == "s"  # stored as text, never a live formula
