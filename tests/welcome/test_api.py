"""Admins set the default welcome; staff cannot; bad input is a 400 naming the field."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.core import ConsoleRole
from tests.auth.support import csrf, sign_in

URL = "/api/welcome/default"


async def test_admin_sets_the_default_welcome(client: TestClient, deps: Deps) -> None:
    await ConsoleRole.create(userid="bob", role="admin")
    await sign_in(client, deps, "alice")
    assert (await client.get(URL)).status == 403
    await sign_in(client, deps, "bob")
    assert await (await client.get(URL)).json() == {"enabled": False, "text": ""}
    body = {"enabled": True, "text": "欢迎您"}
    resp = await client.put(URL, json=body, headers=csrf(client))
    assert resp.status == 200
    assert await (await client.get(URL)).json() == body
    bad = await client.put(URL, json={"enabled": True, "text": "长" * 4001}, headers=csrf(client))
    assert bad.status == 400
    assert "欢迎语内容" in (await bad.json())["error"]
    assert (await client.get("/api/welcome/log")).status == 200


async def test_an_edit_reaches_the_cached_default_at_once(client: TestClient, deps: Deps) -> None:
    from bot.events import ExternalContactEvent, event_from_dict
    from handlers.welcome import default_welcome

    event = event_from_dict(
        {
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": "bob",
            "ExternalUserID": "wmCached",
            "CreateTime": "1700000000",
        }
    )
    assert isinstance(event, ExternalContactEvent)
    assert await default_welcome(deps, event) is None  # cached: no default yet
    await ConsoleRole.create(userid="bob", role="admin")
    await sign_in(client, deps, "bob")
    body = {"enabled": True, "text": "新的欢迎语"}
    assert (await client.put(URL, json=body, headers=csrf(client))).status == 200
    welcome = await default_welcome(deps, event)
    assert welcome is not None and welcome.text == "新的欢迎语"
