"""The sandbox plays a WeChat service account (服务号): web OAuth for customers.

`/connect/oauth2/authorize?appid=<MP_APP_ID>` grants a code for the customer named by
`sandbox_customer` (or shows a customer picker, with a "deny" choice); `/sns/oauth2/access_token`
exchanges the single-use code for the customer's openid and, when the corp knows it, unionid.
Errors answer like WeChat: HTTP 200 with errcode/errmsg.
"""

from __future__ import annotations

import secrets
from html import escape
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.sandbox.apiutil import corp_of
from bot.sandbox.errors import SandboxError

MP_APP_ID = "wx5a4db0c5sandbox"
MP_SECRET = "sandbox-mp-secret"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>微信授权</title>
<link rel="stylesheet" href="/sandbox/static/style.css"></head>
<body class="picker"><main><h1>微信授权（服务号）</h1><p class="hint">{hint}</p>{body}</main>
</body></html>"""


def _target(request: web.Request) -> str:
    target = request.query.get("redirect_uri", "")
    if urlsplit(target).scheme not in ("http", "https"):
        raise web.HTTPBadRequest(text="redirect_uri 必须是 http(s) 地址")
    return target


def _back(target: str, **query: str) -> str:
    sep = "&" if "?" in target else "?"
    return f"{target}{sep}{urlencode(query)}"


def _choice(request: web.Request, **choice: str) -> str:
    query = {k: v for k, v in request.query.items() if not k.startswith("sandbox_")}
    return f"{request.path}?{urlencode({**query, **choice})}"


async def authorize(request: web.Request) -> web.StreamResponse:
    target, state = _target(request), request.query.get("state", "")
    customer = request.query.get("sandbox_customer", "")
    corp = corp_of(request)
    if request.query.get("sandbox_deny"):
        raise web.HTTPFound(_back(target, state=state))  # no code: the user said no
    if customer:
        if customer not in corp.customers:
            raise web.HTTPBadRequest(text=f"沙箱企业里没有客户 {customer}")
        code = corp.issue_oauth_code(external_userid=customer)
        raise web.HTTPFound(_back(target, code=code, state=state))
    items = "".join(
        f'<li><a href="{escape(_choice(request, sandbox_customer=c.external_userid))}">'
        f"<b>{escape(c.name)}</b><span>{escape(c.external_userid)}</span></a></li>"
        for c in list(corp.customers.values())[:60]
    )
    deny = f'<p><a href="{escape(_choice(request, sandbox_deny="1"))}">不授权（匿名访问）</a></p>'
    hint = "沙箱服务号：选择打开链接的微信用户。真实环境中这一步在微信里静默完成。"
    body = f'<h2>以客户身份打开</h2><ul class="people">{items}</ul>{deny}'
    return web.Response(text=PAGE.format(hint=hint, body=body), content_type="text/html")


async def access_token(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q.get("appid") != MP_APP_ID or q.get("secret") != MP_SECRET:
        return web.json_response({"errcode": 40125, "errmsg": "invalid appid or appsecret"})
    if q.get("grant_type") != "authorization_code":
        return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
    corp = corp_of(request)
    try:
        issued = corp.use_oauth_code(q.get("code", ""))
    except SandboxError:
        return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
    if not issued.openid:  # a staff code from the WeCom OAuth is not a service-account code
        return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
    customer = corp.customers.get(issued.external_userid)
    body = {
        "access_token": "mpat" + secrets.token_hex(20),
        "expires_in": 7200,
        "refresh_token": "mprt" + secrets.token_hex(20),
        "openid": issued.openid,
        "scope": "snsapi_base",
    }
    if customer is not None and customer.unionid:
        body["unionid"] = customer.unionid
    return web.json_response(body)


async def client_token(request: web.Request) -> web.StreamResponse:
    """The service account's own access token (`cgi-bin/token`, client_credential)."""
    q = request.query
    if q.get("grant_type") != "client_credential":
        return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
    if q.get("appid") != MP_APP_ID or q.get("secret") != MP_SECRET:
        return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
    issued = corp_of(request).issue_token("mp")
    return web.json_response({"access_token": issued.token, "expires_in": 7200})


async def user_info(request: web.Request) -> web.StreamResponse:
    """`cgi-bin/user/info`: whether an openid follows the service account. As WeChat does, a
    person who does not follow gets `subscribe: 0` and nothing more."""
    corp = corp_of(request)
    try:
        issued = corp.check_token(request.query.get("access_token", ""))
    except SandboxError:
        return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
    if issued.secret_kind != "mp":
        return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
    openid = request.query.get("openid", "")
    ext = next((e for e in corp.customers if openid and "o" + e[2:] == openid), None)
    if ext is None:
        return web.json_response({"errcode": 40003, "errmsg": "invalid openid"})
    if ext not in corp.mp_followers:
        return web.json_response({"subscribe": 0, "openid": openid})
    customer = corp.customers[ext]
    body = {"subscribe": 1, "openid": openid, "subscribe_time": int(corp.clock())}
    if customer.unionid:
        body["unionid"] = customer.unionid
    return web.json_response(body)


def setup(app: web.Application) -> None:
    app.router.add_get("/sns/oauth2/access_token", access_token)
    app.router.add_get("/cgi-bin/token", client_token)
    app.router.add_get("/cgi-bin/user/info", user_info)
