"""menu/create, menu/get and menu/delete with WeCom's limits and error codes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import AGENT_ID, call, token_for

Client = TestClient[Any, Any]
CLICK = {"type": "click", "name": "帮助", "key": "help"}
VIEW = {"type": "view", "name": "工作台", "url": "https://example.com/sidebar"}
GOOD = {"button": [CLICK, {"name": "我的数据", "sub_button": [CLICK | {"key": "a"}, VIEW]}]}
BAD = {
    "4 buttons": ({"button": [CLICK] * 4}, 40016),
    "no buttons": ({"button": []}, 40016),
    "6 sub-buttons": ({"button": [{"name": "更多", "sub_button": [VIEW] * 6}]}, 40023),
    "long name": ({"button": [CLICK | {"name": "一二三四五六"}]}, 40018),
    "long sub name": (
        {"button": [{"name": "更多", "sub_button": [VIEW | {"name": "字" * 14}]}]},
        40025,
    ),
    "bad type": ({"button": [CLICK | {"type": "tap"}]}, 40017),
    "long key": ({"button": [CLICK | {"key": "k" * 129}]}, 40019),
    "no url": ({"button": [{"type": "view", "name": "页"}]}, 40055),
}


async def test_create_then_get(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    agent = str(AGENT_ID)
    missing = await call(api, token, "GET", "/cgi-bin/menu/get", agentid=agent)
    assert missing["errcode"] == 46003
    made = await call(api, token, "POST", "/cgi-bin/menu/create", json=GOOD, agentid=agent)
    assert made["errcode"] == 0
    got = await call(api, token, "GET", "/cgi-bin/menu/get", agentid=agent)
    assert got["button"] == GOOD["button"]
    wrong = await call(api, token, "POST", "/cgi-bin/menu/create", json=GOOD, agentid="1")
    assert wrong["errcode"] == 40056
    assert (await call(api, token, "GET", "/cgi-bin/menu/delete", agentid=agent))["errcode"] == 0
    assert corp.menu is None


@pytest.mark.parametrize("case", sorted(BAD))
async def test_create_refuses_what_wecom_refuses(api: Client, corp: Corp, case: str) -> None:
    token = await token_for(api)
    body, errcode = BAD[case]
    answer = await call(
        api, token, "POST", "/cgi-bin/menu/create", json=body, agentid=str(AGENT_ID)
    )
    assert answer["errcode"] == errcode, answer
    assert corp.menu is None
