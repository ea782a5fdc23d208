"""Console data pages: TOP10, tables by member / date / customer (each also as .xlsx), and the
TOP10 chart PNG for the closing report card (signed URL, no login: WeCom fetches it)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, page_params, xlsx_response
from bot.xlsx_stream import xlsx_stream
from handlers.leaderboard import access, counting, report, report_customers, results
from handlers.leaderboard.chart import top10_png
from handlers.leaderboard.router import router
from storage.leaderboard import Activity, Metric

BASE = "/api/leaderboard/activities/{id}/data"


async def _table(ctx: RequestContext, activity: Activity, kind: str) -> tuple[str, Any]:
    """(version, rows or None while the worker computes them): the version the page asked for
    (`?version=`, while it waits for it) or the activity's current one."""
    asked = ctx.request.query.get("version", "")
    if len(asked) != 32 or asked[:16] != results.settings_key(activity):
        asked = await results.version(activity)
    return asked, await results.ask(ctx.deps, activity, kind, asked)


def _computing(ctx: RequestContext, at_version: str, headers: list[str], activity: Activity) -> Any:
    if _wants_xlsx(ctx):
        raise ApiError(409, "数据计算中，请稍后再导出")
    definitions = report.DEFINITIONS[Metric(activity.metric)]
    return json_ok(
        {"computing": True, "version": at_version, "headers": headers, "definitions": definitions}
    )


def _wants_xlsx(ctx: RequestContext) -> bool:
    fmt = ctx.request.query.get("format", "json")
    if fmt not in ("json", "xlsx"):
        raise ApiError(400, "参数 format 只能是 json 或 xlsx", "format")
    return fmt == "xlsx"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "计入" if value else "不计入"
    return str(value)


def _answer(
    ctx: RequestContext,
    name: str,
    headers: list[str],
    rows: list[list[Any]],
    activity: Activity,
    at_version: str,
) -> Any:
    keyword = ctx.request.query.get("q", "").strip()
    if keyword:  # the export holds what the filtered table shows
        rows = [r for r in rows if any(keyword in _text(v) for v in r)]
    if _wants_xlsx(ctx):
        return xlsx_response(name, headers, rows, ctx.deps.settings.tz)
    definitions = report.DEFINITIONS[Metric(activity.metric)]
    return json_ok(
        {
            "headers": headers,
            "rows": rows,
            "total": len(rows),
            "definitions": definitions,
            "version": at_version,
        }
    )


@router.get(BASE + "/members", role=Role.DEPT_ADMIN)
async def by_member(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    headers = report.member_headers(activity)
    at_version, rows = await _table(ctx, activity, "members")
    if rows is None:
        return _computing(ctx, at_version, headers, activity)  # type: ignore[no-any-return]
    name = f"拉新排行榜-成员-{activity.id}.xlsx"
    return _answer(ctx, name, headers, rows, activity, at_version)  # type: ignore[no-any-return]


@router.get(BASE + "/dates", role=Role.DEPT_ADMIN)
async def by_date(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    tz = ctx.deps.settings.tz
    headers = report.date_headers(activity)
    at_version, rows = await _table(ctx, activity, "dates")
    if rows is None:
        return _computing(ctx, at_version, headers, activity)  # type: ignore[no-any-return]
    rows = report.fill_days(rows, report.window_days(activity, tz, ctx.deps.now()), len(headers))
    name = f"拉新排行榜-日期-{activity.id}.xlsx"
    return _answer(ctx, name, headers, rows, activity, at_version)  # type: ignore[no-any-return]


@router.get(BASE + "/customers", role=Role.DEPT_ADMIN)
async def by_customer(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    keyword = ctx.request.query.get("q", "").strip()[:64]
    headers = report_customers.headers(activity)
    if _wants_xlsx(ctx):
        name = f"拉新排行榜-客户-{activity.id}.xlsx"
        chunks = report_customers.stream(activity, keyword)
        return await xlsx_stream(ctx.request, name, headers, chunks, ctx.deps.settings.tz)
    page, size = page_params(ctx.request, default_size=20)
    rows, total = await report_customers.page(activity, keyword, page, size)
    return json_ok({"headers": headers, "rows": rows, "total": total, "page": page, "size": size})


@router.get(BASE + "/top10", role=Role.DEPT_ADMIN)
async def top10(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    at_version, rows = await _table(ctx, activity, "top10")
    if rows is None:
        return json_ok({"computing": True, "version": at_version})
    items = [{"rank": r, "name": n, "count": c} for r, n, c in rows]
    return json_ok({"items": items, "version": at_version})


@router.get("/api/leaderboard/chart/{id}.png", role=None)
async def chart(ctx: RequestContext) -> web.StreamResponse:
    """The closing report's chart: the TOP10 the worker stored when it sent the report (or
    the newest one the console had computed); drawn from the facts only when there is none."""
    activity_id = access.activity_id(ctx)
    if not ctx.deps.signer.verify_mac(
        "lb.chart", str(activity_id), ctx.request.query.get("sig", ""), length=22
    ):
        raise ApiError(403, "链接无效")
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is None:
        raise ApiError(404, "活动不存在或已删除")
    rows = await results.newest(activity, "top10")
    if rows is None:
        rows = await results.top10_of(await counting.recompute(activity))
        await results.keep(activity, "top10", await results.version(activity), rows, ctx.deps.now())
    png = await asyncio.to_thread(top10_png, activity.name, [(n, c) for _, n, c in rows])
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=300"}
    )
