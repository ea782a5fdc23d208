"""Pieces of the auth test app: a fake WeCom client, a recording queue, a probe router with
routes of each role, and helpers to sign in and to pass the CSRF check."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import sessions
from bot.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, SESSION_PURPOSE
from bot.auth_types import Role
from bot.deps import Deps
from bot.http import RequestContext, json_ok, scope_userids, wrap_view
from bot.router import Router
from bot.web_keys import DEPS_KEY
from tests.support import session_value


class FakeWeCom:
    def __init__(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def auth_user_info(self, code: str) -> dict[str, Any]:
        self.calls.append(code)
        if code not in self.codes:
            raise RuntimeError("invalid code")
        return self.codes.pop(code)  # single use, like WeCom's 40029

    async def get_jsapi_ticket(self) -> str:
        return "corp-ticket"

    async def get_agent_ticket(self) -> str:
        return "agent-ticket"


probe = Router("probe")
probe.page("admin", "雷达", "/static/radar/admin.js", role=Role.ADMIN, order=20)
probe.page("admin", "排行榜", "/static/leaderboard/admin.js", role=Role.STAFF, order=10)
probe.page("sidebar", "客户画像", "/static/facts/sidebar.js")


@probe.get("/api/probe/admin", role=Role.ADMIN)
async def admin_only(ctx: RequestContext) -> web.StreamResponse:
    return json_ok({"ok": True})


@probe.get("/api/probe/scope", role=Role.STAFF)
async def scope(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    found = await scope_userids(ctx.user)
    return json_ok({"scope": None if found is None else sorted(found)})


@probe.post("/api/probe/write", role=Role.STAFF)
async def write(ctx: RequestContext) -> web.StreamResponse:
    return json_ok({"ok": True})


@probe.get("/api/probe/public", role=None)
async def public(ctx: RequestContext) -> web.StreamResponse:
    return json_ok({"user": ctx.user.userid if ctx.user else None})


def build_app(deps: Deps) -> web.Application:
    app = web.Application()
    app[DEPS_KEY] = deps
    for route in deps.dispatcher.http_routes:
        app.router.add_route(route.method, route.path, wrap_view(route))
    return app


async def sign_in(client: TestClient, deps: Deps, userid: str) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: await session_value(deps, userid)})


def csrf(client: TestClient, token: str = "t0k3n-abcdefghijklmnopqrstuv") -> dict[str, str]:
    """The header that passes the CSRF check: the signed-in session's token, else (anonymous)
    a double-submitted `token`."""
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get(SESSION_COOKIE)
    if cookie is not None:
        signer = client.app[DEPS_KEY].signer  # type: ignore[index]
        body = signer.loads(SESSION_PURPOSE, cookie.value)
        if body:
            return {CSRF_HEADER: sessions.csrf_for(signer, body["s"])}
    client.session.cookie_jar.update_cookies({CSRF_COOKIE: token})
    return {CSRF_HEADER: token}
