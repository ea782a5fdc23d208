"""A full sync of the demo corp through the real sandbox API and the worker: afterwards the
facts hold exactly the sandbox's own state, and a second sync changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from handlers import facts as facts_pkg
from handlers.facts.base import from_ts
from handlers.system import router as system_router
from storage.directory import Department, Staff
from storage.facts import (
    CorpTag,
    CorpTagGroup,
    Customer,
    CustomerGroup,
    FactSource,
    FollowEvent,
    FollowRelation,
    FollowTag,
    GroupMember,
    GroupMembershipEvent,
)
from tests.harness import Stack, running_stack


async def run_sync(stack: Stack) -> dict[str, Any]:
    assert stack.runtime.pool is not None
    job = await stack.runtime.pool.enqueue_job("full_sync")
    assert job is not None
    await stack.run_jobs()
    result: dict[str, Any] = await job.result(timeout=1)
    return result


async def assert_directory(corp: Corp) -> None:
    depts = await Department.filter(deleted=False).values_list("id", "name", "parent_id", "order")
    assert set(depts) == {(d.id, d.name, d.parentid, d.order) for d in corp.departments.values()}
    staff = await Staff.all().values_list("userid", "name", "departments", "status", "avatar")
    assert sorted(staff) == sorted(
        (s.userid, s.name, s.department, s.status, s.avatar) for s in corp.staff.values()
    )


async def assert_tags(corp: Corp) -> None:
    groups = await CorpTagGroup.filter(deleted=False).values_list("group_id", "name")
    assert set(groups) == {(g.group_id, g.group_name) for g in corp.tag_groups.values()}
    tags = await CorpTag.filter(deleted=False).values_list("tag_id", "group_id", "name")
    assert set(tags) == {
        (t.id, g.group_id, t.name) for g in corp.tag_groups.values() for t in g.tags
    }


async def assert_customers(corp: Corp) -> None:
    rows = await Customer.all().values_list(
        "external_userid", "name", "avatar", "type", "gender", "unionid", "corp_name"
    )
    assert set(rows) == {
        (c.external_userid, c.name, c.avatar, c.type, c.gender, c.unionid, c.corp_name)
        for c in corp.customers.values()
        if corp.follows_of_customer(c.external_userid)
    }
    relations = await FollowRelation.filter(active=True).values_list(
        "userid", "external_userid", "added_at", "add_way", "state", "remark", "source"
    )
    assert sorted(relations) == sorted(
        (u, e, from_ts(r.createtime), r.add_way, r.state, r.remark, FactSource.SYNC)
        for (u, e), r in corp.follows.items()
    )
    assert not await FollowRelation.filter(active=False).exists()
    tags = await FollowTag.all().values_list("userid", "external_userid", "tag_id")
    assert set(tags) == {(u, e, t) for (u, e), r in corp.follows.items() for t in r.tag_ids}
    # The first add of each customer is the earliest createtime among its staff.
    for ext, first_at in await Customer.all().values_list("external_userid", "first_added_at"):
        times = [r.createtime for r in corp.follows_of_customer(ext)]
        assert first_at == from_ts(min(times))


async def assert_groups(corp: Corp) -> None:
    groups = await CustomerGroup.filter(status="active").values_list(
        "chat_id", "name", "owner", "notice", "member_version", "created_at"
    )
    assert set(groups) == {
        (c.chat_id, c.name, c.owner, c.notice, c.member_version, from_ts(c.create_time))
        for c in corp.groups.values()
    }
    members = await GroupMember.all().values_list(
        "chat_id", "member_id", "member_type", "join_time", "join_scene", "invitor"
    )
    expected = {
        (c.chat_id, m.userid, m.type, from_ts(m.join_time), m.join_scene, m.invitor)
        for c in corp.groups.values()
        for m in c.members
    }
    assert set(members) == expected and len(members) == len(expected)
    joins = await GroupMembershipEvent.all().values_list("chat_id", "member_id", "kind", "source")
    assert sorted(joins) == sorted((c, m, "join", FactSource.SYNC) for c, m, *_ in expected)


async def test_full_sync_matches_the_demo_corp(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = seed_demo_corp(Corp())
    routers = [system_router, facts_pkg.router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp, routers=routers
    ) as stack:
        first = await run_sync(stack)
        assert first["errors"] == []
        assert first["relations_found"] == len(corp.follows)
        await assert_directory(corp)
        await assert_tags(corp)
        await assert_customers(corp)
        await assert_groups(corp)

        events = await FollowEvent.all().count(), await GroupMembershipEvent.all().count()
        again = await run_sync(stack)
        assert (again["relations_found"], again["relations_ended"]) == (0, 0)
        assert (again["joins"], again["quits"]) == (0, 0)
        assert (await FollowEvent.all().count(), await GroupMembershipEvent.all().count()) == events
        await assert_customers(corp)
        await assert_groups(corp)
