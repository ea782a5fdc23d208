"""Customer moments in the sandbox behave as WeCom's (peers.md W8-W12): attachments from
upload_attachment living 3 days, 10 task creations a minute, jobid → moment_id, per-member
publish status, invalid senders, likes and comments without text, cancel, get_moment_list."""

from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import Clock, call, token_for

Client = TestClient[Any, Any]
EC = "/cgi-bin/externalcontact"


async def _upload(api: Client, token: str, media_type: str = "image", size: int = 100) -> Any:
    form = FormData()
    form.add_field("media", b"x" * size, filename="a.png")
    resp = await api.post(
        "/cgi-bin/media/upload_attachment",
        params={"access_token": token, "media_type": media_type, "attachment_type": "1"},
        data=form,
    )
    return await resp.json()


def _task(media_ids: list[str], users: list[str], tags: list[str] | None = None) -> Any:
    return {
        "text": {"content": "新品上市"},
        "attachments": [{"msgtype": "image", "image": {"media_id": m}} for m in media_ids],
        "visible_range": {
            "sender_list": {"user_list": users},
            "external_contact_list": {"tag_list": tags or []},
        },
    }


async def test_task_result_status_comments_and_cancel(
    api: Client, corp: Corp, clock: Clock
) -> None:
    group = corp.add_tags("客户等级", ["VIP", "普通"])
    vip = group.tags[0].id
    for ext, tagged in (("wm1", True), ("wm2", False), ("wm3", True)):
        corp.add_customer(ext, ext)
        corp.add_follow("zhangwei", ext)
        if tagged:
            corp.mark_tag("zhangwei", ext, [vip], [])
    corp.moment_range = {"zhangwei", "lina"}  # admin left out of 朋友圈使用范围
    token = await token_for(api, "contact")
    media = await _upload(api, token)
    assert media["errcode"] == 0 and media["type"] == "image"
    made = await call(
        api,
        token,
        "POST",
        f"{EC}/add_moment_task",
        json=_task([media["media_id"]], ["zhangwei", "lina", "admin"], [vip]),
    )
    assert made["errcode"] == 0 and made["jobid"]
    pending = await call(api, token, "GET", f"{EC}/get_moment_task_result", jobid=made["jobid"])
    assert pending["status"] == 2 and "result" not in pending  # asynchronous
    clock.t += 5
    done = await call(api, token, "GET", f"{EC}/get_moment_task_result", jobid=made["jobid"])
    assert done["status"] == 3
    moment_id = done["result"]["moment_id"]
    assert done["result"]["invalid_sender_list"]["user_list"] == ["admin"]
    status = await call(api, token, "POST", f"{EC}/get_moment_task", json={"moment_id": moment_id})
    assert status["task_list"] == [
        {"userid": "lina", "publish_status": 0},
        {"userid": "zhangwei", "publish_status": 0},
    ]
    corp.publish_moment(moment_id, "zhangwei")
    status = await call(api, token, "POST", f"{EC}/get_moment_task", json={"moment_id": moment_id})
    assert {"userid": "zhangwei", "publish_status": 1} in status["task_list"]
    seen = await call(
        api,
        token,
        "POST",
        f"{EC}/get_moment_send_result",
        json={"moment_id": moment_id, "userid": "zhangwei"},
    )
    assert seen["customer_list"] == [
        {"external_userid": "wm1"},
        {"external_userid": "wm3"},
    ]  # tags, OR
    corp.react_to_moment(moment_id, "zhangwei", "wm1", "like")
    corp.react_to_moment(moment_id, "zhangwei", "wm1", "like")  # a like counts once
    corp.react_to_moment(moment_id, "zhangwei", "wm3", "comment")
    got = await call(
        api,
        token,
        "POST",
        f"{EC}/get_moment_comments",
        json={"moment_id": moment_id, "userid": "zhangwei"},
    )
    assert [c["external_userid"] for c in got["like_list"]] == ["wm1"]
    assert list(got["comment_list"][0]) == ["external_userid", "create_time"]  # no text
    await call(api, token, "POST", f"{EC}/cancel_moment_task", json={"moment_id": moment_id})
    assert corp.moments[moment_id].cancelled
    listed = await call(
        api,
        token,
        "POST",
        f"{EC}/get_moment_list",
        json={"start_time": int(clock.t) - 100, "end_time": int(clock.t) + 100, "filter_type": 0},
    )
    assert [m["moment_id"] for m in listed["moment_list"]] == [moment_id]


async def test_ten_tasks_a_minute(api: Client, corp: Corp, clock: Clock) -> None:
    token = await token_for(api, "contact")
    body = {"text": {"content": "hi"}, "visible_range": {"sender_list": {"user_list": ["lina"]}}}
    answers = [
        await call(api, token, "POST", f"{EC}/add_moment_task", json=body) for _ in range(11)
    ]
    assert [a["errcode"] for a in answers] == [0] * 10 + [45009]
    clock.t += 61
    assert (await call(api, token, "POST", f"{EC}/add_moment_task", json=body))["errcode"] == 0


async def test_attachment_rules(api: Client, corp: Corp, clock: Clock) -> None:
    token = await token_for(api, "contact")
    images = [(await _upload(api, token))["media_id"] for _ in range(10)]
    ten = await call(api, token, "POST", f"{EC}/add_moment_task", json=_task(images, ["lina"]))
    assert ten["errcode"] == 40058  # at most 9 images
    too_big = await _upload(api, token, "video", 10 * 1024 * 1024 + 1)
    assert too_big["errcode"] == 40006
    app_token = await token_for(api, "app")
    assert (await _upload(api, app_token))["errcode"] == 0  # apps in 可调用应用 may upload too
    clock.t += 3 * 24 * 3600  # media ids from upload_attachment live 3 days
    token = await token_for(api, "contact")
    stale = await call(
        api, token, "POST", f"{EC}/add_moment_task", json=_task(images[:1], ["lina"])
    )
    assert stale["errcode"] == 40007
    long_text = {"text": {"content": "字" * 2001}, "visible_range": {}}
    assert (await call(api, token, "POST", f"{EC}/add_moment_task", json=long_text))[
        "errcode"
    ] == 45002


async def test_jobid_lives_a_day_and_personal_moments(
    api: Client, corp: Corp, clock: Clock
) -> None:
    token = await token_for(api, "contact")
    body = {"text": {"content": "hi"}, "visible_range": {"sender_list": {"user_list": ["lina"]}}}
    jobid = (await call(api, token, "POST", f"{EC}/add_moment_task", json=body))["jobid"]
    clock.t += 24 * 3600
    token = await token_for(api, "contact")
    old = await call(api, token, "GET", f"{EC}/get_moment_task_result", jobid=jobid)
    assert old["errcode"] == 40058
    mine = corp.post_personal_moment("lina", "个人发表", [])
    window = {"start_time": int(clock.t) - 10, "end_time": int(clock.t) + 10}
    personal = await call(
        api,
        token,
        "POST",
        f"{EC}/get_moment_list",
        json={**window, "filter_type": 1, "creator": "lina"},
    )
    assert [(m["moment_id"], m["create_type"]) for m in personal["moment_list"]] == [
        (mine.moment_id, 1)
    ]
    refused = await call(
        api, token, "POST", f"{EC}/get_moment_task", json={"moment_id": mine.moment_id}
    )
    assert refused["errcode"] == 40058  # enterprise moments only
    corp.delete_moment(mine.moment_id)
    gone = await call(
        api, token, "POST", f"{EC}/get_moment_list", json={**window, "filter_type": 1}
    )
    assert gone["moment_list"] == []
    month = {"start_time": 1, "end_time": 1 + 31 * 24 * 3600}
    assert (await call(api, token, "POST", f"{EC}/get_moment_list", json=month))["errcode"] == 40058
