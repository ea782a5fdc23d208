"""The sandbox refuses the cards and requests WeCom refuses, with WeCom's error codes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import AGENT_ID, call, token_for

Client = TestClient[Any, Any]
SEND = "/cgi-bin/message/send"
UPDATE = "/cgi-bin/message/update_template_card"
TEXT_CARD = {
    "card_type": "text_notice",
    "main_title": {"title": "新客户"},
    "card_action": {"type": 1, "url": "https://example.com/p"},
}
NEWS_CARD = {
    "card_type": "news_notice",
    "main_title": {"title": "活动报告"},
    "card_image": {"url": "https://example.com/a.png", "aspect_ratio": 1.3},
    "card_action": {"type": 1, "url": "https://example.com/p"},
}
BUTTON_CARD = {
    "card_type": "button_interaction",
    "task_id": "t1",
    "main_title": {"title": "新客户"},
    "button_list": [{"text": "已跟进", "key": "k1", "style": 1}],
}


def _without(card: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(card)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _with(card: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return copy.deepcopy(card) | fields


ROWS = [{"keyname": f"k{i}", "value": "v"} for i in range(7)]
JUMPS = [{"type": 1, "title": f"j{i}", "url": "https://example.com"} for i in range(4)]
REFUSED = {
    "no title": _without(TEXT_CARD, "main_title", "title"),
    "7 key/value rows": _with(TEXT_CARD, horizontal_content_list=ROWS),
    "4 jump links": _with(TEXT_CARD, jump_list=JUMPS),
    "news without card action": _without(NEWS_CARD, "card_action"),
    "news without image": _without(NEWS_CARD, "card_image"),
    "text without card action": _without(TEXT_CARD, "card_action"),
    "task_id with a space": _with(BUTTON_CARD, task_id="task 1"),
    "task_id with a colon": _with(BUTTON_CARD, task_id="lb:1"),
    "task_id over 128": _with(BUTTON_CARD, task_id="t" * 129),
    "button key over 1024 bytes": _with(
        BUTTON_CARD, button_list=[{"text": "x", "key": "键" * 342, "style": 1}]
    ),
    "button without key": _with(BUTTON_CARD, button_list=[{"text": "x", "style": 1}]),
    "interactive without task_id": _without(BUTTON_CARD, "task_id"),
    "jump without url": _with(TEXT_CARD, jump_list=[{"type": 1, "title": "j"}]),
}


async def _send(api: Client, token: str, card: dict[str, Any], touser: str = "lina") -> Any:
    body = {"touser": touser, "msgtype": "template_card", "agentid": AGENT_ID}
    return await call(api, token, "POST", SEND, json=body | {"template_card": card})


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_send_refuses_what_wecom_refuses(api: Client, corp: Corp, case: str) -> None:
    token = await token_for(api)
    body = await _send(api, token, REFUSED[case])
    assert body["errcode"] == 40058, (case, body)
    assert "invalid parameter" in body["errmsg"]
    assert corp.messages == []


async def test_valid_cards_pass(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    title_only_sub = _with(_without(TEXT_CARD, "main_title"), sub_title_text="只有二级文本")
    key_1024 = _with(BUTTON_CARD, task_id="t-2@x_Y", button_list=[{"text": "x", "key": "k" * 1024}])
    for card in (TEXT_CARD, NEWS_CARD, BUTTON_CARD, title_only_sub, key_1024):
        body = await _send(api, token, card)
        assert body["errcode"] == 0, (card, body)


async def test_more_than_1000_recipients_refused(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    many = "|".join(f"u{i}" for i in range(1001))
    assert (await _send(api, token, TEXT_CARD, touser=many))["errcode"] == 40058
    sent = await _send(api, token, BUTTON_CARD)
    update = {
        "userids": [f"u{i}" for i in range(1001)],
        "agentid": AGENT_ID,
        "response_code": sent["response_code"],
        "button": {"replace_name": "已处理"},
    }
    assert (await call(api, token, "POST", UPDATE, json=update))["errcode"] == 40058


async def test_update_refuses_a_bad_card(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    sent = await _send(api, token, BUTTON_CARD)
    update = {
        "userids": ["lina"],
        "agentid": AGENT_ID,
        "response_code": sent["response_code"],
        "template_card": _with(TEXT_CARD, jump_list=JUMPS),
    }
    assert (await call(api, token, "POST", UPDATE, json=update))["errcode"] == 40058
    assert corp.messages[0].card == BUTTON_CARD
