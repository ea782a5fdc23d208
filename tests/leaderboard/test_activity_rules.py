"""Creating, copying and saving activities: a copy is a draft that runs nothing until its
admin saves it with dates; refusals name the field in Chinese, next to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.leaderboard import schedule
from handlers.leaderboard.activities import set_members
from storage.core import ConsoleRole
from storage.leaderboard import Activity
from storage.schedule import ScheduledRun
from tests.auth.support import csrf, sign_in
from tests.leaderboard.conftest import T0, Clock, make_activity
from tests.support import run_due

URL = "/api/leaderboard/activities"


@pytest.fixture
async def admin(corp: None) -> None:
    await ConsoleRole.create(userid="bob", role="admin")


async def _post(client: TestClient, deps: Deps, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    await sign_in(client, deps, "admin")
    resp = await client.post(url, json=body, headers=csrf(client))
    return resp.status, await resp.json()


def _body(**kw: Any) -> dict[str, Any]:
    return {
        "name": "七月",
        "start_at": T0.isoformat(),
        "end_at": (T0 + timedelta(days=2)).isoformat(),
        "userids": ["alice", "bob"],
    } | kw


async def test_a_copy_is_a_draft_that_sends_nothing_until_saved(
    client: TestClient, deps: Deps, admin: None, clock: Clock
) -> None:
    running = await make_activity(name="进行中", remind_daily=True, daily_time="09:00")
    ended = await make_activity(name="已结束", start_at=T0 - timedelta(days=9), end_at=T0)
    for activity in (running, ended):
        await set_members(activity.id, ["alice", "bob"], [])
        await schedule.plan_runs(deps, activity)
    await run_due(deps)
    deps.wecom.sent.clear()  # type: ignore[attr-defined]
    copies = []
    for activity in (running, ended):
        status, copy = await _post(client, deps, f"{URL}/{activity.id}/copy", {})
        assert status == 201 and copy["draft"] is True and copy["state"] == "not_started"
        copies.append(copy)
    clock.now += timedelta(hours=10)  # past the daily time, with the copies' dates "running"
    await run_due(deps)
    assert not await ScheduledRun.filter(key__startswith=f"{copies[0]['id']}:").exists()
    sent_for = {c["main_title"]["title"] for _, c in deps.wecom.sent}  # type: ignore[attr-defined]
    assert not any("副本" in title for title in sent_for), sent_for
    await sign_in(client, deps, "alice")
    mine = await (await client.get(f"{URL}?tab=mine")).json()
    assert {a["name"] for a in mine["items"]} == {"进行中", "已结束"}
    # The admin edits the copy's name and dates (allowed: it is not started) and saves.
    start = clock.now + timedelta(days=1)
    status, saved = await _post(
        client,
        deps,
        f"{URL}/{copies[0]['id']}",
        {
            "name": "八月",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(days=3)).isoformat(),
        },
    )
    assert status == 200 and saved["draft"] is False and saved["name"] == "八月"
    # The ended one's copy keeps past dates: saving it as is is refused with the reason.
    status, body = await _post(client, deps, f"{URL}/{copies[1]['id']}", {"name": "九月"})
    assert status == 400 and body["field"] == "end_at" and "过去" in body["error"]
    assert (await Activity.get(id=copies[1]["id"])).draft


async def test_past_or_empty_activities_are_refused(
    client: TestClient, deps: Deps, admin: None, clock: Clock
) -> None:
    past = _body(
        start_at=(clock.now - timedelta(days=3)).isoformat(),
        end_at=(clock.now - timedelta(days=1)).isoformat(),
    )
    status, body = await _post(client, deps, URL, past)
    assert status == 400 and body["field"] == "end_at" and "过去" in body["error"]
    status, body = await _post(client, deps, URL, _body(userids=[]))
    assert status == 400 and body["field"] == "userids" and "参与成员" in body["error"]
    status, body = await _post(client, deps, URL, _body(userids=[], department_ids=[99]))
    assert status == 400 and body["field"] == "department_ids"
    later = {"start_at": (T0 + timedelta(days=1)).isoformat()}
    status, created = await _post(client, deps, URL, _body(userids=[], department_ids=[2], **later))
    assert status == 201, created
    status, body = await _post(client, deps, f"{URL}/{created['id']}", {"department_ids": []})
    assert status == 400 and body["field"] == "userids"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "活动名称不能为空"),
        ({"top_n": 0}, "top_n", "上榜名次不能小于 1"),
        ({"end_at": (T0 - timedelta(days=1)).isoformat()}, "end_at", "结束时间：必须晚于开始时间"),
        ({"teams": [{"name": ""}]}, "teams.0.name", "团队"),
    ],
)
async def test_refusals_name_the_field_in_chinese(
    client: TestClient, deps: Deps, admin: None, change: dict[str, Any], field: str, message: str
) -> None:
    status, body = await _post(client, deps, URL, _body(**change))
    assert status == 400 and body["field"] == field
    assert message in body["error"] and "请求内容" not in body["error"]
