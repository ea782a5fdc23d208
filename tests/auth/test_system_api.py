"""/api/me, /api/jssdk, /api/nav, console roles and the dead-letter list."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient

from bot.auth import CSRF_COOKIE, jsapi_signature
from bot.deps import Deps
from storage.core import ConsoleRole, InboxEvent, InboxStatus
from tests.auth.support import csrf, sign_in
from tests.support import FakeQueue

DOC_TICKET = (
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
)


def test_jsapi_signature_doc_vector() -> None:
    sig = jsapi_signature(
        DOC_TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value"
    )
    assert sig == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    with_fragment = jsapi_signature(
        DOC_TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x"
    )
    assert with_fragment == sig


async def test_me_sets_csrf_cookie(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "carol")
    resp = await client.get("/api/me")
    body = await resp.json()
    assert body["userid"] == "carol" and body["role"] == "staff"
    assert body["role_label"] == "普通员工" and body["corp_name"] == deps.settings.corp.name
    assert body["tz"] == deps.settings.corp.timezone == "Asia/Shanghai"
    assert resp.cookies[CSRF_COOKIE].value == body["csrf"]
    again = await client.get("/api/me")
    assert (await again.json())["csrf"] == body["csrf"] and CSRF_COOKIE not in again.cookies


async def test_jssdk_signs_both_configs(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "carol")
    url = "http://127.0.0.1/sidebar?sandbox_contact=wm1"
    resp = await client.get("/api/jssdk", params={"url": url + "#frag"})
    body = await resp.json()
    for key, ticket in (("config", "corp-ticket"), ("agentConfig", "agent-ticket")):
        part = body[key]
        text = f"jsapi_ticket={ticket}&noncestr={part['nonceStr']}&timestamp={part['timestamp']}"
        assert part["signature"] == hashlib.sha1(f"{text}&url={url}".encode()).hexdigest()
    assert body["config"]["appId"] == body["agentConfig"]["corpid"] == deps.settings.wecom.corp_id
    assert body["agentConfig"]["agentid"] == deps.settings.wecom.agent_id
    bad = await client.get("/api/jssdk", params={"url": "javascript:alert(1)"})
    assert bad.status == 400 and (await bad.json())["field"] == "url"


async def test_nav_filters_by_role(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "carol")
    body = await (await client.get("/api/nav?area=admin")).json()
    assert [e["title"] for e in body["entries"]] == ["排行榜"]
    await sign_in(client, deps, "admin")
    body = await (await client.get("/api/nav?area=admin")).json()
    assert [e["title"] for e in body["entries"]] == ["排行榜", "雷达"]
    assert (await client.get("/api/nav?area=nope")).status == 400


async def test_roles_grant_list_revoke(client: TestClient, deps: Deps, corp: None) -> None:
    await sign_in(client, deps, "admin")
    headers = csrf(client)
    grant = {"userid": "bob", "role": "dept_admin", "departments": [3, 3, 4]}
    resp = await client.post("/api/system/roles", json=grant, headers=headers)
    assert resp.status == 200
    row = await ConsoleRole.get(userid="bob")
    assert (row.role, row.departments, row.granted_by) == ("dept_admin", [3, 4], "admin")
    listed = await (await client.get("/api/system/roles")).json()
    assert [i["userid"] for i in listed["items"]] == ["bob"]
    assert listed["items"][0]["role_label"] == "部门管理员"
    resp = await client.delete("/api/system/roles?userid=bob", headers=headers)
    assert resp.status == 200 and await ConsoleRole.filter(userid="bob").count() == 0
    resp = await client.delete("/api/system/roles?userid=bob", headers=headers)
    assert resp.status == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"userid": "nobody", "role": "admin"}, "userid", "找不到该成员"),
        ({"userid": "bob", "role": "dept_admin"}, "departments", "至少要选择一个"),
        ({"userid": "bob", "role": "owner"}, "role", "角色的取值无效"),
        ({"role": "admin"}, "userid", "缺少必填项：成员账号"),
        ({"userid": "admin", "role": "admin"}, "userid", "超级管理员"),
    ],
)
async def test_role_grant_errors(
    client: TestClient, deps: Deps, corp: None, body: dict[str, object], field: str, message: str
) -> None:
    await sign_in(client, deps, "admin")
    resp = await client.post("/api/system/roles", json=body, headers=csrf(client))
    assert resp.status == 400
    err = await resp.json()
    assert err["field"] == field and message in err["error"], err


async def _inbox(status: InboxStatus, n: int) -> InboxEvent:
    return await InboxEvent.create(
        key=f"k{n}",
        kind="change_external_contact/add_external_contact",
        xml="<xml><ExternalUserID>secret-customer</ExternalUserID></xml>",
        received_at=datetime(2024, 5, 1, tzinfo=UTC),
        status=status,
        attempts=6,
        last_error="KeyError: 'x'",
    )


async def test_dead_letters_list_and_retry(client: TestClient, deps: Deps, corp: None) -> None:
    dead = await _inbox(InboxStatus.DEAD, 1)
    await _inbox(InboxStatus.DONE, 2)
    await sign_in(client, deps, "admin")
    resp = await client.get("/api/system/inbox?status=dead")
    text = await resp.text()
    assert "secret-customer" not in text and "xml" not in text.lower()
    body = await resp.json()
    assert body["total"] == 1 and body["items"][0]["id"] == dead.id
    assert body["items"][0]["last_error"] == "KeyError: 'x'"
    resp = await client.post(f"/api/system/inbox/{dead.id}/retry", headers=csrf(client))
    assert resp.status == 200 and (await resp.json())["queued"] is True
    row = await InboxEvent.get(id=dead.id)
    assert (row.status, row.attempts) == (InboxStatus.PENDING, 0)
    assert row.next_attempt_at is not None
    assert isinstance(deps.queue, FakeQueue)
    name, args, job_id, _ = deps.queue.jobs[0]
    assert (name, args) == ("process_inbox", (dead.id,))
    assert job_id is not None and job_id.startswith(f"inbox:{dead.id}:")


async def test_retry_errors(client: TestClient, deps: Deps, corp: None) -> None:
    done = await _inbox(InboxStatus.DONE, 2)
    await sign_in(client, deps, "admin")
    headers = csrf(client)
    assert (await client.post(f"/api/system/inbox/{done.id}/retry", headers=headers)).status == 409
    assert (await client.post("/api/system/inbox/999/retry", headers=headers)).status == 404
    assert (await client.get("/api/system/inbox?status=done")).status == 400
    assert (await client.get("/api/system/inbox?page=0")).status == 400
