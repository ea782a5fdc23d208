"""The console's customer list (one row per follow relation) and its Excel export."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, timedelta
from typing import Any

from aiohttp import web
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from bot.auth_types import Role
from bot.http import (
    ApiError,
    RequestContext,
    day_param,
    int_param,
    json_ok,
    page_params,
    scope_userids,
    text_param,
    xlsx_response,
)
from handlers.facts.api import _user
from handlers.facts.router import router
from storage.directory import Staff
from storage.facts import CorpTag, Customer, FollowRelation, FollowTag

COLUMNS = [
    "客户",
    "客户类型",
    "跟进员工",
    "添加时间",
    "添加方式",
    "渠道(state)",
    "备注",
    "标签",
    "状态",
]
TYPE_ZH = {1: "微信用户", 2: "企业微信用户"}
# WeCom's follow_user.add_way codes, in the words its own client uses.
ADD_WAYS = {
    0: "未知来源",
    1: "扫描二维码",
    2: "搜索手机号",
    3: "名片分享",
    4: "群聊",
    5: "手机通讯录",
    6: "微信联系人",
    8: "安装第三方应用时自动添加的客服人员",
    9: "搜索邮箱",
    10: "视频号添加",
    11: "通过日程参与人添加",
    12: "通过会议参与者添加",
    13: "添加微信好友对应的企业微信",
    14: "通过智慧硬件专属客服添加",
    15: "通过上门服务客服添加",
    16: "通过获客链接添加",
    17: "通过定制开发添加",
    18: "通过需求回复添加",
    201: "内部成员共享",
    202: "管理员/负责人分配",
}
EXPORT_LIMIT = 50_000
MAX_ADD_WAY = 100_000  # WeCom's add_way codes are small; a bigger number is a typo


def add_way_text(code: int) -> str:
    return ADD_WAYS.get(code, f"其他方式（{code}）")


async def _query(ctx: RequestContext) -> QuerySet[FollowRelation]:
    q = ctx.request.query
    tz = ctx.deps.settings.tz
    query = FollowRelation.all()
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(userid__in=scope)
    if staff := text_param(ctx.request, "staff", "跟进员工"):
        query = query.filter(userid=staff)
    if keyword := text_param(ctx.request, "q", "搜索"):
        named = Customer.filter(name__icontains=keyword).values("external_userid")
        query = query.filter(
            Q(external_userid__in=Subquery(named))
            | Q(remark__icontains=keyword)
            | Q(external_userid=keyword)
        )
    if tag := text_param(ctx.request, "tag", "标签"):
        tagged = FollowTag.filter(tag_id=tag).values_list("external_userid", flat=True)
        query = query.filter(external_userid__in=set(await tagged))
    for name, op in (("added_from", "gte"), ("added_to", "lt")):
        day = day_param(ctx.request, name, tz)
        if day is not None:
            day = day + timedelta(days=1) if op == "lt" and len(q[name]) <= 10 else day
            query = query.filter(**{f"added_at__{op}": day.astimezone(UTC)})  # SQLite: text
    if q.get("add_way"):
        query = query.filter(add_way=int_param(ctx.request, "add_way", 0, 0, MAX_ADD_WAY))
    if state := text_param(ctx.request, "state", "渠道 state"):
        query = query.filter(state=state)
    status = q.get("status", "")
    if status not in ("", "active", "lost"):
        raise ApiError(400, "参数 status 只能是 active 或 lost", "status")
    if status:
        query = query.filter(active=status == "active")
    return query.order_by("-added_at", "-id")


async def _rows(relations: list[FollowRelation]) -> list[dict[str, Any]]:
    exts = {r.external_userid for r in relations}
    customers = {c.external_userid: c for c in await Customer.filter(external_userid__in=exts)}
    staff = dict(
        await Staff.filter(userid__in={r.userid for r in relations}).values_list("userid", "name")
    )
    tag_rows = await FollowTag.filter(external_userid__in=exts).values_list(
        "userid", "external_userid", "tag_id"
    )
    names = dict(
        await CorpTag.filter(tag_id__in={t for *_, t in tag_rows}).values_list("tag_id", "name")
    )
    tags: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for userid, ext, tag_id in tag_rows:
        tags[(userid, ext)].append(names.get(tag_id, tag_id))
    out = []
    for r in relations:
        c = customers.get(r.external_userid)
        out.append(
            {
                "external_userid": r.external_userid,
                "name": c.name if c else r.external_userid,
                "type": TYPE_ZH.get(c.type if c else 1, ""),
                "userid": r.userid,
                "staff": staff.get(r.userid, r.userid),
                "added_at": r.added_at,
                "add_way": r.add_way,
                "add_way_text": add_way_text(r.add_way),
                "state": r.state,
                "remark": r.remark,
                "tags": tags[(r.userid, r.external_userid)],
                "status": "已流失" if not r.active else "跟进中",
            }
        )
    return out


def _cells(row: dict[str, Any]) -> list[Any]:
    return [
        row["name"],
        row["type"],
        row["staff"],
        row["added_at"],
        row["add_way_text"],
        row["state"],
        row["remark"],
        row["tags"],
        row["status"],
    ]


@router.get("/api/facts/customer-filters", role=Role.DEPT_ADMIN)
async def customer_filters(ctx: RequestContext) -> web.StreamResponse:
    """The add ways in words for the list's filter (staff and tags use the shared pickers)."""
    return json_ok({"add_ways": [{"value": k, "label": v} for k, v in ADD_WAYS.items()]})


@router.get("/api/facts/customers", role=Role.DEPT_ADMIN)
async def customers_view(ctx: RequestContext) -> web.StreamResponse:
    page, size = page_params(ctx.request)
    query = await _query(ctx)
    total = await query.count()
    rows = await _rows(await query.offset((page - 1) * size).limit(size))
    return json_ok({"columns": COLUMNS, "items": rows, "total": total, "page": page, "size": size})


@router.get("/api/facts/customers.xlsx", role=Role.DEPT_ADMIN)
async def customers_export(ctx: RequestContext) -> web.StreamResponse:
    query = await _query(ctx)
    if await query.count() > EXPORT_LIMIT:
        raise ApiError(400, f"导出数量超过 {EXPORT_LIMIT} 条，请缩小筛选范围")
    rows = await _rows(await query)
    stamp = ctx.deps.local_now().strftime("%Y%m%d")
    return xlsx_response(
        f"客户列表-{stamp}.xlsx", COLUMNS, [_cells(r) for r in rows], ctx.deps.settings.tz
    )
