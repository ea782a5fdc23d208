"""The contact-way registry against the sandbox WeCom: reuse, the 30-character state, the
quota guard, expiry deleted by the cron, join ways, and a race that leaks no way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import contact_ways
from bot.contact_ways import ContactWayError
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from storage.contact_ways import ContactWay
from tests.harness import Stack, running_stack


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    corp = Corp()
    for userid in ("alice", "bob", "carol"):
        corp.add_staff(userid, userid.title())
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp, routers=[], contact_ways={"max_live": 3}
    ) as stack:
        yield stack


async def advisor(stack: Stack, userid: str, **kw: object) -> ContactWay:
    return await contact_ways.contact_way(
        stack.deps,
        feature="t",
        purpose="advisor",
        owner_key=userid,
        users=[userid],
        **kw,  # type: ignore[arg-type]
    )


async def test_one_way_per_owner_reused(stack: Stack) -> None:
    first = await advisor(stack, "alice", state="t:alice")
    again = await advisor(stack, "alice", state="t:alice")
    assert again.config_id == first.config_id and len(stack.corp.contact_ways) == 1
    assert first.qr_code.endswith(f"/sandbox/qr/{first.config_id}.png")
    assert stack.corp.get_contact_way(first.config_id).state == "t:alice"


async def test_state_longer_than_30_is_refused_before_wecom(stack: Stack) -> None:
    with pytest.raises(ContactWayError) as refused:
        await advisor(stack, "alice", state="x" * 31)
    assert refused.value.status == 400 and refused.value.field == "state"
    assert "30" in refused.value.message
    assert stack.corp.contact_ways == {}
    assert await advisor(stack, "alice", state="中" * 30)  # 30 characters is fine


async def test_guard_refuses_new_ways_at_the_threshold(stack: Stack) -> None:
    for userid in ("alice", "bob"):
        await advisor(stack, userid)
    chat = stack.corp.create_group("alice", "群").chat_id
    await contact_ways.join_way(
        stack.deps, feature="t", purpose="group", owner_key="g", chat_ids=[chat]
    )
    with pytest.raises(ContactWayError) as refused:
        await advisor(stack, "carol")
    assert refused.value.status == 409
    assert "已有 3 个" in refused.value.message and "contact_ways.max_live" in refused.value.message
    assert len(stack.corp.contact_ways) + len(stack.corp.join_ways) == 3
    assert (await advisor(stack, "alice")).owner_key == "alice"  # reuse is never refused


async def test_expired_ways_are_deleted_by_the_cron(stack: Stack) -> None:
    deps = stack.deps
    alice, bob = await advisor(stack, "alice"), await advisor(stack, "bob")
    chat = stack.corp.create_group("alice", "群").chat_id
    join = await contact_ways.join_way(
        deps, feature="t", purpose="group", owner_key="g", chat_ids=[chat], state="g:1"
    )
    assert join.qr_code.endswith(f"/sandbox/qr/{join.config_id}.png")
    ends = deps.now() + timedelta(days=7)
    assert await contact_ways.expire("t", ends, owner_key="alice") == 1
    await contact_ways.expire("t", deps.now() - timedelta(seconds=1), purpose="group")
    assert await contact_ways.delete_expired(deps) == 1  # the join way; alice's is not due
    assert stack.corp.join_ways == {} and alice.config_id in stack.corp.contact_ways
    assert await contact_ways.usage() == 2
    await ContactWay.filter(id=alice.id).update(expires_at=deps.now() - timedelta(seconds=1))
    assert await contact_ways.delete_expired(deps) == 1
    assert list(stack.corp.contact_ways) == [bob.config_id]
    # An expired way not swept yet is replaced, not reused, when its owner asks again.
    await ContactWay.filter(id=bob.id).update(expires_at=deps.now() - timedelta(seconds=1))
    fresh = await advisor(stack, "bob")
    assert fresh.config_id != bob.config_id and list(stack.corp.contact_ways) == [fresh.config_id]


async def test_a_failed_deletion_is_kept_and_retried(stack: Stack) -> None:
    way = await advisor(stack, "alice")
    await contact_ways.expire("t", stack.deps.now() - timedelta(seconds=1))
    del stack.corp.contact_ways[way.config_id]  # WeCom no longer knows it: refuses
    assert await contact_ways.delete_expired(stack.deps) == 0
    kept = await ContactWay.get(id=way.id)
    assert kept.delete_error and "40058" in kept.delete_error


async def test_concurrent_requests_leave_one_way(stack: Stack) -> None:
    ways = await asyncio.gather(*(advisor(stack, "alice") for _ in range(4)))
    assert len({w.config_id for w in ways}) == 1
    assert list(stack.corp.contact_ways) == [ways[0].config_id]  # the losers' ways deleted
    assert await contact_ways.usage() == 1


async def test_join_way_needs_one_to_five_chats(stack: Stack) -> None:
    with pytest.raises(ContactWayError) as refused:
        await contact_ways.join_way(
            stack.deps, feature="t", purpose="group", owner_key="g", chat_ids=[]
        )
    assert refused.value.field == "chat_ids"
