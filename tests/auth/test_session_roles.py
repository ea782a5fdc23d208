from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bot.auth import SESSION_COOKIE, SESSION_PURPOSE, load_principal, scope_userids
from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.settings import DEV_SECRET, Settings
from bot.signing import Signer
from handlers.system import router as system_router
from storage.core import ConsoleRole
from tests.auth.support import FakeWeCom, build_app, probe, sign_in
from tests.conftest import make_settings
from tests.support import fake_deps


async def test_session_round_trip(client: TestClient, deps: Deps, corp: None) -> None:
    sign_in(client, deps, "alice")
    resp = await client.get("/api/probe/public")
    assert (await resp.json()) == {"user": "alice"}


async def test_tampered_session_is_anonymous(client: TestClient, deps: Deps, corp: None) -> None:
    good = deps.signer.dumps("session", {"u": "alice", "iat": 0}, 3600)
    body, _, mac = good.partition(".")
    forged = deps.signer.dumps("session", {"u": "admin", "iat": 0}, 3600).split(".")[0]
    for value in (f"{forged}.{mac}", good[:-2] + "xx", "garbage", f"{body}."):
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})
        resp = await client.get("/api/probe/public")
        assert (await resp.json()) == {"user": None}, value


async def test_other_purpose_signature_is_refused(
    client: TestClient, deps: Deps, corp: None
) -> None:
    value = deps.signer.dumps("link", {"u": "alice", "iat": 0}, 3600)
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})
    assert (await (await client.get("/api/probe/public")).json()) == {"user": None}


async def test_expired_session_is_anonymous(client: TestClient, deps: Deps, corp: None) -> None:
    value = deps.signer.dumps("session", {"u": "alice", "iat": 0}, -5)
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})
    assert (await (await client.get("/api/probe/public")).json()) == {"user": None}


async def test_member_who_left_loses_the_session(
    client: TestClient, deps: Deps, corp: None
) -> None:
    sign_in(client, deps, "gone")
    resp = await client.get("/api/probe/admin")
    assert resp.status == 401


async def test_role_resolution(settings: Settings, corp: None) -> None:
    await ConsoleRole.create(userid="alice", role="admin")
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[3, 4])
    assert (await load_principal("admin", settings)).role is Role.SUPER_ADMIN
    alice = await load_principal("alice", settings)
    assert (alice.role, alice.name) == (Role.ADMIN, "Alice")
    bob = await load_principal("bob", settings)
    assert (bob.role, bob.departments) == (Role.DEPT_ADMIN, frozenset({3, 4}))
    carol = await load_principal("carol", settings)
    assert (carol.role, carol.departments) == (Role.STAFF, frozenset())
    stranger = await load_principal("newcomer", settings)  # OAuth-verified, not yet synced
    assert (stranger.role, stranger.name) == (Role.STAFF, "newcomer")


async def test_super_admin_in_config_wins_over_a_grant(settings: Settings, corp: None) -> None:
    await ConsoleRole.create(userid="admin", role="dept_admin", departments=[2])
    assert (await load_principal("admin", settings)).role is Role.SUPER_ADMIN


async def test_scope_userids(corp: None) -> None:
    assert await scope_userids(Principal("x", "X", Role.ADMIN)) is None
    assert await scope_userids(Principal("carol", "C", Role.STAFF)) == {"carol"}
    # Department 2 includes its child 3: alice (2), bob (3), dave (3, 4), and the member who
    # left stays visible so old data can still be read.
    sales = await scope_userids(Principal("carol", "C", Role.DEPT_ADMIN, frozenset({2})))
    assert sales == {"alice", "bob", "dave", "gone", "carol"}
    support = await scope_userids(Principal("zed", "Z", Role.DEPT_ADMIN, frozenset({4})))
    assert support == {"carol", "dave", "zed"}


async def test_cookie_forged_with_the_public_secret_fails_on_a_configured_server(
    tmp_path: Path,
    db_url: str,
    redis: Redis,
    redis_server: EmbeddedRedis,
    corp: None,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient]],
) -> None:
    secret = "Qm3v8K1xZp4T9wLr2Yh6Nc7Bd5Fg0Sj-aE_uXo"
    settings = make_settings(tmp_path, db_url, redis_server.url, security={"secret": secret})
    deps = fake_deps(settings, redis, [system_router, probe], FakeWeCom())
    client = await aiohttp_client(build_app(deps))
    forged = Signer(DEV_SECRET).dumps(SESSION_PURPOSE, {"u": "admin", "iat": 0}, 3600)
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: forged})
    assert (await client.get("/api/probe/admin")).status == 401
    sign_in(client, deps, "admin")
    assert (await client.get("/api/probe/admin")).status == 200
