"""Fake WeCom OAuth (staff pages inside WeCom) and web login (admin console).

`/connect/oauth2/authorize` redirects at once when `sandbox_user` (query or cookie) names a
staff member; otherwise it shows a picker. Codes resolve through `auth/getuserinfo`.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.sandbox import mp
from bot.sandbox.apiutil import CONFIG_KEY, corp_of

COOKIE = "sandbox_user"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/sandbox/static/style.css"></head>
<body class="picker"><main><h1>{title}</h1><p class="hint">{hint}</p>{body}</main></body></html>"""


def _redirect_target(request: web.Request) -> str:
    config = request.app[CONFIG_KEY]
    if request.query.get("appid") != config.corp_id:
        raise web.HTTPBadRequest(text=f"appid 必须是本企业的 CorpID（沙箱：{config.corp_id}）")
    target = request.query.get("redirect_uri", "")
    if urlsplit(target).scheme not in ("http", "https"):
        raise web.HTTPBadRequest(text="redirect_uri 必须是 http(s) 地址")
    return target


def _with_code(target: str, code: str, state: str) -> str:
    sep = "&" if "?" in target else "?"
    return f"{target}{sep}{urlencode({'code': code, 'state': state})}"


def _choice_link(request: web.Request, **choice: str) -> str:
    query = {k: v for k, v in request.query.items() if not k.startswith("sandbox_")}
    return f"{request.path}?{urlencode({**query, **choice})}"


def _picker(request: web.Request, title: str, with_customers: bool) -> web.Response:
    corp = corp_of(request)
    staff = "".join(
        f'<li><a href="{escape(_choice_link(request, sandbox_user=s.userid))}">'
        f"<b>{escape(s.name)}</b><span>{escape(s.userid)} · {escape(s.position)}</span></a></li>"
        for s in corp.staff.values()
    )
    body = f'<h2>以成员身份打开</h2><ul class="people">{staff}</ul>'
    if with_customers:
        customers = "".join(
            f'<li><a href="{escape(_choice_link(request, sandbox_customer=c.external_userid))}">'
            f"<b>{escape(c.name)}</b><span>客户</span></a></li>"
            for c in list(corp.customers.values())[:60]
        )
        body += f'<h2>以客户身份打开</h2><ul class="people">{customers}</ul>'
    hint = "沙箱企业微信：选择要以谁的身份登录。真实环境中这一步由企业微信自动完成。"
    html = PAGE.format(title=escape(title), hint=hint, body=body)
    return web.Response(text=html, content_type="text/html")


def _grant(request: web.Request, target: str, userid: str, customer: str) -> web.Response:
    corp = corp_of(request)
    if userid and userid not in corp.staff:
        raise web.HTTPBadRequest(text=f"沙箱企业里没有成员 {userid}")
    if customer and customer not in corp.customers:
        raise web.HTTPBadRequest(text=f"沙箱企业里没有客户 {customer}")
    code = corp.issue_oauth_code(userid=userid, external_userid=customer)
    response = web.HTTPFound(_with_code(target, code, request.query.get("state", "")))
    if request.query.get(COOKIE):
        response.set_cookie(COOKIE, userid, httponly=True, samesite="Lax")
    raise response


async def authorize(request: web.Request) -> web.StreamResponse:
    if request.query.get("appid") == mp.MP_APP_ID:  # the service account's web OAuth
        return await mp.authorize(request)
    target = _redirect_target(request)
    customer = request.query.get("sandbox_customer", "")
    userid = request.query.get(COOKIE, "") or ("" if customer else request.cookies.get(COOKIE, ""))
    if userid in corp_of(request).staff or customer:
        return _grant(request, target, userid, customer)
    return _picker(request, "企业微信授权", with_customers=True)


async def sso_login(request: web.Request) -> web.StreamResponse:
    target = _redirect_target(request)
    userid = request.query.get(COOKIE, "")
    if userid:
        return _grant(request, target, userid, "")
    return _picker(request, "企业微信登录", with_customers=False)


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPFound(request.query.get("next", "/sandbox"))
    response.del_cookie(COOKIE)
    raise response


def setup(app: web.Application) -> None:
    app.router.add_get("/connect/oauth2/authorize", authorize)
    app.router.add_get("/wwlogin/sso/login", sso_login)
    app.router.add_get("/sandbox/logout", logout)
    mp.setup(app)
