"""wrap_view: who may call what, and the CSRF double-submit check."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.core import ConsoleRole
from tests.auth.support import csrf, sign_in


@pytest.fixture
async def grants(corp: None) -> None:
    await ConsoleRole.create(userid="alice", role="admin")
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[4])


async def test_api_without_session_is_401_with_login_link(client: TestClient) -> None:
    resp = await client.get("/api/probe/admin", headers={"Referer": "/sidebar?x=1"})
    assert resp.status == 401
    body = await resp.json()
    assert body["error"] == "请先登录"
    assert body["login"] == "/auth/oauth?next=%2Fsidebar%3Fx%3D1"
    resp = await client.get("/api/me")
    assert (await resp.json())["login"] == "/admin/login?next=%2Fadmin"


async def test_page_without_session_redirects_to_login(client: TestClient) -> None:
    resp = await client.get("/admin", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/admin/login?next=%2Fadmin")
    resp = await client.get("/sidebar?sandbox_contact=wm1", allow_redirects=False)
    assert resp.headers["Location"] == "/auth/oauth?next=%2Fsidebar%3Fsandbox_contact%3Dwm1"


@pytest.mark.parametrize(
    ("userid", "admin_route", "roles_route", "inbox_route"),
    [
        ("carol", 403, 403, 403),  # staff
        ("bob", 403, 403, 403),  # dept_admin
        ("alice", 200, 403, 200),  # admin
        ("admin", 200, 200, 200),  # super admin from config
    ],
)
async def test_role_matrix(
    client: TestClient,
    deps: Deps,
    grants: None,
    userid: str,
    admin_route: int,
    roles_route: int,
    inbox_route: int,
) -> None:
    await sign_in(client, deps, userid)
    assert (await client.get("/api/probe/admin")).status == admin_route
    assert (await client.get("/api/system/roles")).status == roles_route
    assert (await client.get("/api/system/inbox")).status == inbox_route
    assert (await client.get("/api/me")).status == 200


async def test_forbidden_message_names_the_role(
    client: TestClient, deps: Deps, grants: None
) -> None:
    await sign_in(client, deps, "carol")
    resp = await client.get("/api/probe/admin")
    assert (await resp.json()) == {"error": "没有权限：需要管理员"}


async def test_scope_helper_per_role(client: TestClient, deps: Deps, grants: None) -> None:
    expected = {"carol": ["carol"], "bob": ["bob", "carol", "dave"], "alice": None}
    for userid, scope in expected.items():
        await sign_in(client, deps, userid)
        resp = await client.get("/api/probe/scope")
        assert (await resp.json()) == {"scope": scope}, userid


async def test_post_needs_matching_csrf(client: TestClient, deps: Deps, grants: None) -> None:
    await sign_in(client, deps, "carol")
    resp = await client.post("/api/probe/write")
    assert resp.status == 403
    assert (await resp.json()) == {"error": "CSRF 校验失败，请刷新页面"}
    headers = csrf(client)
    resp = await client.post("/api/probe/write", headers={"X-CSRF-Token": "wrong-token-value-xx"})
    assert resp.status == 403
    resp = await client.post("/api/probe/write", headers=headers)
    assert resp.status == 200


async def test_header_without_cookie_fails(client: TestClient, deps: Deps, grants: None) -> None:
    await sign_in(client, deps, "carol")
    resp = await client.post("/api/probe/write", headers={"X-CSRF-Token": "a" * 30})
    assert resp.status == 403


async def test_login_comes_before_csrf(client: TestClient) -> None:
    assert (await client.post("/api/probe/write")).status == 401
