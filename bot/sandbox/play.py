"""The sandbox's own HTTP surface: the /sandbox page, its JSON, and the driver over HTTP."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.crypto import WeComCrypto
from bot.sandbox import api_ways
from bot.sandbox.acquisition import cut_channel
from bot.sandbox.apiutil import CONFIG_KEY, CORP_KEY, corp_of, read_body
from bot.sandbox.driver import SandboxDriver
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import AcquisitionLink, AppMessage, ContactWay

STATIC = Path(__file__).parent / "static"
PLAY_ACTIONS = {
    "customer_adds_staff",
    "customer_scans_contact_way",
    "customer_opens_acquisition_link",
    "staff_deletes_customer",
    "customer_deletes_staff",
    "customer_joins_group",
    "customer_quits_group",
    "create_group",
    "dismiss_group",
    "tag_changed",
    "staff_created",
    "staff_updated",
    "staff_deleted",
    "click_card",
    "send_text",
    "enter_agent",
    "click_menu",
    "open_menu_link",
    "staff_publishes_moment",
    "staff_posts_moment",
    "customer_likes_moment",
    "customer_comments_moment",
}


class DriverHolder:
    """Set once the app starts (the app is frozen by then, so the key holds a mutable box)."""

    driver: SandboxDriver | None = None


DRIVER_KEY = web.AppKey("sandbox_driver", DriverHolder)
COLORS = ["#4e83fd", "#f5a623", "#2bb673", "#e8605a", "#8e6cf0", "#20a9c9"]


def message_json(m: AppMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "msgid": m.msgid,
        "msgtype": m.msgtype,
        "payload": m.payload,
        "card": m.card,
        "replace_name": m.replace_name,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "clicks": m.clicks,
    }


async def inbox(request: web.Request) -> web.StreamResponse:
    corp = corp_of(request)
    staff = corp.get_staff(request.match_info["userid"])
    messages = [message_json(m) for m in corp.inbox(staff.userid)]
    typed = [{"content": t.content, "at": t.at} for t in corp.typed if t.userid == staff.userid]
    return web.json_response(
        {
            "user": {"userid": staff.userid, "name": staff.name},
            "messages": messages,
            "typed": typed,
            "menu": corp.menu,
        }
    )


async def corp_summary(request: web.Request) -> web.StreamResponse:
    corp, config = corp_of(request), request.app[CONFIG_KEY]
    counts: dict[str, int] = {}
    for m in corp.messages:
        counts[m.userid] = counts.get(m.userid, 0) + 1
    staff = [
        {
            "userid": s.userid,
            "name": s.name,
            "position": s.position,
            "avatar": s.avatar,
            "department": s.department,
            "messages": counts.get(s.userid, 0),
        }
        for s in corp.staff.values()
    ]
    customers = [
        {
            "external_userid": c.external_userid,
            "name": c.name,
            "follows": [r.userid for r in corp.follows_of_customer(c.external_userid)],
        }
        for c in corp.customers.values()
    ]
    groups = [
        {
            "chat_id": g.chat_id,
            "name": g.name,
            "owner": g.owner,
            "members": [m.userid for m in g.members],
        }
        for g in corp.groups.values()
    ]
    ways = [
        {"config_id": w.config_id, "state": w.state, "users": w.users}
        for w in corp.contact_ways.values()
    ]
    links = [
        {"link_id": k.link_id, "link_name": k.link_name, "url": k.url, "users": k.users}
        for k in corp.acquisition_links.values()
    ]
    moments = [
        {
            "moment_id": m.moment_id,
            "create_type": m.create_type,
            "creator": m.creator,
            "text": m.text[:80],
            "cancelled": m.cancelled,
            "senders": {u: x.publish_status for u, x in m.senders.items()},
            "visible": {u: x.visible_to[:20] for u, x in m.senders.items()},
            "likes": len(m.likes),
            "comments": len(m.comments),
        }
        for m in corp.moments.values()
        if not m.deleted
    ]
    return web.json_response(
        {
            "moments": moments,
            "corp_id": config.corp_id,
            "agent_id": config.agent_id,
            "staff": staff,
            "customers": customers,
            "groups": groups,
            "contact_ways": ways,
            "acquisition_links": links,
            "acquisition_quota": {
                "total": corp.acquisition_total,
                "balance": corp.acquisition_balance,
            },
            "departments": [vars(d) for d in corp.departments.values()],
            "playable": request.app[DRIVER_KEY].driver is not None,
        }
    )


async def play(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in PLAY_ACTIONS:
        raise web.HTTPNotFound(text=f"没有这个操作：{action}")
    driver = request.app[DRIVER_KEY].driver
    if driver is None:
        raise web.HTTPConflict(text="沙箱没有配置回调地址，无法模拟企业微信回调")
    args = await read_body(request)
    method = getattr(driver, action)
    try:
        inspect.signature(method).bind(**args)
    except TypeError as exc:
        raise web.HTTPBadRequest(text=f"参数不对：{exc}") from None
    try:
        result = await method(**args)
    except aiohttp.ClientError as exc:
        raise web.HTTPBadGateway(text=f"回调地址无法访问：{exc}") from None
    return web.json_response({"status": result.status, "body": result.body, "info": result.info})


async def callback_log(request: web.Request) -> web.StreamResponse:
    driver = request.app[DRIVER_KEY].driver
    entries = driver.log[-50:] if driver else []
    return web.json_response(
        {"log": [{"status": e.status, "xml": e.xml, "info": e.info} for e in entries]}
    )


async def avatar(request: web.Request) -> web.StreamResponse:
    corp, key = corp_of(request), request.match_info["id"]
    person = corp.staff.get(key) or corp.customers.get(key)
    label = escape(person.name[-2:] if person else "?")
    color = COLORS[sum(map(ord, key)) % len(COLORS)]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        f'<rect width="64" height="64" rx="8" fill="{color}"/><text x="32" y="40" '
        f'font-size="20" fill="#fff" text-anchor="middle" font-family="sans-serif">'
        f"{label}</text></svg>"
    )
    return web.Response(text=svg, content_type="image/svg+xml")


async def contact_way_page(request: web.Request) -> web.StreamResponse:
    """Where a scanned QR code leads (WeCom's work.weixin.qq.com/ca/… add link); a 获客链接
    lives under the same path."""
    link = corp_of(request).acquisition_links.get(request.match_info["config_id"])
    if link is not None:
        return _acquisition_page(link, request.query.get("customer_channel", ""))
    try:
        way = corp_of(request).way_by_config_id(request.match_info["config_id"])
    except SandboxError:
        return web.Response(status=404, text="二维码已失效")
    who = "、".join(way.users) if isinstance(way, ContactWay) else "、".join(way.chat_ids)
    html = (
        f'<!doctype html><meta charset="utf-8"><title>联系我二维码</title>'
        f'<link rel="stylesheet" href="/sandbox/static/style.css"><main class="picker">'
        f"<h1>联系我二维码（沙箱）</h1><p>成员或群聊：{escape(who)}</p>"
        f"<p>state：{escape(way.state) or '（无）'}</p>"
        f'<p class="hint">在 <a href="/sandbox">沙箱页面</a> 右侧“扫码添加”即可模拟客户扫码。</p>'
        f"</main>"
    )
    return web.Response(text=html, content_type="text/html")


def _acquisition_page(link: AcquisitionLink, channel: str) -> web.Response:
    html = (
        f'<!doctype html><meta charset="utf-8"><title>获客链接</title>'
        f'<link rel="stylesheet" href="/sandbox/static/style.css"><main class="picker">'
        f"<h1>获客链接（沙箱）：{escape(link.link_name)}</h1>"
        f"<p>成员：{escape('、'.join(link.users) or '（按部门）')}</p>"
        f"<p>customer_channel：{escape(cut_channel(channel)) or '（无）'}</p>"
        f'<p class="hint">在 <a href="/sandbox">沙箱页面</a> 右侧“打开获客链接”即可模拟客户添加。</p>'
        f"</main>"
    )
    return web.Response(text=html, content_type="text/html")


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


def setup(app: web.Application, callback_url: str | None, crypto: WeComCrypto | None) -> None:
    app.router.add_get("/sandbox", index)
    app.router.add_get("/sandbox/", index)
    app.router.add_static("/sandbox/static", STATIC)
    app.router.add_get("/sandbox/api/inbox/{userid}", inbox)
    app.router.add_get("/sandbox/api/corp", corp_summary)
    app.router.add_get("/sandbox/api/callbacks", callback_log)
    app.router.add_post("/sandbox/api/play/{action}", play)
    app.router.add_get("/sandbox/avatar/{id}.svg", avatar)
    app.router.add_get("/sandbox/ca/{config_id}", contact_way_page)
    app.router.add_get("/sandbox/qr/{config_id}.png", api_ways.qr_image)
    app[DRIVER_KEY] = DriverHolder()
    if callback_url and crypto:
        app.cleanup_ctx.append(_driver_ctx(callback_url, crypto))


def _driver_ctx(callback_url: str, crypto: WeComCrypto) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            config = app[CONFIG_KEY]
            holder = app[DRIVER_KEY]
            holder.driver = SandboxDriver(
                app[CORP_KEY], callback_url, crypto, session, config.agent_id
            )
            yield
            holder.driver = None

    return ctx
