"""Sync reconciliation, mark_tags, listeners failing, API permissions and the Excel export."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openpyxl import load_workbook
from redis.asyncio import Redis

from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.domain_events import FollowAdded
from bot.http import ApiError, RequestContext
from bot.router import Router
from bot.settings import Settings
from handlers.facts import mark_tags
from handlers.facts.api import customer_view
from handlers.facts.base import from_ts
from handlers.facts.customers import COLUMNS, customers_export, customers_view
from handlers.facts.sync import SyncError, full_sync
from storage.core import DomainEventRow, EventStatus
from storage.facts import (
    CustomerGroup,
    FollowEvent,
    FollowRelation,
    FollowTag,
    GroupMember,
    GroupMembershipEvent,
    TimelineEntry,
)
from tests.facts.fakes import T0, FakeWeCom, contact_event, make_deps, run_jobs

EXT = "wmCust"


def corp(wecom: FakeWeCom) -> None:
    wecom.users = [
        {"userid": "alice", "name": "爱丽丝", "department": [1], "status": 1},
        {"userid": "bob", "name": "鲍勃", "department": [1], "status": 1},
    ]
    wecom.tag_groups = [
        {
            "group_id": "g1",
            "group_name": "等级",
            "tag": [{"id": "t1", "name": "VIP"}, {"id": "t2", "name": "普通"}],
        }
    ]
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "李四", "type": 1}
    wecom.contacts["wmOther"] = {"external_userid": "wmOther", "name": "王五", "type": 2}
    wecom.follows[EXT] = [
        {
            "userid": "alice",
            "createtime": T0,
            "add_way": 1,
            "state": "s1",
            "tags": [{"tag_id": "t1", "type": 1}],
        }
    ]
    wecom.follows["wmOther"] = [{"userid": "bob", "createtime": T0 + 5, "add_way": 3}]
    wecom.groups["wrChat"] = {
        "chat_id": "wrChat",
        "name": "群",
        "owner": "bob",
        "create_time": T0,
        "member_list": [{"userid": EXT, "type": 2, "join_time": T0 + 7, "join_scene": 3}],
    }


async def test_sync_reconciles_without_inventing(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    # A callback-known relation wecom no longer has: sync ends it with reason unknown.
    await deps.dispatcher.dispatch_event(
        deps, contact_event("add_external_contact", "bob", "wmGone", T0 - 50)
    )
    result = await full_sync({"deps": deps})
    assert result["staff"] == 2 and result["tags"] == 2 and result["groups"] == 1
    add = await FollowEvent.get(userid="alice", external_userid=EXT, kind="add")
    assert (add.source, add.at, add.key) == ("sync", from_ts(T0), f"add:alice:{EXT}:{T0}")
    gone = await FollowRelation.get(userid="bob", external_userid="wmGone")
    assert not gone.active and gone.end_reason == ""
    join = await GroupMembershipEvent.get(member_id=EXT)
    assert (join.source, join.at, join.scene) == ("sync", from_ts(T0 + 7), 3)
    assert await FollowTag.filter(external_userid=EXT).values_list("tag_id", flat=True) == ["t1"]
    counts = (
        await FollowEvent.all().count(),
        await GroupMembershipEvent.all().count(),
        await TimelineEntry.all().count(),
    )
    again = await full_sync({"deps": deps})
    assert again["relations_found"] == 0 and again["relations_ended"] == 0
    assert counts == (
        await FollowEvent.all().count(),
        await GroupMembershipEvent.all().count(),
        await TimelineEntry.all().count(),
    )
    # The callback arriving after the sync found the relation adds nothing.
    await deps.dispatcher.dispatch_event(
        deps, contact_event("add_external_contact", "alice", EXT, T0)
    )
    assert await FollowEvent.filter(userid="alice", external_userid=EXT).count() == 1


async def test_sync_explains_the_directory_rule(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    wecom.directory_error = 60011
    with pytest.raises(SyncError, match="since 2022 the customer-contact"):
        await full_sync({"deps": deps})


async def test_failing_subscriber_is_retried_alone_the_handler_succeeds(
    settings: Settings, redis: Redis, db: None, wecom: FakeWeCom
) -> None:
    corp(wecom)
    calls: dict[str, list[str]] = {"flaky": [], "steady": []}
    probe = Router("probe")

    @probe.listen(FollowAdded)
    async def flaky(d: Deps, event: FollowAdded) -> None:
        calls["flaky"].append(event.userid)
        if len(calls["flaky"]) == 1:
            raise RuntimeError("boom")

    @probe.listen(FollowAdded)
    async def steady(d: Deps, event: FollowAdded) -> None:
        calls["steady"].append(event.userid)

    deps = make_deps(settings, redis, wecom, extra=[probe])
    event = contact_event("add_external_contact", "alice", EXT, T0)
    for _ in range(2):  # WeCom delivers twice; the handler never fails for a subscriber
        outcomes = await deps.dispatcher.dispatch_event(deps, event)
        assert not [o.error for o in outcomes if o.error]
    await run_jobs(deps)  # the delivery (flaky fails, steady is done), then its retry
    assert calls == {"flaky": ["alice", "alice"], "steady": ["alice"]}
    row = await DomainEventRow.get(kind="FollowAdded")
    assert (row.status, row.attempts) == (EventStatus.DONE, 1)
    assert await DomainEventRow.filter(kind="FollowAdded").count() == 1
    assert await FollowEvent.filter(kind="add").count() == 1


async def test_mark_tags(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    await full_sync({"deps": deps})
    await mark_tags(
        deps, userid="alice", external_userid=EXT, add=["t2"], remove=["t1"], by="alice"
    )
    assert wecom.marked == [("alice", EXT, ["t2"], ["t1"])]
    assert await FollowTag.filter(external_userid=EXT).values_list("tag_id", flat=True) == ["t2"]
    entry = await TimelineEntry.get(external_userid=EXT, kind="tag")
    assert entry.text == "添加标签 普通；移除标签 VIP"


def ctx(deps: Deps, path: str, user: Principal, **match: str) -> RequestContext:
    return RequestContext(make_mocked_request("GET", path, match_info=match), deps, user)


async def test_staff_reads_only_own_customers(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    await full_sync({"deps": deps})
    bob = Principal("bob", "鲍勃", Role.STAFF)
    with pytest.raises(ApiError) as err:
        await customer_view(ctx(deps, f"/api/facts/customers/{EXT}", bob, external_userid=EXT))
    assert err.value.status == 403
    alice = Principal("alice", "爱丽丝", Role.STAFF)
    resp = await customer_view(ctx(deps, f"/api/facts/customers/{EXT}", alice, external_userid=EXT))
    assert resp.status == 200
    admin = Principal("root", "管理员", Role.ADMIN)
    resp = await customer_view(ctx(deps, f"/api/facts/customers/{EXT}", admin, external_userid=EXT))
    assert resp.status == 200


async def test_excel_export_columns(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    await full_sync({"deps": deps})
    admin = Principal("root", "管理员", Role.ADMIN)
    resp = await customers_export(ctx(deps, "/api/facts/customers.xlsx?status=active", admin))
    assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
    sheet = load_workbook(io.BytesIO(resp.body)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == COLUMNS
    names = sorted(r[0] for r in rows[1:])
    assert names == ["李四", "王五"]
    li = next(r for r in rows[1:] if r[0] == "李四")
    assert li[2] == "爱丽丝" and li[7] == "VIP" and li[8] == "跟进中"


@pytest.mark.parametrize("raw", ["abc", "-1", "²", "99999999999999999999999"])
async def test_a_bad_add_way_filter_is_a_400(deps: Deps, wecom: FakeWeCom, raw: str) -> None:
    admin = Principal("root", "管理员", Role.ADMIN)
    with pytest.raises(ApiError) as err:
        await customers_view(ctx(deps, f"/api/facts/customers?add_way={quote(raw)}", admin))
    assert err.value.status == 400 and err.value.field == "add_way"


async def test_sync_records_quits_for_a_group_that_vanished(deps: Deps, wecom: FakeWeCom) -> None:
    corp(wecom)
    await full_sync({"deps": deps})
    chat_id = next(iter(wecom.groups))
    del wecom.groups[chat_id]  # dismissed in WeCom; its callback never arrived
    result = await full_sync({"deps": deps})
    assert result["quits"] == 1
    quit_ = await GroupMembershipEvent.get(chat_id=chat_id, kind="quit")
    assert (quit_.member_id, quit_.source, quit_.scene) == (EXT, "sync", 1)
    assert (await CustomerGroup.get(chat_id=chat_id)).status == "dismissed"
    assert await GroupMember.filter(chat_id=chat_id).count() == 0
    assert (await full_sync({"deps": deps}))["quits"] == 0


async def test_customer_list_in_words_searchable_by_name_and_tag(
    deps: Deps, wecom: FakeWeCom
) -> None:
    corp(wecom)
    await full_sync({"deps": deps})
    admin = Principal("root", "管理员", Role.ADMIN)

    async def names(query: str) -> list[tuple[str, str]]:
        resp = await customers_view(ctx(deps, f"/api/facts/customers?{query}", admin))
        assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
        import json

        return sorted((r["name"], r["add_way_text"]) for r in json.loads(resp.body)["items"])

    assert await names("") == [("李四", "扫描二维码"), ("王五", "名片分享")]
    assert await names(f"q={quote('李')}") == [("李四", "扫描二维码")]
    assert await names("tag=t1") == [("李四", "扫描二维码")]
    resp = await customers_export(ctx(deps, "/api/facts/customers.xlsx", admin))
    assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
    sheet = load_workbook(io.BytesIO(resp.body)).active
    ways = {r[0].value: r[4].value for r in list(sheet.iter_rows())[1:]}
    assert ways == {"李四": "扫描二维码", "王五": "名片分享"}


async def test_added_date_filters_are_days_of_the_corp(deps: Deps, wecom: FakeWeCom) -> None:
    """An add at 07:00 in Shanghai (23:00 UTC the day before) is found by that local day's
    date filters on every database (SQLite compares stored UTC times as text)."""
    import json
    from datetime import UTC, datetime

    corp(wecom)
    await full_sync({"deps": deps})
    early = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)  # 2 March, 07:00 in Shanghai
    await FollowRelation.filter(userid="alice").update(added_at=early)
    admin = Principal("root", "管理员", Role.ADMIN)
    query = "/api/facts/customers?added_from=2025-03-02&added_to=2025-03-02&staff=alice"
    resp = await customers_view(ctx(deps, query, admin))
    assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
    found = json.loads(resp.body)["items"]
    assert len(found) == (await FollowRelation.filter(userid="alice").count()) > 0
