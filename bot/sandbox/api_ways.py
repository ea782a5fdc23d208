"""Contact way and group join way APIs (externalcontact/*_contact_way, groupchat/*_join_way),
and the QR images their `qr_code` URLs point to."""

from __future__ import annotations

import io
from typing import Any

import qrcode
from aiohttp import web

from bot.sandbox.apiutil import api, corp_of, int_field, ok, read_body, str_list
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import ContactWay, JoinWay
from bot.sandbox.ways import BAD_PARAMETER, add_url

routes = web.RouteTableDef()
P = "/cgi-bin/externalcontact"


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def contact_way_json(way: ContactWay) -> dict[str, Any]:
    return {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "style": way.style,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "qr_code": way.qr_code,
        "user": way.users,
        "party": way.parties,
    }


@api(routes, "POST", f"{P}/add_contact_way")
async def add_contact_way(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    way_type, scene = int_field(body, "type", 0), int_field(body, "scene", 0)
    users = str_list(body, "user")
    if way_type not in (1, 2) or scene not in (1, 2) or not users:
        raise SandboxError(BAD_PARAMETER, "type (1|2), scene (1|2) and user[] are required")
    if way_type == 1 and len(users) != 1:
        raise SandboxError(BAD_PARAMETER, "a single-person contact way (type 1) takes one user")
    way = corp_of(request).add_contact_way(
        type=way_type,
        scene=scene,
        state=str(body.get("state", "")),
        users=users,
        base_url=_base(request),
        remark=str(body.get("remark", "")),
        skip_verify=bool(body.get("skip_verify", True)),
        style=int_field(body, "style", 1),
    )
    return ok(config_id=way.config_id, qr_code=way.qr_code if scene == 2 else "")


@api(routes, "POST", f"{P}/get_contact_way")
async def get_contact_way(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    way = corp_of(request).get_contact_way(str(body.get("config_id", "")))
    return ok(contact_way=contact_way_json(way))


@api(routes, "POST", f"{P}/update_contact_way")
async def update_contact_way(request: web.Request) -> dict[str, Any]:
    """Like WeCom: the way keeps its config_id and QR code; a single-person way takes one user."""
    body, corp = await read_body(request), corp_of(request)
    way = corp.get_contact_way(str(body.get("config_id", "")))
    if "user" in body:
        users = str_list(body, "user")
        if not users or (way.type == 1 and len(users) != 1):
            raise SandboxError(BAD_PARAMETER, "user[]: one user for a single-person way (type 1)")
        for userid in users:
            corp.get_staff(userid)
        way.users = users
    if "state" in body:
        state = str(body.get("state", ""))
        if len(state) > 30:
            raise SandboxError(BAD_PARAMETER, "state: at most 30 characters")
        way.state = state
    if "remark" in body:
        way.remark = str(body.get("remark", ""))
    return ok()


@api(routes, "POST", f"{P}/del_contact_way")
async def del_contact_way(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    way = corp.get_contact_way(str(body.get("config_id", "")))
    del corp.contact_ways[way.config_id]
    return ok()


def join_way_json(way: JoinWay) -> dict[str, Any]:
    return {
        "config_id": way.config_id,
        "scene": way.scene,
        "remark": way.remark,
        "auto_create_room": 0,
        "state": way.state,
        "chat_id_list": way.chat_ids,
        "qr_code": way.qr_code,
    }


@api(routes, "POST", f"{P}/groupchat/add_join_way")
async def add_join_way(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    way = corp_of(request).add_join_way(
        scene=int_field(body, "scene", 0),
        chat_ids=str_list(body, "chat_id_list"),
        state=str(body.get("state", "")),
        base_url=_base(request),
        remark=str(body.get("remark", "")),
    )
    return ok(config_id=way.config_id)  # WeCom answers the QR only through get_join_way


@api(routes, "POST", f"{P}/groupchat/get_join_way")
async def get_join_way(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    way = corp_of(request).get_join_way(str(body.get("config_id", "")))
    return ok(join_way=join_way_json(way))


@api(routes, "POST", f"{P}/groupchat/del_join_way")
async def del_join_way(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    way = corp.get_join_way(str(body.get("config_id", "")))
    del corp.join_ways[way.config_id]
    return ok()


async def qr_image(request: web.Request) -> web.StreamResponse:
    """The PNG behind a way's `qr_code`: a QR code of its add link, as WeCom serves one."""
    config_id = request.match_info["config_id"]
    try:
        corp_of(request).way_by_config_id(config_id)
    except SandboxError:
        return web.Response(status=404)
    buf = io.BytesIO()
    qrcode.make(add_url(_base(request), config_id), box_size=8, border=2).save(buf)
    return web.Response(body=buf.getvalue(), content_type="image/png")
