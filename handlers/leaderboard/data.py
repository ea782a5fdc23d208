"""Console data pages: TOP10, tables by member / date / customer (each also as .xlsx), and the
TOP10 chart PNG for the closing report card (signed URL, no login: WeCom fetches it)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok, xlsx_response
from handlers.leaderboard import access, counting, router
from handlers.leaderboard.chart import top10_png
from handlers.leaderboard.notify import names_of
from storage.facts import Customer, FollowEvent, FollowRelation
from storage.leaderboard import Activity, Metric

BASE = "/api/leaderboard/activities/{id}/data"
MEMBER_HEADERS = ["排名", "成员", "总客户数", "邀请客户数", "流失客户数", "净增客户数"]
DATE_HEADERS = ["日期", "数量"]
CUSTOMER_HEADERS = ["客户", "添加成员", "添加时间", "状态", "是否计入", "说明"]


async def member_rows(activity: Activity) -> list[list[Any]]:
    ranking = await counting.recompute(activity)
    uids = [r.userid for r in ranking]
    names = await names_of(uids)
    total: Counter[str] = Counter(
        str(u)
        for u in await FollowRelation.filter(userid__in=uids, active=True).values_list(
            "userid", flat=True
        )
    )
    invited = await _customers_by_staff(activity, uids, "add")
    lost = await _customers_by_staff(activity, uids, "end")
    rows = []
    for r in ranking:
        mine, gone = invited[r.userid], lost[r.userid]
        rows.append(
            [r.rank, names[r.userid], total[r.userid], len(mine), len(gone), len(mine - gone)]
        )
    return rows


async def _customers_by_staff(
    activity: Activity, uids: list[str], kind: str
) -> defaultdict[str, set[str]]:
    """Per staff member, the customers with a `kind` event inside the window."""
    found = await FollowEvent.filter(
        kind=kind, at__gte=activity.start_at, at__lt=activity.end_at, userid__in=uids
    ).values_list("userid", "external_userid")
    out: defaultdict[str, set[str]] = defaultdict(set)
    for userid, ext in found:
        out[userid].add(ext)
    return out


async def date_rows(ctx: RequestContext, activity: Activity) -> list[list[Any]]:
    facts = await counting.credited_facts(activity)
    tz = ctx.deps.settings.tz
    per_day = Counter(f[2].astimezone(tz).date().isoformat() for f in facts if f[2])
    return [[day, per_day[day]] for day in sorted(per_day)]


async def customer_rows(activity: Activity) -> list[list[Any]]:
    credited = {(f[0], f[1], f[2]) for f in await counting.credited_facts(activity)}
    uids = await counting.participant_ids(activity.id)
    names = await names_of(uids)
    if activity.metric == Metric.GROUP_JOINS:
        return [[c, names.get(u, u), at, "已入群", True, "计入"] for u, c, at in sorted(credited)]
    adds = await FollowEvent.filter(
        kind="add", userid__in=uids, at__gte=activity.start_at, at__lt=activity.end_at
    ).order_by("at", "id")
    ids = list({a.external_userid for a in adds})
    cust = {c.external_userid: c for c in await Customer.filter(external_userid__in=ids)}
    active = set(
        await FollowRelation.filter(external_userid__in=ids, active=True).values_list(
            "userid", "external_userid"
        )
    )
    reasons = await _why_not(
        [a for a in adds if (a.userid, a.external_userid, a.at) not in credited], cust
    )
    rows = []
    for add in adds:
        counted = add.id not in reasons
        status = "仍是客户" if (add.userid, add.external_userid) in active else "已流失"
        label = cust[add.external_userid].name if add.external_userid in cust else ""
        rows.append(
            [
                label or add.external_userid,
                names.get(add.userid, add.userid),
                add.at,
                status,
                counted,
                reasons.get(add.id, "计入"),
            ]
        )
    return rows


async def _why_not(skipped: list[FollowEvent], cust: dict[str, Customer]) -> dict[int, str]:
    """Why each add did not count, by FollowEvent id: who had added the customer first."""
    if not skipped:
        return {}
    found = (
        await FollowEvent.filter(
            external_userid__in={a.external_userid for a in skipped}, kind="add"
        )
        .order_by("at", "id")
        .values_list("external_userid", "userid", "at")
    )
    adders: defaultdict[str, list[tuple[str, Any]]] = defaultdict(list)
    for ext, userid, at in found:
        adders[ext].append((userid, at))
    firsts: dict[int, str] = {}
    for add in skipped:
        earlier = adders[add.external_userid]
        by = next((u for u, at in earlier if u != add.userid and at < add.at), "")
        customer = cust.get(add.external_userid)
        if not by and customer and customer.first_added_by not in ("", add.userid):
            by = customer.first_added_by
        firsts[add.id] = by
    names = await names_of([by for by in firsts.values() if by])
    return {
        fid: f"重复：首次由 {names[by]} 添加" if by else "重复：该成员已添加过此客户"
        for fid, by in firsts.items()
    }


def _wants_xlsx(ctx: RequestContext) -> bool:
    fmt = ctx.request.query.get("format", "json")
    if fmt not in ("json", "xlsx"):
        raise ApiError(400, "参数 format 只能是 json 或 xlsx", "format")
    return fmt == "xlsx"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "计入" if value else "不计入"
    return str(value)


def _answer(ctx: RequestContext, name: str, headers: list[str], rows: list[list[Any]]) -> Any:
    keyword = ctx.request.query.get("q", "").strip()
    if keyword:  # the export holds what the filtered table shows
        rows = [r for r in rows if any(keyword in _text(v) for v in r)]
    if _wants_xlsx(ctx):
        return xlsx_response(name, headers, rows, ctx.deps.settings.tz)
    return json_ok({"headers": headers, "rows": rows, "total": len(rows)})


@router.get(BASE + "/members", role=Role.DEPT_ADMIN)
async def by_member(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    return _answer(
        ctx, f"拉新排行榜-成员-{activity.id}.xlsx", MEMBER_HEADERS, await member_rows(activity)
    )  # type: ignore[no-any-return]


@router.get(BASE + "/dates", role=Role.DEPT_ADMIN)
async def by_date(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    return _answer(
        ctx, f"拉新排行榜-日期-{activity.id}.xlsx", DATE_HEADERS, await date_rows(ctx, activity)
    )  # type: ignore[no-any-return]


@router.get(BASE + "/customers", role=Role.DEPT_ADMIN)
async def by_customer(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    return _answer(
        ctx, f"拉新排行榜-客户-{activity.id}.xlsx", CUSTOMER_HEADERS, await customer_rows(activity)
    )  # type: ignore[no-any-return]


@router.get(BASE + "/top10", role=Role.DEPT_ADMIN)
async def top10(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    rows = (await counting.recompute(activity))[:10]
    names = await names_of([r.userid for r in rows])
    return json_ok(
        {"items": [{"rank": r.rank, "name": names[r.userid], "count": r.count} for r in rows]}
    )


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
    rows = (await counting.recompute(activity))[:10]
    names = await names_of([r.userid for r in rows])
    png = top10_png(activity.name, [(names[r.userid], r.count) for r in rows])
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=300"}
    )
