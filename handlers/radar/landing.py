"""The public landing link `/r/<token>` a customer opens, its files, and its heartbeats.

Tokens are checked with their MAC before any database lookup, so random or forged tokens
cost nothing and answer the same 404 page. Nothing here reveals another visitor's data."""

from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from bot import contact_ways, visitor_oauth, visitors
from bot.contact_ways import ContactWayError
from bot.http import RequestContext
from bot.visitors import PersonalLink
from bot.wecom_errors import WeComError
from cards.radar import render_page
from handlers.radar import page, uploads, visits
from handlers.radar.common import (
    SHARE_PURPOSE,
    ShareInfo,
    cached_share,
    link_target,
    radar_cached,
    share_by_token,
)
from handlers.radar.router import RadarSettings, router
from storage.directory import Staff
from storage.radar import Radar, RadarType

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}\.[A-Za-z0-9_-]{10,40}$")
BEAT_LIMIT = 40  # beats per visitor and IP per minute (one every 5 s is 12)
MAX_BEAT_BYTES = 512


def _page(status: int, title: str, message: str) -> web.Response:
    body = render_page("message.html", title=title, message=message)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def not_found() -> web.Response:
    return _page(404, "链接无效", "该链接不存在或已失效，请联系您的顾问获取新的链接。")


async def _resolve(ctx: RequestContext) -> tuple[str, ShareInfo, Radar] | web.Response:
    token = ctx.request.match_info.get("token", "")
    share = cached_share(token)  # its MAC was checked when it was cached
    if share is None:
        if not TOKEN_RE.match(token) or not ctx.deps.signer.check_token(SHARE_PURPOSE, token):
            return not_found()
        share = await share_by_token(token)
        if share is None:
            return not_found()
    radar = await radar_cached(share.radar_id)
    if radar is None or radar.deleted:
        return await _removed_page(ctx, share)
    return token, share, radar


async def _removed_page(ctx: RequestContext, share: ShareInfo) -> web.Response:
    """A deleted radar: the page names the advisor who sent it, with their contact QR."""
    staff = await Staff.get_or_none(userid=share.userid)
    body = render_page(
        "removed.html",
        title="内容已下架",
        staff_name=staff.name if staff else "",
        qr_url=await advisor_qr(ctx, share.userid) if staff else "",
    )
    return web.Response(status=410, text=body, content_type="text/html", charset="utf-8")


def _personal(token: str, share: ShareInfo) -> PersonalLink:
    """A share sent to one customer in a single chat is that customer's personal link (named
    by its token's random part, unique across databases)."""
    return PersonalLink("radar.share:" + token.partition(".")[0], share.external_userid)


@router.get(r"/r/{token}", role=None)
async def landing(ctx: RequestContext) -> web.StreamResponse:
    resolved = await _resolve(ctx)
    if isinstance(resolved, web.Response):
        return resolved
    token, share, radar = resolved
    deps = ctx.deps
    from_ = ctx.request.query.get("from", "")[:80]
    if not visitors.allow(ctx, "radar.open", visitors.request_visitor_id(ctx), _open_limit(ctx)):
        return _page(429, "访问过于频繁", "您打开得太频繁了，请稍后再试。")
    visitor = await visitors.identify(ctx)
    if visitor_oauth.wanted(ctx, visitor):
        response: web.StreamResponse = visitor_oauth.authorize_redirect(
            deps, f"/r/{token}/oauth", {"from": from_}
        )
        visitors.keep(ctx, response, visitor)  # the same id comes back from WeChat
        return response
    parent = visits.from_visitor(deps, from_)
    if parent is None:
        await visitors.apply_link(deps, visitor, _personal(token, share))
    if radar.friends_only and not await visits.is_corp_customer(visitor.external_userid):
        response = await _friends_page(ctx, token, share)
    else:
        measured = radar.type is not RadarType.LINK
        visit = await visits.record_visit(deps, share, visitor, parent or visitor.via, measured)
        response = _content(ctx, token, radar, visit.id, visits.epoch(visit.started_at), visitor.id)
    response.headers["Cache-Control"] = "no-store"
    visitors.keep(ctx, response, visitor)
    return response


async def _is_friend(ctx: RequestContext, token: str, share: ShareInfo) -> bool:
    """The friends-only gate for requests after the page (files): never binds the link."""
    visitor = await visitors.identify(ctx)
    await visitors.apply_link(ctx.deps, visitor, _personal(token, share), bind=False)
    return await visits.is_corp_customer(visitor.external_userid)


def _open_limit(ctx: RequestContext) -> int:
    """Opens per minute: per visitor, or — for a browser without our cookie, each open a new
    visitor — per client address, where a carrier NAT may put thousands of phones."""
    radar_settings = ctx.deps.section(RadarSettings)
    if visitors.request_visitor_id(ctx):
        return radar_settings.landing_per_minute
    return radar_settings.new_visitors_per_minute


@router.get(r"/r/{token}/oauth", role=None)
async def oauth_return(ctx: RequestContext) -> web.StreamResponse:
    """Where the service account's OAuth sends the browser back; on to the page either way."""
    resolved = await _resolve(ctx)
    if isinstance(resolved, web.Response):
        return resolved
    token = resolved[0]
    visitor = await visitors.identify(ctx)
    await visitor_oauth.adopt(ctx, f"/r/{token}/oauth", visitor)
    keep = {"from": ctx.request.query.get("from", "")[:80]}
    location = visitor_oauth.return_location(f"/r/{token}", keep)
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    visitors.write_cookie(ctx, response, visitor.id, tried=True)
    return response


def _content(
    ctx: RequestContext, token: str, radar: Radar, visit_id: str, started: int, visitor_id: str
) -> web.StreamResponse:
    if radar.type is RadarType.LINK:
        target = link_target(radar.url)  # rows saved before targets were checked
        if target is None:
            return _page(502, "链接地址有误", "该链接的地址设置有误，请联系您的顾问。")
        return web.Response(status=302, headers={"Location": target})
    body = page.content_page(ctx.deps, token, radar, visit_id, started, visitor_id)
    return web.Response(text=body, content_type="text/html", charset="utf-8")


async def _friends_page(ctx: RequestContext, token: str, share: ShareInfo) -> web.Response:
    staff = await Staff.get_or_none(userid=share.userid)
    body = render_page(
        "friends.html",
        title="添加顾问后查看",
        corp_name=ctx.deps.settings.corp.name,
        staff_name=staff.name if staff else "",
        qr_url=await advisor_qr(ctx, share.userid),
    )
    return web.Response(status=403, text=body, content_type="text/html", charset="utf-8")


@router.post(r"/r/{token}/beat", role=None, csrf=False)
async def beat(ctx: RequestContext) -> web.StreamResponse:
    token = ctx.request.match_info.get("token", "")
    if not TOKEN_RE.match(token):
        return web.Response(status=404)
    raw = await ctx.request.content.read(MAX_BEAT_BYTES + 1)
    data = _beat_body(raw)
    # The key's MAC covers the share token: a key that checks was issued by a page this server
    # showed for that share, so the token's own MAC is checked only to say why a beat fails.
    checked = visits.check_beat_key(ctx.deps, token, str(data.get("k", ""))) if data else None
    if data is None or checked is None:
        valid = ctx.deps.signer.check_token(SHARE_PURPOSE, token)
        return web.Response(status=400 if valid else 404)
    visit_id, started = checked
    t, p, pg = (_int(data.get(k)) for k in ("t", "p", "pg"))
    if not visitors.allow(
        ctx, "radar.beat", visitors.request_visitor_id(ctx) or visit_id, BEAT_LIMIT
    ):
        return web.Response(status=429)
    try:
        await visits.add_beat(ctx.deps, visit_id, started, t, p, pg)
    except Exception:  # Redis away: a lost beat costs a few seconds of view time, not a 500
        log.warning("radar: a heartbeat could not be recorded", exc_info=True)
        return web.Response(status=503)
    return web.Response(status=204)


def _beat_body(raw: bytes) -> dict[str, object] | None:
    if len(raw) > MAX_BEAT_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if abs(value) < 10**7 else 0


@router.get(r"/r/{token}/f/{name}", role=None)
async def content_file(ctx: RequestContext) -> web.StreamResponse:
    resolved = await _resolve(ctx)
    if isinstance(resolved, web.Response):
        return resolved
    token, share, radar = resolved
    name = ctx.request.match_info.get("name", "")
    names = {f["name"] for f in radar.files}
    first_pages = (
        {uploads.first_page_name(n) for n in names} if radar.type is RadarType.PDF else set()
    )
    if name not in names and name not in first_pages:
        return web.Response(status=404)
    if radar.friends_only and not await _is_friend(ctx, token, share):
        return _page(403, "添加顾问后查看", "该内容仅限好友查看，请先添加您的顾问。")
    if name in first_pages:
        return await uploads.first_page_response(ctx.deps.settings, name)
    return uploads.file_response(ctx.deps.settings, name)


@router.get(r"/r/{token}/cover", role=None)
async def cover(ctx: RequestContext) -> web.StreamResponse:
    resolved = await _resolve(ctx)
    if isinstance(resolved, web.Response):
        return resolved
    radar = resolved[2]
    if not radar.cover:
        return web.Response(status=302, headers={"Location": "/static/radar/cover.png"})
    return uploads.file_response(ctx.deps.settings, radar.cover)


async def advisor_qr(ctx: RequestContext, userid: str) -> str:
    """WeCom's QR image URL of the staff member's contact way: one way per advisor, made once
    through the registry and reused; "" when WeCom cannot make one (the page says so)."""
    try:
        way = await contact_ways.contact_way(
            ctx.deps,
            feature="radar",
            purpose="advisor",
            owner_key=userid,
            users=[userid],
            state="radar",
        )
    except (WeComError, ContactWayError):
        log.warning("radar: no contact way for %s", userid, exc_info=True)
        return ""
    return way.qr_code
