"""The app's custom menu: menu/create, menu/get, menu/delete with WeCom's limits.

1-3 top-level buttons, 1-5 sub-buttons each; names ≤ 16 bytes (sub-buttons ≤ 40 bytes);
click keys ≤ 128 bytes; view URLs ≤ 1,024 bytes. Error codes as WeCom's menu API answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.apiutil import CONFIG_KEY, api, corp_of, ok, read_body
from bot.sandbox.errors import SandboxError

routes = web.RouteTableDef()
TYPES = {
    "click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
    "pic_photo_or_album", "pic_weixin", "location_select", "view_miniprogram",
}  # fmt: skip
# (top-level button, sub-button) error codes per rule
SIZE = (40016, 40023)
TYPE = (40017, 40024)
NAME = (40018, 40025)
KEY = (40019, 40026)
URL = (40055, 40054)


def _check_agent(request: web.Request) -> None:
    if request.query.get("agentid") != str(request.app[CONFIG_KEY].agent_id):
        raise SandboxError(40056, f"agentid {request.query.get('agentid')!r}")


def _check_button(button: Any, sub: bool) -> None:
    i = int(sub)
    if not isinstance(button, dict):
        raise SandboxError(47001, "button must be an object")
    name = str(button.get("name", ""))
    if not name or len(name.encode()) > (40 if sub else 16):
        raise SandboxError(NAME[i], f"name {name!r}")
    if not sub and "sub_button" in button:
        subs = button["sub_button"]
        if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
            raise SandboxError(SIZE[1], "1 to 5 sub_button")
        for child in subs:
            _check_button(child, True)
        return
    kind = button.get("type")
    if kind not in TYPES:
        raise SandboxError(TYPE[i], f"type {kind!r}")
    if kind == "click" and not 0 < len(str(button.get("key", "")).encode()) <= 128:
        raise SandboxError(KEY[i], "key: 1 to 128 bytes")
    if kind == "view" and not 0 < len(str(button.get("url", "")).encode()) <= 1024:
        raise SandboxError(URL[i], "url: 1 to 1024 bytes")


@api(routes, "POST", "/cgi-bin/menu/create")
async def menu_create(request: web.Request) -> dict[str, Any]:
    _check_agent(request)
    body = await read_body(request)
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise SandboxError(SIZE[0], "1 to 3 buttons")
    for button in buttons:
        _check_button(button, False)
    corp_of(request).menu = {"button": buttons}
    return ok()


@api(routes, "GET", "/cgi-bin/menu/get")
async def menu_get(request: web.Request) -> dict[str, Any]:
    _check_agent(request)
    menu = corp_of(request).menu
    if menu is None:
        raise SandboxError(46003, "menu no exist")
    return ok(**menu)


@api(routes, "GET", "/cgi-bin/menu/delete")
async def menu_delete(request: web.Request) -> dict[str, Any]:
    _check_agent(request)
    corp_of(request).menu = None
    return ok()
