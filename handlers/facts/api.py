"""HTTP API of the facts: the sidebar profile, the console customer list and its export, and
the pickers other features use (staff, tags, groups)."""

from __future__ import annotations

from typing import Any

import pydantic
from aiohttp import web

from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, page_params, read_json, scope_userids
from handlers.facts.router import router
from handlers.facts.store import mark_tags
from storage.directory import Staff
from storage.facts import (
    CorpTag,
    CorpTagGroup,
    Customer,
    CustomerGroup,
    FollowRelation,
    FollowTag,
    GroupMember,
    TimelineEntry,
)

router.page("sidebar", "客户画像", "/static/facts/profile.js", order=10)
router.page("admin", "客户管理", "/static/facts/admin.js", role=Role.DEPT_ADMIN, order=10)


def _user(ctx: RequestContext) -> Principal:
    if ctx.user is None:
        raise ApiError(401, "请先登录")
    return ctx.user


async def _readable(ctx: RequestContext) -> Customer:
    """The customer, if this person follows them now, or (admins) someone in their scope
    follows or followed them."""
    user = _user(ctx)
    ext = ctx.request.match_info.get("external_userid", "")
    customer = await Customer.get_or_none(external_userid=ext)
    if customer is None:
        raise ApiError(404, "客户不存在或尚未同步")
    relations = FollowRelation.filter(external_userid=ext)
    if user.role < Role.DEPT_ADMIN:  # staff read the customers they follow now, not former ones
        relations = relations.filter(active=True)
    followers = set(await relations.values_list("userid", flat=True))
    scope = await scope_userids(user) if user.role >= Role.DEPT_ADMIN else {user.userid}
    if scope is not None and not followers & scope:
        raise ApiError(403, "没有权限查看该客户：只能查看自己添加的客户")
    return customer


async def _names(userids: set[str]) -> dict[str, str]:
    return dict(await Staff.filter(userid__in=userids).values_list("userid", "name"))


@router.get("/api/facts/customers/{external_userid}", role=Role.STAFF)
async def customer_view(ctx: RequestContext) -> web.StreamResponse:
    customer = await _readable(ctx)
    ext = customer.external_userid
    relations = await FollowRelation.filter(external_userid=ext).order_by("added_at")
    names = await _names({r.userid for r in relations})
    tag_rows = await FollowTag.filter(external_userid=ext).values_list("userid", "tag_id")
    tags = dict(
        await CorpTag.filter(tag_id__in={t for _, t in tag_rows}).values_list("tag_id", "name")
    )
    members = await GroupMember.filter(member_id=ext)
    groups = dict(
        await CustomerGroup.filter(chat_id__in={m.chat_id for m in members}).values_list(
            "chat_id", "name"
        )
    )
    return json_ok(
        {
            "customer": _customer_json(customer),
            "follows": [
                {
                    "userid": r.userid,
                    "name": names.get(r.userid, r.userid),
                    "added_at": r.added_at,
                    "add_way": r.add_way,
                    "state": r.state,
                    "remark": r.remark,
                    "active": r.active,
                    "ended_at": r.ended_at,
                    "end_reason": r.end_reason,
                    "tags": [
                        {"tag_id": t, "name": tags.get(t, t)} for u, t in tag_rows if u == r.userid
                    ],
                    "mine": ctx.user is not None and r.userid == ctx.user.userid,
                }
                for r in relations
            ],
            "groups": [
                {"chat_id": m.chat_id, "name": groups.get(m.chat_id, ""), "join_time": m.join_time}
                for m in members
            ],
        }
    )


def _customer_json(c: Customer) -> dict[str, Any]:
    return {
        "external_userid": c.external_userid,
        "name": c.name,
        "avatar": c.avatar,
        "type": c.type,
        "gender": c.gender,
        "corp_name": c.corp_name,
        "first_added_at": c.first_added_at,
        "first_added_by": c.first_added_by,
    }


@router.get("/api/facts/customers/{external_userid}/timeline", role=Role.STAFF)
async def timeline_view(ctx: RequestContext) -> web.StreamResponse:
    customer = await _readable(ctx)
    page, size = page_params(ctx.request)
    query = TimelineEntry.filter(external_userid=customer.external_userid)
    total = await query.count()
    rows = await query.order_by("-at", "-id").offset((page - 1) * size).limit(size)
    items = [
        {"kind": r.kind, "feature": r.feature, "text": r.text, "userid": r.userid, "at": r.at}
        for r in rows
    ]
    return json_ok({"items": items, "total": total, "page": page, "size": size})


class TagChange(pydantic.BaseModel):
    add: list[str] = pydantic.Field(default_factory=list, max_length=50, title="添加的标签")
    remove: list[str] = pydantic.Field(default_factory=list, max_length=50, title="移除的标签")


@router.post("/api/facts/customers/{external_userid}/tags", role=Role.STAFF)
async def tags_edit(ctx: RequestContext) -> web.StreamResponse:
    user = _user(ctx)
    ext = ctx.request.match_info.get("external_userid", "")
    body = await read_json(ctx.request, TagChange)
    if not await FollowRelation.exists(userid=user.userid, external_userid=ext, active=True):
        raise ApiError(403, "只能修改自己添加的客户的标签")
    wanted = set(body.add) | set(body.remove)
    known = set(
        await CorpTag.filter(tag_id__in=wanted, deleted=False).values_list("tag_id", flat=True)
    )
    if unknown := wanted - known:
        raise ApiError(400, f"标签不存在或已删除：{'、'.join(sorted(unknown))}", "add")
    await mark_tags(
        ctx.deps,
        userid=user.userid,
        external_userid=ext,
        add=body.add,
        remove=body.remove,
        by=user.userid,
    )
    tags = await FollowTag.filter(userid=user.userid, external_userid=ext).values_list(
        "tag_id", flat=True
    )
    return json_ok({"tags": sorted(tags)})


@router.get("/api/facts/staff", role=Role.STAFF)
async def staff_view(ctx: RequestContext) -> web.StreamResponse:
    scope = await scope_userids(_user(ctx))
    query = Staff.filter(status=1)
    if scope is not None:
        query = query.filter(userid__in=scope)
    rows = await query.order_by("name").values("userid", "name", "departments", "avatar")
    return json_ok({"items": rows})


@router.get("/api/facts/tags", role=Role.STAFF)
async def tags_view(ctx: RequestContext) -> web.StreamResponse:
    groups = await CorpTagGroup.filter(deleted=False).order_by("-order", "name")
    tags = await CorpTag.filter(deleted=False).order_by("-order", "name")
    return json_ok(
        {
            "groups": [
                {
                    "group_id": g.group_id,
                    "name": g.name,
                    "tags": [
                        {"tag_id": t.tag_id, "name": t.name}
                        for t in tags
                        if t.group_id == g.group_id
                    ],
                }
                for g in groups
            ]
        }
    )


@router.get("/api/facts/groups", role=Role.STAFF)
async def groups_view(ctx: RequestContext) -> web.StreamResponse:
    scope = await scope_userids(_user(ctx))
    query = CustomerGroup.filter(status="active")
    if scope is not None:
        query = query.filter(owner__in=scope)
    rows = await query.order_by("name").values("chat_id", "name", "owner", "created_at")
    return json_ok({"items": rows})
