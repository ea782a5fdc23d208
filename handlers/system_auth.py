"""Sign-in views: WeCom OAuth for pages inside WeCom, the console's scan login, logout."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from bot import auth
from bot.auth_types import Role
from bot.http import RequestContext, json_ok, message_page, redirect
from handlers.system_router import router

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
_MAX_CODE = 512  # WeCom codes are at most 512 bytes


def shell(relative: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / relative, headers={"Cache-Control": "no-store"})


async def _start(ctx: RequestContext, kind: str, default_next: str) -> web.StreamResponse:
    next_path = auth.safe_next(ctx.request.query.get("next"), default_next)
    state, browser = auth.new_state(ctx.deps.signer, kind, next_path)
    settings = ctx.deps.settings
    url = (
        auth.oauth_url(settings, state) if kind == "oauth" else auth.web_login_url(settings, state)
    )
    response = redirect(url)
    response.set_cookie(
        auth.OAUTH_COOKIE,
        browser,
        max_age=auth.STATE_TTL,
        path="/auth",
        httponly=True,
        samesite="Lax",
        secure=settings.base_url.startswith("https://"),
    )
    return response


@router.get("/auth/oauth", role=None)
async def oauth_start(ctx: RequestContext) -> web.StreamResponse:
    return await _start(ctx, "oauth", "/sidebar")


@router.get("/auth/login", role=None)
async def login_start(ctx: RequestContext) -> web.StreamResponse:
    return await _start(ctx, "login", "/admin")


async def _identify(ctx: RequestContext, code: str) -> str | web.Response:
    """The member's userid for a one-time code, or a Chinese page saying why not."""
    try:
        info = await ctx.deps.wecom.auth_user_info(code)
    except Exception as exc:  # a WeCom error or an unreachable API: explain, never a 500
        explain = getattr(exc, "explain", None)
        reason = explain() if callable(explain) else "企业微信暂时无法确认你的身份"
        log.warning("login code refused: %s", type(exc).__name__)
        return message_page(502, "登录失败", f"{reason}，请重新打开页面再试。")
    userid = info.get("userid") or info.get("UserId")
    if not isinstance(userid, str) or not userid:
        return message_page(403, "无法使用", "此页面仅供本企业成员使用，当前访问者不是企业成员。")
    if not await auth.is_active_member(userid, ctx.deps.dispatcher):
        return message_page(403, "无法使用", "你的企业微信账号已停用或已离职，无法登录。")
    return userid


async def _finish(ctx: RequestContext, kind: str) -> web.StreamResponse:
    query = ctx.request.query
    code, state_id = query.get("code", ""), query.get("state", "")
    if not code or len(code) > _MAX_CODE:
        return message_page(400, "登录失败", "登录链接缺少授权码，请重新打开页面。")
    browser = ctx.request.cookies.get(auth.OAUTH_COOKIE, "")
    state = auth.take_state(ctx.deps.signer, state_id, browser)
    if state is None or state.kind != kind:
        return message_page(400, "登录已过期", "登录链接已失效或已使用过，请重新打开页面。")
    found = await _identify(ctx, code)
    if isinstance(found, web.Response):
        return found
    response = redirect(state.next)
    await auth.set_session(response, ctx.deps.signer, ctx.deps.settings, found)
    response.del_cookie(auth.OAUTH_COOKIE, path="/auth")
    log.info("signed in via %s", kind)
    return response


@router.get("/auth/oauth/callback", role=None)
async def oauth_callback(ctx: RequestContext) -> web.StreamResponse:
    return await _finish(ctx, "oauth")


@router.get("/auth/login/callback", role=None)
async def login_callback(ctx: RequestContext) -> web.StreamResponse:
    return await _finish(ctx, "login")


@router.post("/auth/logout", role=None)
async def logout(ctx: RequestContext) -> web.StreamResponse:
    response = json_ok({"ok": True, "login": "/admin/login"})
    await auth.end_session(ctx.request, response, ctx.deps.signer)
    return response


@router.get("/admin/login", role=None)
async def admin_login_page(ctx: RequestContext) -> web.StreamResponse:
    if ctx.user is not None:
        return redirect(auth.safe_next(ctx.request.query.get("next"), "/admin"))
    return shell("admin/login.html")


@router.get("/admin", role=Role.STAFF)
async def admin_shell(ctx: RequestContext) -> web.StreamResponse:
    return shell("admin/index.html")


@router.get("/sidebar", role=Role.STAFF)
@router.get("/sidebar/{tail:.*}", role=Role.STAFF)
@router.get("/toolbar", role=Role.STAFF)
@router.get("/toolbar/{tail:.*}", role=Role.STAFF)
async def phone_shell(ctx: RequestContext) -> web.StreamResponse:
    """/sidebar and /toolbar: one page; it tells the two apart by its own path."""
    return shell("common/phone.html")
