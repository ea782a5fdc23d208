"""A sandbox WeCom on a free loopback port, over a small corp with a clock the test moves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
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
