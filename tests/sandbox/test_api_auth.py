"""Tokens, secrets' permissions, fault injection and the call log."""

from typing import Any

from aiohttp.test_utils import TestClient

from tests.sandbox.conftest import CORP_ID, Clock, call, token_for

Client = TestClient[Any, Any]


async def test_gettoken_rejects_wrong_secret_and_corp(api: Client) -> None:
    resp = await api.get("/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": "nope"})
    assert (await resp.json())["errcode"] == 40001
    resp = await api.get("/cgi-bin/gettoken", params={"corpid": "x", "corpsecret": "app-secret"})
    assert (await resp.json())["errcode"] == 40013
    body = await (
        await api.get("/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": "app-secret"})
    ).json()
    assert body["errcode"] == 0 and body["expires_in"] == 7200 and body["access_token"]


async def test_token_missing_unknown_expired(api: Client, clock: Clock) -> None:
    resp = await api.get("/cgi-bin/user/get", params={"userid": "lina"})
    assert (await resp.json())["errcode"] == 41001
    assert (await call(api, "forged", "GET", "/cgi-bin/user/get", userid="lina"))[
        "errcode"
    ] == 40014
    token = await token_for(api)
    assert (await call(api, token, "GET", "/cgi-bin/user/get", userid="lina"))["name"] == "李娜"
    clock.t += 7201
    assert (await call(api, token, "GET", "/cgi-bin/user/get", userid="lina"))["errcode"] == 42001


async def test_expire_tokens_endpoint(api: Client) -> None:
    token = await token_for(api)
    assert (await api.post("/sandbox/api/expire_tokens")).status == 200
    assert (await call(api, token, "GET", "/cgi-bin/user/get", userid="lina"))["errcode"] == 42001
    fresh = await token_for(api)
    assert (await call(api, fresh, "GET", "/cgi-bin/user/get", userid="lina"))["errcode"] == 0


async def test_contact_secret_cannot_read_the_directory(api: Client) -> None:
    token = await token_for(api, "contact")
    for path in ("/cgi-bin/user/list", "/cgi-bin/department/list"):
        body = await call(api, token, "GET", path, department_id="1")
        assert body["errcode"] == 60011, path
        assert "no privilege" in body["errmsg"]
    body = await call(api, token, "POST", "/cgi-bin/message/send", json={})
    assert body["errcode"] == 48002
    body = await call(api, token, "GET", "/cgi-bin/externalcontact/get_follow_user_list")
    assert body["errcode"] == 0


async def test_app_secret_reads_directory_and_customers(api: Client) -> None:
    token = await token_for(api)
    users = await call(api, token, "GET", "/cgi-bin/user/list", department_id="1", fetch_child="1")
    assert {u["userid"] for u in users["userlist"]} == {"zhangwei", "lina", "admin"}
    only_root = await call(api, token, "GET", "/cgi-bin/user/list", department_id="1")
    assert [u["userid"] for u in only_root["userlist"]] == ["admin"]
    depts = await call(api, token, "GET", "/cgi-bin/department/list")
    assert {d["id"] for d in depts["department"]} == {1, 2}
    assert (await call(api, token, "GET", "/cgi-bin/user/get", userid="ghost"))["errcode"] == 60111
    body = await call(api, token, "GET", "/cgi-bin/externalcontact/get_follow_user_list")
    assert body["errcode"] == 0


async def test_fault_injection_counts_down(api: Client) -> None:
    token = await token_for(api)
    resp = await api.post(
        "/sandbox/api/faults", json={"path": "/cgi-bin/user/get", "errcode": 45009, "count": 2}
    )
    assert resp.status == 200
    codes = [
        (await call(api, token, "GET", "/cgi-bin/user/get", userid="lina"))["errcode"]
        for _ in range(3)
    ]
    assert codes == [45009, 45009, 0]
    calls = (await (await api.get("/sandbox/api/calls")).json())["calls"]
    user_calls = [c["errcode"] for c in calls if c["path"] == "/cgi-bin/user/get"]
    assert user_calls == [45009, 45009, 0]
    assert [c["path"] for c in calls].count("/cgi-bin/gettoken") == 1
    await api.post("/sandbox/api/reset_calls")
    assert (await (await api.get("/sandbox/api/calls")).json())["calls"] == []


async def test_fault_rejects_bad_input(api: Client) -> None:
    resp = await api.post("/sandbox/api/faults", json={"path": "/nope", "errcode": 1})
    assert resp.status == 400
    resp = await api.post("/sandbox/api/faults", data=b"{not json")
    assert resp.status == 400
    assert "JSON" in (await resp.json())["error"]


async def test_unknown_api_answers_like_wecom(api: Client) -> None:
    token = await token_for(api)
    body = await call(api, token, "GET", "/cgi-bin/no/such/api")
    assert body["errcode"] == 48002
