"""Directory, identity and utility APIs: user, department, auth/getuserinfo, tickets, media."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.apiutil import api, corp_of, ok
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import Staff

routes = web.RouteTableDef()


def user_json(staff: Staff) -> dict[str, Any]:
    return {
        "userid": staff.userid,
        "name": staff.name,
        "department": staff.department,
        "main_department": staff.department[0] if staff.department else 1,
        "position": staff.position,
        "status": staff.status,
        "avatar": staff.avatar,
    }


@api(routes, "GET", "/cgi-bin/user/get")
async def user_get(request: web.Request) -> dict[str, Any]:
    userid = request.query.get("userid", "")
    if not userid:
        raise SandboxError(40003, "userid is required")
    return ok(**user_json(corp_of(request).get_staff(userid)))


def _members(request: web.Request) -> list[Staff]:
    corp = corp_of(request)
    raw = request.query.get("department_id", "1")
    if not raw.isdigit() or int(raw) not in corp.departments:
        raise SandboxError(60123, f"department {raw!r} not found")
    fetch_child = request.query.get("fetch_child", "0") == "1"
    depts = set(corp.department_tree(int(raw)) if fetch_child else [int(raw)])
    return [s for s in corp.staff.values() if depts & set(s.department)]


@api(routes, "GET", "/cgi-bin/user/list")
async def user_list(request: web.Request) -> dict[str, Any]:
    return ok(userlist=[user_json(s) for s in _members(request)])


@api(routes, "GET", "/cgi-bin/user/simplelist")
async def user_simplelist(request: web.Request) -> dict[str, Any]:
    users = [
        {"userid": s.userid, "name": s.name, "department": s.department} for s in _members(request)
    ]
    return ok(userlist=users)


@api(routes, "GET", "/cgi-bin/department/list")
async def department_list(request: web.Request) -> dict[str, Any]:
    corp = corp_of(request)
    raw = request.query.get("id", "")
    ids = corp.department_tree(int(raw)) if raw.isdigit() else list(corp.departments)
    depts = [vars(corp.departments[i]).copy() for i in ids if i in corp.departments]
    return ok(department=depts)


@api(routes, "GET", "/cgi-bin/auth/getuserinfo")
async def auth_getuserinfo(request: web.Request) -> dict[str, Any]:
    issued = corp_of(request).use_oauth_code(request.query.get("code", ""))
    if issued.userid:
        return ok(userid=issued.userid, user_ticket="ut" + issued.code)
    return ok(openid=issued.openid, external_userid=issued.external_userid)


@api(routes, "GET", "/cgi-bin/get_jsapi_ticket")
async def get_jsapi_ticket(request: web.Request) -> dict[str, Any]:
    return ok(ticket=corp_of(request).issue_ticket("jsapi"), expires_in=7200)


@api(routes, "GET", "/cgi-bin/ticket/get")
async def ticket_get(request: web.Request) -> dict[str, Any]:
    if request.query.get("type") != "agent_config":
        raise SandboxError(40058, "type must be agent_config")
    return ok(ticket=corp_of(request).issue_ticket("agent"), expires_in=7200)


@api(routes, "POST", "/cgi-bin/media/upload")
async def media_upload(request: web.Request) -> dict[str, Any]:
    media_type = request.query.get("type", "")
    if media_type not in ("image", "voice", "video", "file"):
        raise SandboxError(40004, "type must be image, voice, video or file")
    size = 0
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            size += len(await part.read())  # type: ignore[union-attr]
    else:
        size = len(await request.read())
    if size < 5:
        raise SandboxError(40006, "media file is empty")
    media_id = corp_of(request).store_media(media_type, size)
    return ok(type=media_type, media_id=media_id, created_at=str(corp_of(request).now()))
