"""Console data pages: TOP10, tables by member / date / customer (each also as .xlsx), and the
TOP10 chart PNG for the closing report card (signed URL, no login: WeCom fetches it)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, page_params, xlsx_response
from bot.xlsx_stream import xlsx_stream
from handlers.leaderboard import access, counting, report, report_customers, sql
from handlers.leaderboard.chart import top10_png
from handlers.leaderboard.notify import names_of
from handlers.leaderboard.router import router
from storage.leaderboard import Activity, Metric

BASE = "/api/leaderboard/activities/{id}/data"
CACHE_SECONDS = 120


async def _version(activity: Activity) -> str:
    """Changes whenever a fact, a participant or a setting that feeds the tables changes."""
    found = await sql.fetch(
        "SELECT (SELECT MAX(id) FROM follow_event), (SELECT MAX(id) FROM group_membership_event),"
        " (SELECT COUNT(*) FROM follow_relation WHERE active = ?),"
        " (SELECT COUNT(*) FROM lb_participant WHERE activity_id = ?),"
        " (SELECT MAX(id) FROM lb_participant WHERE activity_id = ?)",
        [True, activity.id, activity.id],
    )
    settings = (
        activity.metric,
        activity.dedup,
        activity.start_at,
        activity.end_at,
        activity.chat_ids,
        activity.top_n,
    )
    return hashlib.sha1(repr((found[0], settings)).encode()).hexdigest()[:16]


async def cached(
    ctx: RequestContext, activity: Activity, kind: str, build: Callable[[], Awaitable[Any]]
) -> Any:
    """A report computed once per data version (Redis may lose it: it is only a cache)."""
    key = f"lb:{activity.id}:data:{kind}:{await _version(activity)}"
    hit = await ctx.deps.redis.get(key)
    if hit is not None:
        return json.loads(hit)
    value = await build()
    await ctx.deps.redis.set(key, json.dumps(value, default=str), ex=CACHE_SECONDS)
    return value


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
    ctx: RequestContext, name: str, headers: list[str], rows: list[list[Any]], activity: Activity
) -> Any:
    keyword = ctx.request.query.get("q", "").strip()
    if keyword:  # the export holds what the filtered table shows
        rows = [r for r in rows if any(keyword in _text(v) for v in r)]
    if _wants_xlsx(ctx):
        return xlsx_response(name, headers, rows, ctx.deps.settings.tz)
    definitions = report.DEFINITIONS[Metric(activity.metric)]
    return json_ok(
        {"headers": headers, "rows": rows, "total": len(rows), "definitions": definitions}
    )


@router.get(BASE + "/members", role=Role.DEPT_ADMIN)
async def by_member(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    rows = await cached(ctx, activity, "members", lambda: report.member_rows(activity))
    name = f"拉新排行榜-成员-{activity.id}.xlsx"
    return _answer(ctx, name, report.member_headers(activity), rows, activity)  # type: ignore[no-any-return]


@router.get(BASE + "/dates", role=Role.DEPT_ADMIN)
async def by_date(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    tz = ctx.deps.settings.tz
    headers = report.date_headers(activity)
    rows = await cached(ctx, activity, "dates", lambda: report.date_rows(activity, tz))
    rows = report.fill_days(rows, report.window_days(activity, tz, ctx.deps.now()), len(headers))
    name = f"拉新排行榜-日期-{activity.id}.xlsx"
    return _answer(ctx, name, headers, rows, activity)  # type: ignore[no-any-return]


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


async def top10_rows(ctx: RequestContext, activity: Activity) -> list[list[Any]]:
    async def build() -> list[list[Any]]:
        rows = (await counting.recompute(activity))[:10]
        names = await names_of([r.userid for r in rows])
        return [[r.rank, names[r.userid], r.count] for r in rows]

    return await cached(ctx, activity, "top10", build)  # type: ignore[no-any-return]


@router.get(BASE + "/top10", role=Role.DEPT_ADMIN)
async def top10(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    rows = await top10_rows(ctx, activity)
    return json_ok({"items": [{"rank": r, "name": n, "count": c} for r, n, c in rows]})


@router.get("/api/leaderboard/chart/{id}.png", role=None)
async def chart(ctx: RequestContext) -> web.StreamResponse:
    activity_id = access.activity_id(ctx)
    if not ctx.deps.signer.verify_mac(
        "lb.chart", str(activity_id), ctx.request.query.get("sig", ""), length=22
    ):
        raise ApiError(403, "链接无效")
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is None:
        raise ApiError(404, "活动不存在或已删除")
    rows = await top10_rows(ctx, activity)
    png = await asyncio.to_thread(top10_png, activity.name, [(n, c) for _, n, c in rows])
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=300"}
    )
