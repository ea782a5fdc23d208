from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bot.auth import (
    SESSION_COOKIE,
    SESSION_PURPOSE,
    is_active_member,
    load_principal,
    scope_userids,
)
from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.dispatcher import Dispatcher
from bot.embedded_redis import EmbeddedRedis
from bot.settings import DEV_SECRET, Settings
from bot.signing import Signer
from handlers.system import router as system_router
from storage.core import ConsoleRole
from tests.auth.support import FakeWeCom, build_app, probe, sign_in
from tests.conftest import make_settings
from tests.support import fake_deps, with_directory


async def test_session_round_trip(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "alice")
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
    await sign_in(client, deps, "gone")
    resp = await client.get("/api/probe/admin")
    assert resp.status == 401


DIRECTORY = Dispatcher(with_directory([]))  # the facts feature's lookups, as in production


async def test_role_resolution(settings: Settings, corp: None) -> None:
    await ConsoleRole.create(userid="alice", role="admin")
    await ConsoleRole.create(userid="bob", role="dept_admin", departments=[3, 4])
    assert (await load_principal("admin", settings, DIRECTORY)).role is Role.SUPER_ADMIN
    alice = await load_principal("alice", settings, DIRECTORY)
    assert (alice.role, alice.name) == (Role.ADMIN, "Alice")
    bob = await load_principal("bob", settings, DIRECTORY)
    assert (bob.role, bob.departments) == (Role.DEPT_ADMIN, frozenset({3, 4}))
    carol = await load_principal("carol", settings, DIRECTORY)
    assert (carol.role, carol.departments) == (Role.STAFF, frozenset())
    stranger = await load_principal("newcomer", settings, DIRECTORY)  # not yet synced
    assert (stranger.role, stranger.name) == (Role.STAFF, "newcomer")
    assert await is_active_member("alice", DIRECTORY)
    assert not await is_active_member("gone", DIRECTORY)


async def test_super_admin_in_config_wins_over_a_grant(settings: Settings, corp: None) -> None:
    await ConsoleRole.create(userid="admin", role="dept_admin", departments=[2])
    assert (await load_principal("admin", settings, DIRECTORY)).role is Role.SUPER_ADMIN


async def test_scope_userids(settings: Settings, corp: None) -> None:
    assert await scope_userids(Principal("x", "X", Role.ADMIN)) is None
    assert await scope_userids(Principal("carol", "C", Role.STAFF)) == {"carol"}
    # Department 2 includes its child 3: alice (2), bob (3), dave (3, 4), and the member who
    # left stays visible so old data can still be read.
    await ConsoleRole.create(userid="carol", role="dept_admin", departments=[2])
    sales = await scope_userids(await load_principal("carol", settings, DIRECTORY))
    assert sales == {"alice", "bob", "dave", "gone", "carol"}
    await ConsoleRole.create(userid="zed", role="dept_admin", departments=[4])
    support = await scope_userids(await load_principal("zed", settings, DIRECTORY))
    assert support == {"carol", "dave", "zed"}
    # Without a directory the core knows nobody else: a dept admin sees only their own data.
    alone = Principal("zed", "Z", Role.DEPT_ADMIN, frozenset({4}))
    assert await scope_userids(alone) == {"zed"}


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
    await sign_in(client, deps, "admin")
    assert (await client.get("/api/probe/admin")).status == 200
