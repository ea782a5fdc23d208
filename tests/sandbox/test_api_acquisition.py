"""获客链接 in the sandbox: only the app's secret (and only while the app is in 可调用应用),
≤ 100 members, unknown or deleted links refused, the customer_channel back as State, one unit
of quota per new customer and no add once the quota is used up (W5)."""

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from bot.crypto import WeComCrypto
from bot.events import ExternalContactEvent
from bot.sandbox.corp import Corp
from bot.sandbox.driver import SandboxDriver
from bot.sandbox.errors import SandboxError
from bot.sandbox.server import create_sandbox_app
from tests.sandbox.conftest import AGENT_ID, CORP_ID, SECRETS, Endpoint, call, token_for

Client = TestClient[Any, Any]
CA = "/cgi-bin/externalcontact/customer_acquisition"
QUOTA = "/cgi-bin/externalcontact/customer_acquisition_quota"


async def _create(api: Client, token: str, users: list[str], **kw: Any) -> dict[str, Any]:
    body = {"link_name": "春季裂变", "range": {"user_list": users}, "skip_verify": True, **kw}
    return await call(api, token, "POST", f"{CA}/create_link", json=body)


async def test_only_an_app_in_the_callable_apps_may_call(api: Client, corp: Corp) -> None:
    contact = await token_for(api, "contact")
    assert (await _create(api, contact, ["zhangwei"]))["errcode"] == 48002
    assert (await call(api, contact, "GET", QUOTA))["errcode"] == 48002
    app = await token_for(api, "app")
    quota = await call(api, app, "GET", QUOTA)
    assert (quota["errcode"], quota["total"], quota["balance"]) == (0, 1000, 1000)
    corp.acquisition_api_allowed = False
    assert (await _create(api, app, ["zhangwei"]))["errcode"] == 48002
    assert (await call(api, app, "GET", QUOTA))["errcode"] == 48002
    assert not corp.acquisition_links


async def test_links_range_and_unknown_ids(api: Client, corp: Corp) -> None:
    token = await token_for(api)
    for n in range(99):
        corp.add_staff(f"s{n}", f"员工{n}", [3])
    corp.add_department(3, "地推")
    many = [f"s{n}" for n in range(99)]
    # 99 + zhangwei + lina (department 2) = 101 members: refused; 100 are fine
    scope = {"user_list": [*many, "zhangwei"], "department_list": [2]}
    refused = await _create(api, token, [], range=scope)
    assert refused["errcode"] == 40058 and "101" in refused["errmsg"]
    assert (await _create(api, token, ["nobody"]))["errcode"] == 60111
    assert (await _create(api, token, []))["errcode"] == 40058
    made = await _create(api, token, [*many, "zhangwei"])
    assert made["errcode"] == 0
    link = made["link"]
    assert link["url"] == f"http://{api.host}:{api.port}/sandbox/ca/{link['link_id']}"
    assert link["link_name"] == "春季裂变" and link["create_time"] == corp.now()

    got = await call(api, token, "POST", f"{CA}/get", json={"link_id": link["link_id"]})
    assert got["link"]["url"] == link["url"] and len(got["range"]["user_list"]) == 100
    grow = {"link_id": link["link_id"], "range": {"user_list": [*many, "zhangwei", "lina"]}}
    assert (await call(api, token, "POST", f"{CA}/update_link", json=grow))["errcode"] == 40058
    shrink = {"link_id": link["link_id"], "range": {"user_list": ["lina"]}}
    assert (await call(api, token, "POST", f"{CA}/update_link", json=shrink))["errcode"] == 0
    got = await call(api, token, "POST", f"{CA}/get", json={"link_id": link["link_id"]})
    assert got["range"]["user_list"] == ["lina"] and got["link"]["url"] == link["url"]
    listed = await call(api, token, "POST", f"{CA}/list_link", json={"limit": 100})
    assert listed["link_id_list"] == [link["link_id"]]

    page = await api.get(f"/sandbox/ca/{link['link_id']}", params={"customer_channel": "f:ab12"})
    assert page.status == 200 and "f:ab12" in await page.text()
    gone = {"link_id": link["link_id"]}
    assert (await call(api, token, "POST", f"{CA}/delete_link", json=gone))["errcode"] == 0
    for path in ("get", "update_link", "delete_link", "customer"):
        assert (await call(api, token, "POST", f"{CA}/{path}", json=gone))["errcode"] == 40058
    assert (await api.get(f"/sandbox/ca/{link['link_id']}")).status == 404


async def test_adds_through_a_link_carry_the_channel_and_use_quota(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    link = corp.create_link("裂变", ["zhangwei"], [], "http://sandbox")
    added = await driver.customer_opens_acquisition_link(link.link_id, "f:abcd1234", name="小鱼")
    ext = added.info["external_userid"]
    (event,) = endpoint.events
    assert isinstance(event, ExternalContactEvent)
    assert event.route == ("change_external_contact", "add_external_contact")
    assert (event.user_id, event.external_user_id, event.state) == ("zhangwei", ext, "f:abcd1234")
    assert event.welcome_code and event.welcome_code == added.info["welcome_code"]
    assert corp.follows[("zhangwei", ext)].add_way == 16
    assert corp.acquisition_balance == 999
    assert [(c.external_userid, c.state) for c in link.customers] == [(ext, "f:abcd1234")]

    # a friend already: WeCom adds nothing, sends nothing, takes no quota
    try:
        await driver.customer_opens_acquisition_link(link.link_id, "f:abcd1234", ext)
        raise AssertionError("an existing friend was added again")
    except SandboxError as exc:
        assert exc.errcode == 40058
    # a channel over 64 bytes comes back cut to 64 bytes (on a character boundary)
    await driver.customer_opens_acquisition_link(link.link_id, "渠" * 30)
    assert isinstance(endpoint.events[-1], ExternalContactEvent)
    assert endpoint.events[-1].state == "渠" * 21 and len(endpoint.events) == 2
    assert corp.acquisition_balance == 998

    corp.acquisition_balance = 0
    for refused in ("quota", "deleted"):
        if refused == "deleted":
            corp.acquisition_balance = 5
            corp.delete_link(link.link_id)
        try:
            await driver.customer_opens_acquisition_link(link.link_id, "f:zzzz9999")
            raise AssertionError(f"added with the link {refused}")
        except SandboxError as exc:
            assert exc.errcode == 40058
    assert len(endpoint.events) == 2 and corp.acquisition_balance == 5
    assert len(corp.customers) == 2


async def test_the_play_page_opens_a_link(
    corp: Corp,
    crypto: WeComCrypto,
    endpoint: Endpoint,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    url = str(endpoint.server.make_url("/wecom/callback"))  # type: ignore[attr-defined]
    app = create_sandbox_app(
        corp, corp_id=CORP_ID, secrets=SECRETS, agent_id=AGENT_ID, callback_url=url, crypto=crypto
    )
    sandbox = await aiohttp_client(app)
    link = corp.create_link("裂变", ["lina"], [], "http://sandbox")
    summary = await (await sandbox.get("/sandbox/api/corp")).json()
    assert summary["acquisition_links"][0]["link_id"] == link.link_id
    body = {"link_id": link.link_id, "customer_channel": "f:play0001", "name": "小鹿"}
    played = await sandbox.post("/sandbox/api/play/customer_opens_acquisition_link", json=body)
    assert played.status == 200, await played.text()
    (event,) = endpoint.events
    assert isinstance(event, ExternalContactEvent)
    assert (event.user_id, event.state) == ("lina", "f:play0001") and event.welcome_code
    corp.acquisition_balance = 0
    refused = await sandbox.post("/sandbox/api/play/customer_opens_acquisition_link", json=body)
    assert refused.status == 400 and "额度" in (await refused.json())["error"]
