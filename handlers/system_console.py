"""The core's own API: who am I, JS-SDK signatures, navigation, console roles, dead letters."""

from __future__ import annotations

import logging
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from bot import auth
from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, read_json
from handlers.system_deadletters import DeadLetters
from handlers.system_router import router
from storage.core import ConsoleRole, InboxEvent, InboxStatus
from storage.directory import Department, Staff

log = logging.getLogger(__name__)

AREAS = ("admin", "sidebar", "toolbar", "profile")
INBOX_STATUSES = {
    "dead": InboxStatus.DEAD,
    "failed": InboxStatus.FAILED,
    "pending": InboxStatus.PENDING,
}


def _user(ctx: RequestContext) -> Principal:
    if ctx.user is None:  # the route's role guarantees a user; this keeps the types honest
        raise ApiError(401, "请先登录")
    return ctx.user


@router.get("/api/me", role=Role.STAFF)
async def me(ctx: RequestContext) -> web.StreamResponse:
    user = _user(ctx)
    token, new = auth.csrf_token(ctx.request, ctx.deps.signer)
    response = json_ok(
        {
            "userid": user.userid,
            "name": user.name,
            "role": user.role.name.lower(),
            "role_label": user.role.label,
            "departments": sorted(user.departments),
            "csrf": token,
            "corp_name": ctx.deps.settings.corp.name,
            "tz": ctx.deps.settings.corp.timezone,  # pages show times in the corp's zone
        }
    )
    if new:
        auth.set_csrf_cookie(response, token, ctx.deps.settings)
    return response


async def _ticket(ctx: RequestContext, which: str) -> str:
    try:
        if which == "agent":
            return str(await ctx.deps.wecom.get_agent_ticket())
        return str(await ctx.deps.wecom.get_jsapi_ticket())
    except Exception as exc:  # explain a WeCom failure in words instead of a 500
        explain = getattr(exc, "explain", None)
        reason = explain() if callable(explain) else "企业微信暂时无法访问"
        log.warning("jsapi ticket (%s) failed: %s", which, type(exc).__name__)
        raise ApiError(502, f"获取 JS-SDK 票据失败：{reason}") from None


@router.get("/api/jssdk", role=Role.STAFF)
async def jssdk(ctx: RequestContext) -> web.StreamResponse:
    url = ctx.request.query.get("url", "").split("#", 1)[0]
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise ApiError(400, "参数 url 必须是当前页面的完整网址（http:// 或 https:// 开头）", "url")
    settings = ctx.deps.settings
    timestamp = int(ctx.deps.now().timestamp())
    config = auth.signed_config(await _ticket(ctx, "corp"), url, timestamp)
    agent = auth.signed_config(await _ticket(ctx, "agent"), url, timestamp)
    return json_ok(
        {
            "config": {"appId": settings.wecom.corp_id, **config},
            "agentConfig": {
                "corpid": settings.wecom.corp_id,
                "agentid": settings.wecom.agent_id,
                **agent,
            },
        }
    )


@router.get("/api/nav", role=Role.STAFF)
async def nav(ctx: RequestContext) -> web.StreamResponse:
    area = ctx.request.query.get("area", "")
    if area not in AREAS:
        raise ApiError(400, "参数 area 只能是 admin、sidebar、toolbar 或 profile", "area")
    entries = ctx.deps.dispatcher.pages(area, _user(ctx).role)
    items = [{"title": p.title, "path": p.path, "order": p.order} for p in entries]
    return json_ok({"area": area, "entries": items})


# --- console roles (super admin) -------------------------------------------------------------


class RoleGrant(BaseModel):
    userid: str = Field(min_length=1, max_length=64, title="成员账号")
    role: Literal["admin", "dept_admin"] = Field(title="角色")
    departments: list[int] = Field(default_factory=list, max_length=500, title="管理部门")


def _grant_json(
    row: ConsoleRole, names: dict[str, str], depts: dict[int, str] | None = None
) -> dict[str, Any]:
    role = auth.CONSOLE_ROLES.get(row.role, Role.STAFF)
    departments = list(row.departments or [])
    return {
        "userid": row.userid,
        "name": names.get(row.userid, row.userid),
        "role": row.role,
        "role_label": role.label,
        "departments": departments,
        "department_names": [(depts or {}).get(int(d), str(d)) for d in departments],
        "granted_by": row.granted_by,
        "granted_at": row.granted_at,
    }


@router.get("/api/system/roles", role=Role.SUPER_ADMIN)
async def list_roles(ctx: RequestContext) -> web.StreamResponse:
    rows = await ConsoleRole.all().order_by("userid")
    ids = [r.userid for r in rows] + list(ctx.deps.settings.security.super_admins)
    names = dict(await Staff.filter(userid__in=ids).values_list("userid", "name"))
    supers = [
        {"userid": u, "name": names.get(u, u)} for u in ctx.deps.settings.security.super_admins
    ]
    depts = {int(k): str(v) for k, v in await Department.all().values_list("id", "name")}
    items = [_grant_json(r, names, depts) for r in rows]
    return json_ok({"items": items, "super_admins": supers})


@router.post("/api/system/roles", role=Role.SUPER_ADMIN)
async def grant_role(ctx: RequestContext) -> web.StreamResponse:
    body = await read_json(ctx.request, RoleGrant)
    if body.userid in ctx.deps.settings.security.super_admins:
        raise ApiError(400, "该成员已是超级管理员（在配置文件中设置），无需授权", "userid")
    staff = await Staff.get_or_none(userid=body.userid)
    if staff is None:
        raise ApiError(400, "找不到该成员，请确认成员账号或先同步通讯录", "userid")
    if body.role == "dept_admin" and not body.departments:
        raise ApiError(400, "部门管理员至少要选择一个管理部门", "departments")
    departments = sorted(set(body.departments)) if body.role == "dept_admin" else []
    row = await ConsoleRole.get_or_none(userid=body.userid)
    if row is None:
        row = ConsoleRole(userid=body.userid)
    row.role, row.departments, row.granted_by = body.role, departments, _user(ctx).userid
    await row.save()
    log.info("console role %s granted", body.role)
    return json_ok(_grant_json(row, {staff.userid: staff.name}))


@router.route("DELETE", "/api/system/roles", role=Role.SUPER_ADMIN)
async def revoke_role(ctx: RequestContext) -> web.StreamResponse:
    userid = ctx.request.query.get("userid", "")
    deleted = await ConsoleRole.filter(userid=userid).delete() if userid else 0
    if not deleted:
        raise ApiError(404, "该成员没有后台角色", "userid")
    return json_ok({"ok": True})


# --- dead letters (admin) ----------------------------------------------------------------------


def _inbox_json(row: InboxEvent) -> dict[str, Any]:
    # Never the XML: customer payloads stay on the server.
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status.value,
        "received_at": row.received_at,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": (row.last_error or "")[:500],
    }


INBOX = DeadLetters(
    InboxEvent, INBOX_STATUSES, InboxStatus.PENDING, InboxStatus.DONE,
    "process_inbox", "inbox", _inbox_json, "回调事件",
)  # fmt: skip
router.get("/api/system/inbox", role=Role.ADMIN)(INBOX.list)
router.post(r"/api/system/inbox/{id:\d+}/retry", role=Role.ADMIN)(INBOX.retry)
