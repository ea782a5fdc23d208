"""Customer-contact APIs: paging, tags, contact ways, welcome codes."""

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import Clock, call, token_for

Client = TestClient[Any, Any]
EC = "/cgi-bin/externalcontact"


@pytest.fixture
def customers(corp: Corp) -> list[str]:
    ids = []
    for i in range(7):
        ext = corp.add_customer(f"客户{i}", unionid=f"union{i}").external_userid
        corp.add_follow("zhangwei", ext, state="s1", add_way=1)
        ids.append(ext)
    corp.add_follow("lina", ids[0])
    return ids


async def test_get_and_list(api: Client, customers: list[str]) -> None:
    token = await token_for(api, "contact")
    body = await call(api, token, "GET", f"{EC}/get", external_userid=customers[0])
    assert body["external_contact"]["name"] == "客户0"
    assert {f["userid"] for f in body["follow_user"]} == {"zhangwei", "lina"}
    assert body["follow_user"][0]["state"] == "s1"
    listed = await call(api, token, "GET", f"{EC}/list", userid="zhangwei")
    assert listed["external_userid"] == customers
    assert (await call(api, token, "GET", f"{EC}/list", userid="admin"))["errcode"] == 84061
    assert (await call(api, token, "GET", f"{EC}/get", external_userid="wmx"))["errcode"] == 40096


async def test_batch_get_by_user_pages_with_cursor(api: Client, customers: list[str]) -> None:
    token = await token_for(api)
    seen, cursor, pages = [], "", 0
    while True:
        body = await call(
            api,
            token,
            "POST",
            f"{EC}/batch/get_by_user",
            json={"userid_list": ["zhangwei", "lina"], "cursor": cursor, "limit": 3},
        )
        assert body["errcode"] == 0, body
        seen += [
            (i["follow_info"]["userid"], i["external_contact"]["external_userid"])
            for i in body["external_contact_list"]
        ]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 8 and len(set(seen)) == 8
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/batch/get_by_user",
        json={"userid_list": ["zhangwei"], "limit": 101},
    )
    assert body["errcode"] == 40058


async def test_groupchat_list_and_get(api: Client, corp: Corp, customers: list[str]) -> None:
    chats = [corp.create_group("zhangwei", f"群{i}", customers[:2]) for i in range(3)]
    corp.create_group("lina", "李娜的群")
    token = await token_for(api)
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/groupchat/list",
        json={"owner_filter": {"userid_list": ["zhangwei"]}, "limit": 2},
    )
    assert [g["chat_id"] for g in body["group_chat_list"]] == [c.chat_id for c in chats[:2]]
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/groupchat/list",
        json={
            "owner_filter": {"userid_list": ["zhangwei"]},
            "limit": 2,
            "cursor": body["next_cursor"],
        },
    )
    assert [g["chat_id"] for g in body["group_chat_list"]] == [chats[2].chat_id]
    assert body["next_cursor"] == ""
    assert (await call(api, token, "POST", f"{EC}/groupchat/list", json={}))["errcode"] == 40058
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/groupchat/get",
        json={"chat_id": chats[0].chat_id, "need_name": 1},
    )
    chat = body["group_chat"]
    assert chat["member_version"] == chats[0].member_version
    assert [(m["type"], m.get("name")) for m in chat["member_list"]] == [
        (1, "张伟"),
        (2, "客户0"),
        (2, "客户1"),
    ]
    assert chat["member_list"][1]["invitor"] == {"userid": "zhangwei"}
    assert (await call(api, token, "POST", f"{EC}/groupchat/get", json={"chat_id": "x"}))[
        "errcode"
    ] == 40050


async def test_tags_and_mark_tag(api: Client, corp: Corp, customers: list[str]) -> None:
    token = await token_for(api)
    added = await call(
        api,
        token,
        "POST",
        f"{EC}/add_corp_tag",
        json={"group_name": "等级", "tag": [{"name": "A"}, {"name": "B"}]},
    )
    tag_a, tag_b = (t["id"] for t in added["tag_group"]["tag"])
    listed = await call(api, token, "POST", f"{EC}/get_corp_tag_list", json={"tag_id": [tag_b]})
    assert [t["name"] for t in listed["tag_group"][0]["tag"]] == ["B"]
    stranger = corp.add_customer("路人").external_userid
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/mark_tag",
        json={"userid": "zhangwei", "external_userid": stranger, "add_tag": [tag_a]},
    )
    assert body["errcode"] == 84061
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/mark_tag",
        json={"userid": "zhangwei", "external_userid": customers[0], "add_tag": ["etnope"]},
    )
    assert body["errcode"] == 40068
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/mark_tag",
        json={"userid": "zhangwei", "external_userid": customers[0], "add_tag": [tag_a, tag_b]},
    )
    assert body["errcode"] == 0
    got = await call(api, token, "GET", f"{EC}/get", external_userid=customers[0])
    mine = next(f for f in got["follow_user"] if f["userid"] == "zhangwei")
    assert [t["tag_name"] for t in mine["tags"]] == ["A", "B"]
    await call(api, token, "POST", f"{EC}/del_corp_tag", json={"tag_id": [tag_a]})
    assert corp.follows[("zhangwei", customers[0])].tag_ids == [tag_b]


async def test_contact_way_state_limit(api: Client) -> None:
    token = await token_for(api)
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/add_contact_way",
        json={"type": 1, "scene": 2, "state": "x" * 31, "user": ["zhangwei"]},
    )
    assert body["errcode"] == 40058
    body = await call(
        api,
        token,
        "POST",
        f"{EC}/add_contact_way",
        json={"type": 1, "scene": 2, "state": "lb_7", "user": ["zhangwei"]},
    )
    assert body["errcode"] == 0 and body["qr_code"].endswith(f"/sandbox/qr/{body['config_id']}.png")
    got = await call(
        api, token, "POST", f"{EC}/get_contact_way", json={"config_id": body["config_id"]}
    )
    assert got["contact_way"]["state"] == "lb_7"
    await call(api, token, "POST", f"{EC}/del_contact_way", json={"config_id": body["config_id"]})
    got = await call(
        api, token, "POST", f"{EC}/get_contact_way", json={"config_id": body["config_id"]}
    )
    assert got["errcode"] == 40058


async def test_welcome_code_window_and_single_use(
    api: Client, corp: Corp, clock: Clock, customers: list[str]
) -> None:
    token = await token_for(api)
    msg = {"text": {"content": "欢迎！"}}
    code = corp.issue_welcome_code("zhangwei", customers[0])
    ok = await call(
        api, token, "POST", f"{EC}/send_welcome_msg", json={"welcome_code": code, **msg}
    )
    assert ok["errcode"] == 0
    again = await call(
        api, token, "POST", f"{EC}/send_welcome_msg", json={"welcome_code": code, **msg}
    )
    assert again["errcode"] == 41051
    late = corp.issue_welcome_code("zhangwei", customers[1])
    clock.t += 21
    body = await call(
        api, token, "POST", f"{EC}/send_welcome_msg", json={"welcome_code": late, **msg}
    )
    assert body["errcode"] == 41051
    assert [w.external_userid for w in corp.welcome_messages] == [customers[0]]


async def test_unionid_to_external_userid(api: Client, customers: list[str]) -> None:
    token = await token_for(api)
    body = await call(
        api, token, "POST", f"{EC}/unionid_to_external_userid", json={"unionid": "union3"}
    )
    assert body["external_userid"] == customers[3]
    body = await call(
        api, token, "POST", f"{EC}/unionid_to_external_userid", json={"unionid": "stranger"}
    )
    assert "external_userid" not in body and body["pending_id"]
