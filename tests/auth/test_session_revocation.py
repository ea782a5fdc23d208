"""Sessions live in the database: logout revokes them at once, the CSRF token belongs to
one session, and starting a login stores nothing server-side."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot import sessions
from bot.auth import CSRF_HEADER, SESSION_COOKIE
from bot.deps import Deps
from storage.core import WebSession
from tests.auth.support import csrf, sign_in
from tests.support import session_value


def _use(client: TestClient, value: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})


async def test_logout_revokes_the_cookie(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    captured = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE]
    assert (await client.get("/api/probe/admin")).status == 200
    resp = await client.post("/auth/logout", headers=csrf(client))
    assert resp.status == 200
    _use(client, captured.value)  # the captured cookie, replayed after the logout
    assert (await client.get("/api/probe/admin")).status == 401
    assert await WebSession.filter(revoked_at__isnull=False).count() == 1


async def test_revoking_a_member_ends_all_their_sessions(
    client: TestClient, deps: Deps, corp: None
) -> None:
    values = [await session_value(deps, "alice") for _ in range(2)]
    assert await sessions.revoke_user("alice") == 2
    for value in values:
        _use(client, value)
        assert (await client.get("/api/probe/public")).status == 200
        assert (await (await client.get("/api/probe/public")).json()) == {"user": None}


async def test_csrf_token_is_bound_to_the_session(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "alice")
    mine = csrf(client)
    other_value = await session_value(deps, "bob")
    other_id = deps.signer.loads("session", other_value)["s"]  # type: ignore[index]
    others = {CSRF_HEADER: sessions.csrf_for(deps.signer, other_id)}
    assert (await client.post("/api/probe/write", headers=others)).status == 403
    # an attacker's double-submitted pair is no longer enough once signed in
    planted = "t0k3n-abcdefghijklmnopqrstuv"
    client.session.cookie_jar.update_cookies({"scrmbot_csrf": planted})
    assert (await client.post("/api/probe/write", headers={CSRF_HEADER: planted})).status == 403
    assert (await client.post("/api/probe/write", headers=mine)).status == 200


async def test_me_hands_out_the_session_token(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "alice")
    body = await (await client.get("/api/me")).json()
    assert {CSRF_HEADER: body["csrf"]} == csrf(client)


async def test_starting_logins_stores_nothing(client: TestClient, deps: Deps) -> None:
    before = await deps.redis.dbsize()
    for _ in range(50):
        resp = await client.get("/auth/login?next=/admin", allow_redirects=False)
        assert resp.status == 302
    assert await deps.redis.dbsize() == before
