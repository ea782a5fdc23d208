"""message/send, response codes, update_template_card, OAuth codes, tickets, media."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import AGENT_ID, CORP_ID, call, token_for

Client = TestClient[Any, Any]
SEND = "/cgi-bin/message/send"
UPDATE = "/cgi-bin/message/update_template_card"
BUTTON_CARD = {
    "card_type": "button_interaction",
    "task_id": "t1",
    "main_title": {"title": "新客户"},
    "button_list": [{"text": "查看", "key": "k1", "style": 1}],
}


async def test_send_text_records_each_recipient(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    body = await call(
        api,
        token,
        "POST",
        SEND,
        json={
            "touser": "zhangwei|ghost",
            "toparty": "2",
            "msgtype": "text",
            "agentid": AGENT_ID,
            "text": {"content": "你好"},
        },
    )
    assert body["errcode"] == 0 and body["invaliduser"] == "ghost" and body["msgid"]
    assert "response_code" not in body
    assert sorted(m.userid for m in corp.messages) == ["lina", "zhangwei"]
    bad = await call(
        api,
        token,
        "POST",
        SEND,
        json={"touser": "ghost", "msgtype": "text", "agentid": AGENT_ID, "text": {"content": "x"}},
    )
    assert bad["errcode"] == 81013
    wrong_agent = await call(
        api,
        token,
        "POST",
        SEND,
        json={"touser": "lina", "msgtype": "text", "agentid": 1, "text": {"content": "x"}},
    )
    assert wrong_agent["errcode"] == 40056
    long = await call(
        api,
        token,
        "POST",
        SEND,
        json={
            "touser": "lina",
            "msgtype": "text",
            "agentid": AGENT_ID,
            "text": {"content": "字" * 700},
        },
    )
    assert long["errcode"] == 45002


async def test_per_member_minute_cap_drops_silently(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    for _ in range(31):
        body = await call(
            api,
            token,
            "POST",
            SEND,
            json={
                "touser": "lina",
                "msgtype": "text",
                "agentid": AGENT_ID,
                "text": {"content": "x"},
            },
        )
        assert body["errcode"] == 0
    assert len(corp.inbox("lina")) == 30 and len(corp.dropped) == 1


async def test_response_code_is_single_use(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    sent = await call(
        api,
        token,
        "POST",
        SEND,
        json={
            "touser": "zhangwei|lina",
            "msgtype": "template_card",
            "agentid": AGENT_ID,
            "template_card": BUTTON_CARD,
        },
    )
    code = sent["response_code"]
    assert code
    dup = await call(
        api,
        token,
        "POST",
        SEND,
        json={
            "touser": "lina",
            "msgtype": "template_card",
            "agentid": AGENT_ID,
            "template_card": BUTTON_CARD,
        },
    )
    assert dup["errcode"] == 40058  # task_id unique per app
    update = {
        "userids": ["zhangwei", "ghost"],
        "agentid": AGENT_ID,
        "response_code": code,
        "button": {"replace_name": "已跟进"},
    }
    body = await call(api, token, "POST", UPDATE, json=update)
    assert body["errcode"] == 0 and body["invaliduser"] == ["ghost"]
    assert corp.inbox("zhangwei")[0].replace_name == "已跟进"
    assert corp.inbox("lina")[0].replace_name == ""
    assert (await call(api, token, "POST", UPDATE, json=update))["errcode"] == 40099


async def test_update_with_whole_card(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    sent = await call(
        api,
        token,
        "POST",
        SEND,
        json={
            "touser": "lina",
            "msgtype": "template_card",
            "agentid": AGENT_ID,
            "template_card": BUTTON_CARD,
        },
    )
    new_card = {**BUTTON_CARD, "main_title": {"title": "已处理"}}
    body = await call(
        api,
        token,
        "POST",
        UPDATE,
        json={
            "atall": 1,
            "agentid": AGENT_ID,
            "response_code": sent["response_code"],
            "template_card": new_card,
        },
    )
    assert body["errcode"] == 0
    card = corp.inbox("lina")[0].card
    assert card is not None and card["main_title"]["title"] == "已处理"
    body = await call(
        api,
        token,
        "POST",
        UPDATE,
        json={
            "atall": 1,
            "agentid": AGENT_ID,
            "response_code": "rcforged",
            "template_card": new_card,
        },
    )
    assert body["errcode"] == 40099


async def test_oauth_code_single_use(api: Client, corp: Corp) -> None:
    params = {
        "appid": CORP_ID,
        "redirect_uri": "http://127.0.0.1:9/sidebar?x=1",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "abc",
        "agentid": str(AGENT_ID),
    }
    picker = await api.get("/connect/oauth2/authorize", params=params, allow_redirects=False)
    assert picker.status == 200 and "张伟" in await picker.text()
    resp = await api.get(
        "/connect/oauth2/authorize",
        params={**params, "sandbox_user": "lina"},
        allow_redirects=False,
    )
    assert resp.status == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["state"] == ["abc"] and query["x"] == ["1"]
    token = await token_for(api)
    info = await call(api, token, "GET", "/cgi-bin/auth/getuserinfo", code=query["code"][0])
    assert info["userid"] == "lina"
    again = await call(api, token, "GET", "/cgi-bin/auth/getuserinfo", code=query["code"][0])
    assert again["errcode"] == 40029
    # the cookie set on the first pick makes the next authorisation silent
    resp = await api.get("/connect/oauth2/authorize", params=params, allow_redirects=False)
    assert resp.status == 302


async def test_oauth_as_customer_and_bad_appid(api: Client, corp: Corp) -> None:
    ext = corp.add_customer("小鱼").external_userid
    params = {
        "appid": CORP_ID,
        "redirect_uri": "http://127.0.0.1:9/r/t",
        "state": "s",
        "sandbox_customer": ext,
    }
    resp = await api.get("/connect/oauth2/authorize", params=params, allow_redirects=False)
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    token = await token_for(api)
    info = await call(api, token, "GET", "/cgi-bin/auth/getuserinfo", code=code)
    assert info["external_userid"] == ext and info["openid"] and "userid" not in info
    resp = await api.get(
        "/connect/oauth2/authorize", params={**params, "appid": "other"}, allow_redirects=False
    )
    assert resp.status == 400
    login = await api.get(
        "/wwlogin/sso/login",
        params={
            "login_type": "CorpApp",
            "appid": CORP_ID,
            "redirect_uri": "http://127.0.0.1:9/admin",
        },
    )
    assert login.status == 200 and "企业微信登录" in await login.text()


async def test_tickets_and_media(api: Client) -> None:
    token = await token_for(api)
    corp_ticket = await call(api, token, "GET", "/cgi-bin/get_jsapi_ticket")
    agent_ticket = await call(api, token, "GET", "/cgi-bin/ticket/get", type="agent_config")
    assert corp_ticket["ticket"] != agent_ticket["ticket"] and agent_ticket["expires_in"] == 7200
    form = aiohttp.FormData()
    form.add_field("media", b"\x89PNG fake image bytes", filename="a.png")
    resp = await api.post(
        "/cgi-bin/media/upload", params={"access_token": token, "type": "image"}, data=form
    )
    body = await resp.json()
    assert body["errcode"] == 0 and body["media_id"] and body["type"] == "image"
