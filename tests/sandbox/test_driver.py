"""The driver's callbacks really encrypted and signed, decrypted and parsed into typed events."""

from collections.abc import Awaitable, Callable
from typing import Any

from bot.crypto import WeComCrypto
from bot.events import (
    ContactEvent,
    EnterAgent,
    ExternalChatEvent,
    ExternalContactEvent,
    ExternalTagEvent,
    TemplateCardEvent,
    TextMessage,
)
from bot.replies import CardReply
from bot.sandbox.corp import Corp
from bot.sandbox.driver import SandboxDriver
from tests.sandbox.conftest import AGENT_ID, CORP_ID, Endpoint

CARD = {
    "card_type": "button_interaction",
    "task_id": "task-1",
    "main_title": {"title": "新客户提醒", "desc": "小鱼 添加了你"},
    "button_list": [
        {"text": "跟进", "key": "facts.follow:1", "style": 1},
        {"text": "忽略", "key": "facts.ignore:1", "style": 2},
    ],
}


async def test_customer_adds_and_deletes(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    added = await driver.customer_adds_staff("zhangwei", "wmnew1", state="lb_3", name="小鱼")
    assert added.status == 200
    assert corp.customers["wmnew1"].name == "小鱼"
    assert corp.follows[("zhangwei", "wmnew1")].state == "lb_3"
    await driver.customer_deletes_staff("zhangwei", "wmnew1")
    await driver.customer_adds_staff("lina", "wmnew1", welcome=False)
    await driver.staff_deletes_customer("lina", "wmnew1")
    events = endpoint.events
    assert all(isinstance(e, ExternalContactEvent) for e in events)
    assert [e.route for e in events] == [
        ("change_external_contact", "add_external_contact"),
        ("change_external_contact", "del_follow_user"),
        ("change_external_contact", "add_external_contact"),
        ("change_external_contact", "del_external_contact"),
    ]
    first = events[0]
    assert isinstance(first, ExternalContactEvent)
    assert (first.user_id, first.external_user_id, first.state) == ("zhangwei", "wmnew1", "lb_3")
    assert first.from_user == "sys" and first.to_user == CORP_ID
    assert first.welcome_code == added.info["welcome_code"]
    assert isinstance(events[2], ExternalContactEvent) and events[2].welcome_code == ""
    assert not corp.follows


async def test_group_membership_events(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    ext = corp.add_customer("小鱼").external_userid
    created = await driver.create_group("zhangwei", "新品群")
    chat_id = created.info["chat_id"]
    joined = await driver.customer_joins_group(chat_id, ext, scene=3)
    await driver.customer_quits_group(chat_id, ext, scene=1)
    await driver.dismiss_group(chat_id)
    create, join, quit, dismiss = endpoint.events
    assert isinstance(create, ExternalChatEvent) and create.route == (
        "change_external_chat",
        "create",
    )
    assert isinstance(join, ExternalChatEvent)
    assert (join.update_detail, join.join_scene, join.mem_change_cnt) == ("add_member", 3, 1)
    assert join.mem_change_list == (ext,)
    assert join.cur_mem_ver == joined.info["member_version"] != join.last_mem_ver
    assert isinstance(quit, ExternalChatEvent)
    assert (quit.update_detail, quit.quit_scene, quit.last_mem_ver) == (
        "del_member",
        1,
        join.cur_mem_ver,
    )
    assert isinstance(dismiss, ExternalChatEvent) and dismiss.change_type == "dismiss"
    assert chat_id not in corp.groups


async def test_tag_contact_text_enter(driver: SandboxDriver, endpoint: Endpoint) -> None:
    await driver.tag_changed("et123", tag_type="tag_group", change_type="delete")
    await driver.staff_created("xiaoming", "小明", [2])
    await driver.staff_updated("xiaoming", name="王小明")
    await driver.staff_deleted("xiaoming")
    await driver.send_text("lina", "排行榜")
    await driver.enter_agent("lina")
    tag, created, updated, deleted, text, enter = endpoint.events
    assert isinstance(tag, ExternalTagEvent)
    assert (tag.tag_id, tag.tag_type, tag.change_type) == ("et123", "tag_group", "delete")
    assert isinstance(created, ContactEvent) and created.department == (2,)
    assert isinstance(updated, ContactEvent) and updated.name == "王小明"
    assert isinstance(deleted, ContactEvent) and deleted.change_type == "delete_user"
    assert isinstance(text, TextMessage) and text.content == "排行榜" and text.msg_id
    assert isinstance(enter, EnterAgent) and enter.from_user == "lina"


async def test_click_card_with_button_reply(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    corp.send_app_message(["lina"], "template_card", {"template_card": CARD})
    message = corp.inbox("lina")[0]
    endpoint.reply = CardReply(replace_name="已跟进")
    result = await driver.click_card("lina", message.id, "facts.follow:1")
    event = endpoint.events[0]
    assert isinstance(event, TemplateCardEvent)
    assert (event.event_key, event.task_id, event.card_type) == (
        "facts.follow:1",
        "task-1",
        "button_interaction",
    )
    assert event.response_code == result.info["response_code"]
    assert result.info["reply"] == "update_button"
    assert message.replace_name == "已跟进"
    # the code served the passive reply; the API can't use it again
    assert corp.response_codes[event.response_code].used


async def test_click_card_with_whole_card_reply(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    corp.send_app_message(["lina"], "template_card", {"template_card": CARD})
    message = corp.inbox("lina")[0]
    new_card = {
        **CARD,
        "main_title": {"title": "已跟进", "desc": "由李娜处理"},
        "button_list": [{"text": "已处理", "key": "done", "style": 4}],
        "card_image": {"url": "http://x/a.png", "aspect_ratio": 1.3},
    }
    endpoint.reply = CardReply(card=new_card)
    result = await driver.click_card("lina", message.id, "facts.follow:1")
    assert result.info["reply"] == "update_template_card"
    assert message.card == new_card


async def test_vote_selection_and_retries(
    driver: SandboxDriver, endpoint: Endpoint, corp: Corp
) -> None:
    vote = {
        "card_type": "vote_interaction",
        "task_id": "v1",
        "main_title": {"title": "投票"},
        "checkbox": {
            "question_key": "q1",
            "mode": 1,
            "option_list": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
        },
        "submit_button": {"text": "提交", "key": "vote:1"},
    }
    corp.send_app_message(["lina"], "template_card", {"template_card": vote})
    message = corp.inbox("lina")[0]
    await driver.click_card("lina", message.id, "vote:1", selected={"q1": ["a", "b"]})
    event = endpoint.events[0]
    assert isinstance(event, TemplateCardEvent) and event.selected == {"q1": ("a", "b")}
    results = await driver.deliver_raw(driver.log[0].xml, times=3)
    assert [r.status for r in results] == [200, 200, 200]
    assert len({e.raw["ResponseCode"] for e in endpoint.events}) == 1


async def test_play_over_http_and_inbox(
    corp: Corp,
    crypto: WeComCrypto,
    endpoint: Endpoint,
    aiohttp_client: Callable[..., Awaitable[Any]],
) -> None:
    from bot.sandbox.server import create_sandbox_app

    url = str(endpoint.server.make_url("/wecom/callback"))  # type: ignore[attr-defined]
    app = create_sandbox_app(
        corp,
        corp_id=CORP_ID,
        secrets={"app": "s"},
        agent_id=AGENT_ID,
        callback_url=url,
        crypto=crypto,
    )
    client = await aiohttp_client(app)
    resp = await client.post(
        "/sandbox/api/play/customer_adds_staff", json={"userid": "lina", "name": "小鱼"}
    )
    assert resp.status == 200 and (await resp.json())["status"] == 200
    assert isinstance(endpoint.events[0], ExternalContactEvent)
    resp = await client.post("/sandbox/api/play/customer_adds_staff", json={"bogus": 1})
    assert resp.status == 400 and "参数" in await resp.text()
    resp = await client.post("/sandbox/api/play/customer_adds_staff", json={"userid": "ghost"})
    assert resp.status == 400
    assert (await client.post("/sandbox/api/play/rm_rf", json={})).status == 404
    corp.send_app_message(["lina"], "template_card", {"template_card": CARD})
    endpoint.reply = CardReply(replace_name="好的")
    inbox = await (await client.get("/sandbox/api/inbox/lina")).json()
    message_id = inbox["messages"][0]["id"]
    resp = await client.post(
        "/sandbox/api/play/click_card",
        json={"userid": "lina", "message_id": message_id, "button_key": "facts.follow:1"},
    )
    assert (await resp.json())["info"]["reply"] == "update_button"
    inbox = await (await client.get("/sandbox/api/inbox/lina")).json()
    assert inbox["messages"][0]["replace_name"] == "好的"
    summary = await (await client.get("/sandbox/api/corp")).json()
    assert summary["playable"] and len(summary["staff"]) == 3
    page = await client.get("/sandbox")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert (await client.get("/sandbox/api/inbox/ghost")).status == 400
