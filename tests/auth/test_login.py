"""OAuth inside WeCom and the console's scan login, against a fake WeCom client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from bot.auth import OAUTH_COOKIE, SESSION_COOKIE, safe_next
from bot.deps import Deps
from tests.auth.support import FakeWeCom


def _fake(deps: Deps) -> FakeWeCom:
    assert isinstance(deps.wecom, FakeWeCom)
    return deps.wecom


async def _start(client: TestClient, path: str) -> tuple[str, dict[str, list[str]]]:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 302
    location = resp.headers["Location"]
    return location, parse_qs(urlsplit(location).query)


async def test_oauth_redirect_shape(client: TestClient, deps: Deps) -> None:
    location, query = await _start(client, "/auth/oauth?next=/sidebar/radar?x=1")
    s = deps.settings
    assert location.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=")
    assert location.endswith("#wechat_redirect")
    assert "redirect_uri=http%3A%2F%2F" in location  # fully URL-encoded
    state = query["state"][0]
    assert state.isalnum() and len(state) <= 128
    assert query["appid"] == [s.wecom.corp_id]
    assert query["agentid"] == [str(s.wecom.agent_id)]
    assert query["scope"] == ["snsapi_base"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [s.base_url + "/auth/oauth/callback"]


async def test_oauth_callback_signs_in_and_returns(
    client: TestClient, deps: Deps, corp: None
) -> None:
    _, query = await _start(client, "/auth/oauth?next=/sidebar/radar?x=1")
    _fake(deps).codes["c1"] = {"userid": "alice", "user_ticket": "t"}
    resp = await client.get(
        f"/auth/oauth/callback?code=c1&state={query['state'][0]}", allow_redirects=False
    )
    assert (resp.status, resp.headers["Location"]) == (302, "/sidebar/radar?x=1")
    cookie = resp.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    me = await client.get("/api/me")
    assert (await me.json())["userid"] == "alice"


async def test_state_is_single_use(client: TestClient, deps: Deps, corp: None) -> None:
    _, query = await _start(client, "/auth/oauth")
    state = query["state"][0]
    _fake(deps).codes.update({"c1": {"userid": "alice"}, "c2": {"userid": "alice"}})
    first = await client.get(f"/auth/oauth/callback?code=c1&state={state}", allow_redirects=False)
    assert first.headers["Location"] == "/sidebar"
    again = await client.get(f"/auth/oauth/callback?code=c2&state={state}")
    assert again.status == 400
    assert "已失效" in await again.text()


async def test_state_is_bound_to_the_browser(client: TestClient, deps: Deps, corp: None) -> None:
    _, query = await _start(client, "/auth/oauth")
    client.session.cookie_jar.clear(lambda c: c.key == OAUTH_COOKIE)
    _fake(deps).codes["c1"] = {"userid": "alice"}
    resp = await client.get(f"/auth/oauth/callback?code=c1&state={query['state'][0]}")
    assert resp.status == 400
    assert _fake(deps).calls == []  # the code was never spent


async def test_non_member_is_refused(client: TestClient, deps: Deps, corp: None) -> None:
    _, query = await _start(client, "/auth/oauth")
    _fake(deps).codes["c1"] = {"openid": "o-123", "external_userid": "wm-1"}
    resp = await client.get(f"/auth/oauth/callback?code=c1&state={query['state'][0]}")
    assert resp.status == 403
    assert "企业成员" in await resp.text()
    assert SESSION_COOKIE not in resp.cookies


async def test_bad_code_is_a_page_not_a_500(client: TestClient, deps: Deps) -> None:
    _, query = await _start(client, "/auth/oauth")
    resp = await client.get(f"/auth/oauth/callback?code=nope&state={query['state'][0]}")
    assert resp.status == 502
    assert "登录失败" in await resp.text()
    resp = await client.get("/auth/oauth/callback?state=abc")
    assert resp.status == 400


async def test_web_login_flow(client: TestClient, deps: Deps, corp: None) -> None:
    location, query = await _start(client, "/auth/login?next=/admin")
    assert location.startswith(deps.settings.wecom.login_base + "/wwlogin/sso/login?")
    assert query["login_type"] == ["CorpApp"]
    assert query["redirect_uri"] == [deps.settings.base_url + "/auth/login/callback"]
    _fake(deps).codes["c9"] = {"userid": "carol"}
    # a state started for the console does not finish an OAuth callback
    resp = await client.get(f"/auth/oauth/callback?code=c9&state={query['state'][0]}")
    assert resp.status == 400
    _, query = await _start(client, "/auth/login?next=/admin")
    resp = await client.get(
        f"/auth/login/callback?code=c9&state={query['state'][0]}", allow_redirects=False
    )
    assert resp.headers["Location"] == "/admin"
    page = await client.get("/admin")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]


async def test_logout(client: TestClient, deps: Deps, corp: None) -> None:
    _, query = await _start(client, "/auth/login")
    _fake(deps).codes["c1"] = {"userid": "carol"}
    await client.get(f"/auth/login/callback?code=c1&state={query['state'][0]}")
    me = await client.get("/api/me")
    token = (await me.json())["csrf"]  # the page echoes the value /api/me hands out
    assert (await client.post("/auth/logout")).status == 403
    assert (await client.post("/auth/logout", headers={"X-CSRF-Token": token})).status == 200
    assert (await client.get("/api/me")).status == 401


async def test_login_page_is_public(client: TestClient) -> None:
    resp = await client.get("/admin/login")
    assert resp.status == 200
    assert "企业微信扫码登录" in await resp.text()


def test_safe_next() -> None:
    assert safe_next("/sidebar?a=1", "/d") == "/sidebar?a=1"
    for bad in ("//evil.com", "https://evil.com", "/\\evil.com", "evil", "", None, "/a\nb"):
        assert safe_next(bad, "/d") == "/d", bad
