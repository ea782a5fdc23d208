"""The strongest link of the visitor chain: an optional WeChat service account (服务号) web OAuth.

A visitor not yet identified is sent once through `snsapi_base` (silent inside WeChat); the
code gives openid (+unionid), and the corp maps the unionid to the customer's
external_userid. Someone who is not a customer yet gets a `pending_id`, stored on the visitor
and resolved when they become one (`resolve_added`, or the next visit's `refresh_pending`).
Any failure leaves the visitor to the weaker links. The attempt is marked in the visitor
cookie (and in the return URL) so a browser is never sent round again.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot.batch_memo import memoized
from bot.deps import Deps
from bot.http import RequestContext
from bot.visitors import PublicVisitor, allow, new_id
from bot.wecom_errors import WeComError
from storage.visitors import Visitor

log = logging.getLogger(__name__)
STATE_PURPOSE = "visitors.oauth"
TRIED_PARAM = "oa"  # on the return URL: this browser has been through OAuth just now
RETURN_LIMIT = 30  # OAuth returns per visitor (or address) per minute: two upstream calls each
REAL_OAUTH_HOST = "https://open.weixin.qq.com"
RECHECK_PENDING = timedelta(seconds=10)  # a pending visitor's unionid is looked up again


def wanted(ctx: RequestContext, visitor: PublicVisitor) -> bool:
    """Send this open through OAuth? Only once per browser, and only inside WeChat (elsewhere
    WeChat's page would only say "open in WeChat") — except against a stand-in such as the
    sandbox, which plays WeChat for any browser."""
    mp = ctx.deps.settings.wechat_mp
    if not mp.enabled or visitor.oauth_tried or (visitor.row and visitor.row.openid):
        return False
    if TRIED_PARAM in ctx.request.query:
        return False
    in_wechat = "MicroMessenger" in ctx.request.headers.get("User-Agent", "")
    return in_wechat or mp.oauth_base != REAL_OAUTH_HOST


def _state(deps: Deps, back_path: str) -> str:
    # WeChat allows only [a-zA-Z0-9] in state
    return re.sub(r"[^A-Za-z0-9]", "", deps.signer.mac(STATE_PURPOSE, back_path, 32))[:24]


def authorize_redirect(deps: Deps, back_path: str, keep: dict[str, str]) -> web.Response:
    """To WeChat's consent step; it returns to `back_path` (with `keep` as its query)."""
    mp = deps.settings.wechat_mp
    back = deps.url(back_path)
    if kept := {k: v for k, v in keep.items() if v}:
        back += "?" + urlencode(kept)
    query = urlencode(
        {
            "appid": mp.app_id,
            "redirect_uri": back,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": _state(deps, back_path),
        },
        quote_via=quote,
    )
    location = f"{mp.oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect"
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


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
        log.warning("visitors: service-account OAuth exchange failed", exc_info=True)
        return None
    openid = data.get("openid") if isinstance(data, dict) else None
    if not isinstance(openid, str) or not openid:
        log.info("visitors: service-account OAuth refused: %s", str(data)[:200])
        return None
    unionid = data.get("unionid")
    return openid[:64], unionid[:64] if isinstance(unionid, str) else ""


async def _get_json(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], limit: aiohttp.ClientTimeout
) -> Any:
    async with session.get(url, params=params, timeout=limit) as resp:
        return await resp.json(content_type=None)


async def lookup(deps: Deps, unionid: str, openid: str) -> tuple[str, str]:
    """(external_userid, pending_id) for a unionid; ("", "") on any error or no unionid."""
    if not unionid:
        return "", ""
    try:
        result = await deps.wecom.unionid_to_external_userid(unionid, openid)
    except WeComError as exc:
        log.info("visitors: unionid_to_external_userid refused: %s", exc)
        return "", ""
    except Exception:  # an identity we cannot resolve is an anonymous visitor, never a 500
        log.warning("visitors: unionid_to_external_userid failed", exc_info=True)
        return "", ""
    if not isinstance(result, dict):
        return "", ""
    ext, pending = result.get("external_userid"), result.get("pending_id")
    return (ext[:64] if isinstance(ext, str) else ""), (
        pending[:64] if isinstance(pending, str) else ""
    )


async def adopt(ctx: RequestContext, back_path: str, visitor: PublicVisitor) -> None:
    """Resolve an OAuth return onto this browser's visitor (its row inserted now)."""
    query, deps = ctx.request.query, ctx.deps
    code = query.get("code", "")
    visitor.oauth_tried = True
    if not code or len(code) > 512 or query.get("state", "") != _state(deps, back_path):
        return
    if not allow(ctx, "oauth", None if visitor.fresh else visitor.id, RETURN_LIMIT):
        return
    ids = await exchange_code(deps, code)
    if ids is None:
        return
    new = visitor.row is None
    row = visitor.row or Visitor(**visitor.new_row())
    row.openid, row.unionid = ids
    ext, pending = await lookup(deps, row.unionid, row.openid)
    row.external_userid = ext or row.external_userid
    row.pending_id = "" if row.external_userid else pending
    row.checked_at = deps.now()
    if new:
        try:
            await row.save(force_create=True)
        except IntegrityError:  # the same browser's other tab came back first
            await row.save(force_update=True)
        visitor.row = row
    else:
        await row.save(
            update_fields=["openid", "unionid", "external_userid", "pending_id", "checked_at"]
        )


async def refresh_pending(deps: Deps, row: Visitor) -> None:
    """A visitor known by unionid but not yet a customer: ask WeCom again (at most every few
    seconds), so someone who just added their advisor is recognised on the next open."""
    now = deps.now()
    if row.checked_at is not None and now - row.checked_at < RECHECK_PENDING:
        return
    ext, pending = await lookup(deps, row.unionid, row.openid)
    row.checked_at = now
    row.external_userid = ext
    row.pending_id = "" if ext else pending or row.pending_id
    await row.save(update_fields=["external_userid", "pending_id", "checked_at"])


async def _anyone_pending() -> bool:
    return bool(await Visitor.filter(external_userid="").exclude(pending_id="").exists())


async def resolve_added(deps: Deps, external_userid: str) -> int:
    """Someone became a customer: the visitors waiting under their pending_id get their
    external_userid. Returns how many visitors were resolved."""
    # Asked once per delivery job: a visitor who gets a pending_id meanwhile is looked up
    # again on their next open anyway.
    waiting = await memoized(("visitors.pending",), _anyone_pending)
    if not waiting:
        return 0  # most adds: nobody pending, no WeCom call
    try:
        result = await deps.wecom.external_userid_to_pending_id([external_userid])
    except Exception:
        log.warning("visitors: external_userid_to_pending_id failed", exc_info=True)
        raise
    pending = [
        str(item.get("pending_id"))
        for item in result.get("result", [])
        if isinstance(item, dict)
        and item.get("external_userid") == external_userid
        and item.get("pending_id")
    ]
    if not pending:
        return 0
    return await Visitor.filter(pending_id__in=pending, external_userid="").update(
        external_userid=external_userid, pending_id=""
    )


MP_TOKEN_KEY = "scrmbot:wechat_mp:token"


async def _mp_token(deps: Deps, fresh: bool = False) -> str | None:
    """The service account's access token (`cgi-bin/token`), shared through Redis."""
    if not fresh:
        cached = await deps.redis.get(MP_TOKEN_KEY)
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
    mp = deps.settings.wechat_mp
    params = {"grant_type": "client_credential", "appid": mp.app_id, "secret": mp.secret}
    data = await _mp_get(deps, "/cgi-bin/token", params)
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        log.warning("visitors: service-account token refused: %s", str(data)[:200])
        return None
    ttl = data.get("expires_in", 7200)
    await deps.redis.set(MP_TOKEN_KEY, token, ex=max(60, int(ttl) - 300))
    return token


async def _mp_get(deps: Deps, path: str, params: dict[str, str]) -> Any:
    limit = aiohttp.ClientTimeout(total=deps.settings.wecom.timeout)
    url = deps.settings.wechat_mp.api_base + path
    shared = getattr(deps.wecom, "session", None)
    try:
        if isinstance(shared, aiohttp.ClientSession):
            return await _get_json(shared, url, params, limit)
        async with aiohttp.ClientSession() as session:
            return await _get_json(session, url, params, limit)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        log.warning("visitors: service-account call %s failed", path, exc_info=True)
        return None


async def subscribed(deps: Deps, openid: str) -> bool | None:
    """Whether the person behind `openid` follows the service account (`cgi-bin/user/info`);
    None when it cannot be told (no service account, WeChat unreachable or refusing)."""
    if not deps.settings.wechat_mp.enabled or not openid:
        return None
    for fresh in (False, True):
        token = await _mp_token(deps, fresh)
        if token is None:
            return None
        params = {"access_token": token, "openid": openid, "lang": "zh_CN"}
        data = await _mp_get(deps, "/cgi-bin/user/info", params)
        if not isinstance(data, dict):
            return None
        if data.get("errcode") in (40001, 40014, 42001) and not fresh:
            continue  # the cached token went stale: once more with a new one
        if "subscribe" not in data:
            log.info("visitors: user/info refused: %s", str(data)[:200])
            return None
        return bool(data["subscribe"])
    return None


def return_location(path: str, keep: dict[str, str]) -> str:
    query = {k: v for k, v in keep.items() if v} | {TRIED_PARAM: "1"}
    return f"{path}?{urlencode(query)}"


__all__ = ["adopt", "authorize_redirect", "new_id", "resolve_added", "subscribed", "wanted"]
