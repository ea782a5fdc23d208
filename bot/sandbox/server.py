"""The sandbox WeCom: a loopback aiohttp server speaking WeCom's API over an in-memory corp.

Errors are HTTP 200 with errcode/errmsg, as WeCom answers them. Every /cgi-bin call is logged
(`GET /sandbox/api/calls`) so tests can assert how many calls each path made, and faults can
be injected per path (`POST /sandbox/api/faults`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.crypto import WeComCrypto
from bot.sandbox import (
    api_acquisition,
    api_contact,
    api_directory,
    api_menu,
    api_message,
    api_moments,
    api_ways,
    oauth,
    play,
)
from bot.sandbox.apiutil import (
    API_STATE_KEY,
    CONFIG_KEY,
    CORP_KEY,
    ApiState,
    CallRecord,
    Fault,
    SandboxConfig,
    corp_of,
    ok,
    read_body,
)
from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError

OPEN_PATHS = {"/cgi-bin/gettoken", "/cgi-bin/token"}  # WeCom's and the service account's
MP_PATHS = {"/cgi-bin/user/info"}  # the service account's API (api.weixin.qq.com in WeChat)
DIRECTORY_PREFIXES = ("/cgi-bin/user/", "/cgi-bin/department/")
ACQUISITION_PREFIXES = (
    "/cgi-bin/externalcontact/customer_acquisition/",
    "/cgi-bin/externalcontact/customer_acquisition_quota",
)
CONTACT_SECRET_PATHS = ("/cgi-bin/externalcontact/", "/cgi-bin/media/upload")


def _check_permission(kind: str, path: str) -> None:
    # The service account's token and WeCom's are two systems: neither opens the other's API.
    if (kind == "mp") != (path in MP_PATHS):
        raise SandboxError(40014, "this access_token is not valid for this API")
    # Since 2022 the customer-contact secret can no longer read the directory.
    if kind == "contact" and path.startswith(DIRECTORY_PREFIXES):
        raise SandboxError(60011, "the customer-contact secret cannot read the directory")
    # 获客链接: only a self-built app in 可调用应用, never the customer-contact secret (W5).
    if kind == "contact" and path.startswith(ACQUISITION_PREFIXES):
        raise SandboxError(48002, "customer_acquisition: use a self-built app in 可调用应用")
    if kind == "contact" and not path.startswith(CONTACT_SECRET_PATHS):
        raise SandboxError(48002, "use the app secret for this API")


async def _apply_fault(state: ApiState, path: str) -> None:
    for fault in state.faults:
        if fault.path == path and fault.count > 0:
            fault.count -= 1
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.errcode:
                raise SandboxError(fault.errcode, "injected fault")
            return


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def wecom_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/cgi-bin/"):
        try:
            return await handler(request)
        except SandboxError as exc:  # the sandbox's own API: a 400 a person can act on
            return web.json_response({"ok": False, "error": exc.errmsg}, status=400)
    state, kind = request.app[API_STATE_KEY], ""
    try:
        await _apply_fault(state, request.path)
        if request.path not in OPEN_PATHS:
            kind = corp_of(request).check_token(request.query.get("access_token", "")).secret_kind
            _check_permission(kind, request.path)
        response = await handler(request)
        errcode = 0
    except SandboxError as exc:
        response, errcode = web.json_response(exc.body()), exc.errcode
    except web.HTTPNotFound:
        exc404 = SandboxError(48002, f"unknown API {request.path}")
        response, errcode = web.json_response(exc404.body()), 48002
    clock = corp_of(request).clock()
    state.calls.append(CallRecord(request.method, request.path, errcode, kind, clock))
    return response


async def gettoken(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG_KEY]
    if request.query.get("corpid") != config.corp_id:
        raise SandboxError(40013)
    secret = request.query.get("corpsecret", "")
    kind = next((k for k, s in config.secrets.items() if s and s == secret), None)
    if kind is None:
        raise SandboxError(40001)
    token = corp_of(request).issue_token(kind)
    return web.json_response(ok(access_token=token.token, expires_in=7200))


async def add_fault(request: web.Request) -> web.StreamResponse:
    body = await read_body(request)
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/cgi-bin/"):
        raise web.HTTPBadRequest(text="path 必须是 /cgi-bin/ 开头的接口路径")
    try:
        fault = Fault(
            path,
            int(body.get("errcode", -1)),
            int(body.get("count", 1)),
            int(body.get("delay_ms", 0)),
        )
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text="errcode、count、delay_ms 必须是整数") from None
    request.app[API_STATE_KEY].faults.append(fault)
    return web.json_response({"ok": True, "faults": len(request.app[API_STATE_KEY].faults)})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    request.app[API_STATE_KEY].faults.clear()
    return web.json_response({"ok": True})


async def expire_tokens(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True, "expired": corp_of(request).expire_tokens()})


async def list_calls(request: web.Request) -> web.StreamResponse:
    calls = [
        {"method": c.method, "path": c.path, "errcode": c.errcode, "secret": c.secret_kind}
        for c in request.app[API_STATE_KEY].calls
    ]
    return web.json_response({"calls": calls})


async def reset_calls(request: web.Request) -> web.StreamResponse:
    request.app[API_STATE_KEY].calls.clear()
    return web.json_response({"ok": True})


def create_sandbox_app(
    corp: Corp,
    *,
    corp_id: str,
    secrets: dict[str, str],
    agent_id: int,
    callback_url: str | None = None,
    crypto: WeComCrypto | None = None,
) -> web.Application:
    """The sandbox app. With `callback_url` and `crypto`, the /sandbox page can play customers."""
    app = web.Application(middlewares=[wecom_api], client_max_size=20 * 1024 * 1024)
    app[CORP_KEY] = corp
    app[CONFIG_KEY] = SandboxConfig(corp_id, secrets, agent_id)
    app[API_STATE_KEY] = ApiState()
    app.router.add_get("/cgi-bin/gettoken", gettoken)
    for module in (
        api_directory,
        api_message,
        api_contact,
        api_ways,
        api_menu,
        api_moments,
        api_acquisition,
    ):
        app.router.add_routes(module.routes)
    app.router.add_post("/sandbox/api/faults", add_fault)
    app.router.add_delete("/sandbox/api/faults", clear_faults)
    app.router.add_post("/sandbox/api/expire_tokens", expire_tokens)
    app.router.add_get("/sandbox/api/calls", list_calls)
    app.router.add_post("/sandbox/api/reset_calls", reset_calls)
    oauth.setup(app)
    play.setup(app, callback_url, crypto)
    return app
