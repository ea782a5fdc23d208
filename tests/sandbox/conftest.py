"""A sandbox WeCom on a free loopback port, over a small corp with a clock the test moves, and
a driver playing callbacks to an endpoint that decrypts and parses them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.crypto import WeComCrypto
from bot.events import Event, TemplateCardEvent, parse_event
from bot.replies import CardReply, passive_reply_xml
from bot.sandbox.corp import Corp
from bot.sandbox.driver import SandboxDriver
from bot.sandbox.server import create_sandbox_app

CORP_ID = "wwsandboxtest"
SECRETS = {"app": "app-secret", "contact": "contact-secret"}
AGENT_ID = 1000002


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def corp(clock: Clock) -> Corp:
    corp = Corp(clock=clock)
    corp.add_department(2, "销售部")
    corp.add_staff("zhangwei", "张伟", [2])
    corp.add_staff("lina", "李娜", [2])
    corp.add_staff("admin", "陈静", [1])
    return corp


@pytest.fixture
async def api(
    corp: Corp, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> TestClient[Any, Any]:
    app = create_sandbox_app(corp, corp_id=CORP_ID, secrets=SECRETS, agent_id=AGENT_ID)
    return await aiohttp_client(app)


async def token_for(api: TestClient[Any, Any], kind: str = "app") -> str:
    resp = await api.get(
        "/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": SECRETS[kind]}
    )
    body = await resp.json()
    assert body["errcode"] == 0, body
    return str(body["access_token"])


async def call(
    api: TestClient[Any, Any],
    token: str,
    method: str,
    path: str,
    json: dict[str, Any] | None = None,
    **params: str,
) -> dict[str, Any]:
    resp = await api.request(method, path, params={"access_token": token, **params}, json=json)
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@dataclass
class Endpoint:
    """The service's callback endpoint, reduced to decrypt + parse + an optional reply."""

    crypto: WeComCrypto
    events: list[Event] = field(default_factory=list)
    reply: CardReply | None = None

    async def handle(self, request: web.Request) -> web.Response:
        q = request.query
        xml = self.crypto.decrypt_callback(
            q["msg_signature"], q["timestamp"], q["nonce"], await request.read()
        )
        event = parse_event(xml)
        self.events.append(event)
        if isinstance(event, TemplateCardEvent) and self.reply is not None:
            plain = passive_reply_xml(self.reply, event.from_user, CORP_ID)
            return web.Response(text=self.crypto.encrypt_reply(plain))
        return web.Response(text="")


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto("sandboxtoken", AES_KEY, CORP_ID)


@pytest.fixture
async def endpoint(
    crypto: WeComCrypto, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> Endpoint:
    ep = Endpoint(crypto)
    app = web.Application()
    app.router.add_post("/wecom/callback", ep.handle)
    ep.server = await aiohttp_server(app)  # type: ignore[attr-defined]
    return ep


@pytest.fixture
async def driver(
    corp: Corp, crypto: WeComCrypto, endpoint: Endpoint
) -> AsyncIterator[SandboxDriver]:
    url = str(endpoint.server.make_url("/wecom/callback"))  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as session:
        yield SandboxDriver(corp, url, crypto, session, AGENT_ID)
