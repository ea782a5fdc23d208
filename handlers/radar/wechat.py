"""Visitor identity through an optional WeChat service account (服务号) web OAuth.

The strongest link in the identity chain: a visitor not yet identified is sent once through
`snsapi_base` (silent inside WeChat); the code gives openid (+unionid), and the corp maps the
unionid to the customer's external_userid. Any failure leaves the visitor to the weaker links
(the share's customer, then the anonymous cookie). The attempt is marked in the visitor cookie
(and in the return URL) so a browser is never sent round again.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from bot.deps import Deps
from bot.http import RequestContext
from bot.wecom_errors import WeComError
from handlers.radar.common import VISITOR_COOKIE, VISITOR_PURPOSE
from handlers.radar.visits import new_id
from storage.radar import Visitor

log = logging.getLogger(__name__)
STATE_PURPOSE = "radar.oauth"
TRIED_PARAM = "oa"  # on the return URL: this browser has been through OAuth just now
CALLBACK_LIMIT = 30  # OAuth returns per IP per minute (each costs two upstream calls)
REAL_OAUTH_HOST = "https://open.weixin.qq.com"
COOKIE_AGE = 2 * 365 * 24 * 3600


def read_cookie(ctx: RequestContext) -> dict[str, Any]:
    """The signed visitor cookie: `v` = visitor id, `o` = OAuth already tried."""
    raw = ctx.request.cookies.get(VISITOR_COOKIE, "")
    body = ctx.deps.signer.loads(VISITOR_PURPOSE, raw) if 0 < len(raw) < 256 else None
    return body or {}


def cookie_visitor(cookie: dict[str, Any]) -> str | None:
    vid = cookie.get("v")
    return vid if isinstance(vid, str) and 0 < len(vid) <= 32 else None


def write_cookie(
    ctx: RequestContext, response: web.StreamResponse, visitor_id: str | None, tried: bool
) -> None:
    body: dict[str, Any] = {"v": visitor_id} if visitor_id else {}
    if tried:
        body["o"] = 1
    response.set_cookie(
        VISITOR_COOKIE,
        ctx.deps.signer.dumps(VISITOR_PURPOSE, body),
        max_age=COOKIE_AGE,
        path="/r/",
        httponly=True,
        samesite="Lax",
        secure=ctx.deps.settings.base_url.startswith("https://"),
    )


def wanted(ctx: RequestContext, cookie: dict[str, Any]) -> bool:
    """Send this open through the service account's OAuth? Only once per browser, and only
    inside WeChat (elsewhere WeChat's page would only say "open in WeChat") — except against a
    stand-in such as the sandbox, which plays WeChat for any browser."""
    mp = ctx.deps.settings.wechat_mp
    if not mp.enabled or cookie.get("o") or TRIED_PARAM in ctx.request.query:
        return False
    in_wechat = "MicroMessenger" in ctx.request.headers.get("User-Agent", "")
    return in_wechat or mp.oauth_base != REAL_OAUTH_HOST


def _state(deps: Deps, token: str) -> str:
    # WeChat allows only [a-zA-Z0-9] in state
    return re.sub(r"[^A-Za-z0-9]", "", deps.signer.mac(STATE_PURPOSE, token, 32))[:24]


def authorize_redirect(ctx: RequestContext, token: str) -> web.Response:
    deps = ctx.deps
    mp = deps.settings.wechat_mp
    back = deps.url(f"/r/{token}/oauth")
    if from_ := ctx.request.query.get("from", "")[:80]:
        back += "?" + urlencode({"from": from_})
    query = urlencode(
        {
            "appid": mp.app_id,
            "redirect_uri": back,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": _state(deps, token),
        },
        quote_via=quote,
    )
    location = f"{mp.oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect"
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


async def _within_limit(ctx: RequestContext) -> bool:
    minute = int(ctx.deps.now().timestamp()) // 60
    key = f"scrmbot:radar:oauth-rl:{ctx.request.remote or ''}:{minute}"
    count = await ctx.deps.redis.incr(key)
    if count == 1:
        await ctx.deps.redis.expire(key, 120)
    return int(count) <= CALLBACK_LIMIT


async def exchange_code(deps: Deps, code: str) -> tuple[str, str] | None:
    """(openid, unionid) for an OAuth code; None when WeChat refuses it or cannot be reached."""
    mp = deps.settings.wechat_mp
    params = {
        "appid": mp.app_id,
        "secret": mp.secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    url = f"{mp.api_base}/sns/oauth2/access_token"
    limit = aiohttp.ClientTimeout(total=deps.settings.wecom.timeout)
    shared = getattr(deps.wecom, "session", None)
    try:
        if isinstance(shared, aiohttp.ClientSession):
            data = await _get_json(shared, url, params, limit)
        else:
            async with aiohttp.ClientSession() as session:
                data = await _get_json(session, url, params, limit)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        log.warning("radar: service-account OAuth exchange failed", exc_info=True)
        return None
    openid = data.get("openid") if isinstance(data, dict) else None
    if not isinstance(openid, str) or not openid:
        log.info("radar: service-account OAuth refused: %s", str(data)[:200])
        return None
    unionid = data.get("unionid")
    return openid[:64], unionid[:64] if isinstance(unionid, str) else ""


async def _get_json(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], limit: aiohttp.ClientTimeout
) -> Any:
    async with session.get(url, params=params, timeout=limit) as resp:
        return await resp.json(content_type=None)


async def external_userid(deps: Deps, unionid: str, openid: str) -> str:
    """The customer's external_userid, or "" (not a customer yet, no unionid, any error)."""
    if not unionid:
        return ""
    try:
        result = await deps.wecom.unionid_to_external_userid(unionid, openid)
    except WeComError as exc:
        log.info("radar: unionid_to_external_userid refused: %s", exc)
        return ""
    except Exception:  # an identity we cannot resolve is an anonymous visitor, never a 500
        log.warning("radar: unionid_to_external_userid failed", exc_info=True)
        return ""
    ext = result.get("external_userid") if isinstance(result, dict) else None
    return ext[:64] if isinstance(ext, str) else ""


async def adopt(ctx: RequestContext, token: str, visitor_id: str | None) -> str | None:
    """Resolve the OAuth return onto this browser's visitor (created when it has none); the
    visitor id to keep in the cookie."""
    query, deps = ctx.request.query, ctx.deps
    code = query.get("code", "")
    if not code or len(code) > 512 or query.get("state", "") != _state(deps, token):
        return visitor_id
    if not await _within_limit(ctx):
        return visitor_id
    ids = await exchange_code(deps, code)
    if ids is None:
        return visitor_id
    openid, unionid = ids
    ext = await external_userid(deps, unionid, openid)
    visitor = await Visitor.get_or_none(id=visitor_id) if visitor_id else None
    if visitor is None:
        visitor = Visitor(id=new_id(), created_at=deps.now())
        visitor.openid, visitor.unionid, visitor.external_userid = openid, unionid, ext
        await visitor.save(force_create=True)
        return visitor.id
    visitor.openid, visitor.unionid = openid, unionid
    visitor.external_userid = ext or visitor.external_userid
    await visitor.save(update_fields=["openid", "unionid", "external_userid"])
    return visitor.id


def return_location(ctx: RequestContext, token: str) -> str:
    query = {"from": ctx.request.query.get("from", "")[:80], TRIED_PARAM: "1"}
    return f"/r/{token}?{urlencode({k: v for k, v in query.items() if v})}"
