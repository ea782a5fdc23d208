from __future__ import annotations

import random

from bot.deps import Deps
from handlers.leaderboard import counting, listeners
from handlers.leaderboard.activities import set_members
from storage.facts import Customer, CustomerGroup
from storage.leaderboard import Metric
from tests.leaderboard.conftest import add, join, make_activity


async def _ranking(activity) -> list[tuple[str, int]]:
    return [(r.userid, r.count) for r in await counting.recompute(activity)]


async def test_new_customers_without_dedup_counts_each_participants_adds(corp: None) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice", "bob"], [])
    await add("alice", "c1", -10)  # before the window
    await add("alice", "c2", 5)
    await add("bob", "c2", 6)  # alice had c2 first, but dedup is off
    await add("bob", "c3", 7)
    await add("carol", "c4", 8)  # not a participant
    await add("alice", "c5", 8, kind="end")
    assert await _ranking(activity) == [("bob", 2), ("alice", 1)]


async def test_dedup_excludes_customers_first_added_by_someone_else(corp: None) -> None:
    activity = await make_activity(dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    await add("carol", "c1", -500)  # carol, any time before, even outside the window
    await add("alice", "c1", 5)
    await add("alice", "c2", 6)
    await add("bob", "c2", 7)  # alice first
    await add("bob", "c3", 8)
    await Customer.create(
        external_userid="c3",
        first_added_by="dave",
        first_added_at=activity.start_at.replace(year=2023),
    )
    await add("alice", "c2", 9)  # re-add by the same person: still one customer
    assert await _ranking(activity) == [("alice", 1), ("bob", 0)]


async def test_group_joins_credit_invitor_or_owner_and_count_repeats(corp: None) -> None:
    activity = await make_activity(metric=Metric.GROUP_JOINS, chat_ids=["g1"], dedup=True)
    await set_members(activity.id, ["alice", "bob"], [])
    await CustomerGroup.create(chat_id="g1", owner="bob")
    await CustomerGroup.create(chat_id="g2", owner="alice")
    await join("g1", "c1", 1, invitor="alice")
    await join("g1", "c1", 2, invitor="alice")  # repeats count, even with dedup set
    await join("g1", "c2", 3, scene=3)  # QR without invitor: the owner
    await join("g1", "c3", 4)  # invite without invitor: nobody
    await join("g1", "alice", 5, invitor="bob", member_type=1)  # staff join
    await join("g2", "c4", 6, invitor="alice")  # not a chosen chat
    assert await _ranking(activity) == [("alice", 2), ("bob", 1)]


async def test_ties_broken_by_who_got_there_first(corp: None) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice", "bob", "carol"], [])
    await add("bob", "c1", 1)
    await add("alice", "c2", 2)
    assert await _ranking(activity) == [("bob", 1), ("alice", 1), ("carol", 0)]


async def test_zset_equals_recomputation_after_random_facts_and_replays(
    deps: Deps, corp: None
) -> None:
    rng = random.Random(7)
    activity = await make_activity(dedup=True, remind_on_off_list=False, remind_about_to_rank=False)
    await set_members(activity.id, ["alice", "bob", "carol", "dave"], [])
    facts = []
    for _ in range(120):
        fact = await add(
            rng.choice(["alice", "bob", "carol", "dave"]),
            f"c{rng.randrange(40)}",
            rng.uniform(-60, 600),
        )
        facts.append(fact)
        await listeners.on_follow_added(deps, fact)
        if rng.random() < 0.3:  # a replayed callback
            await listeners.on_follow_added(deps, rng.choice(facts))
    live = await counting.live_page(deps.redis, activity, 0, 10)
    assert [(r.userid, r.count) for r in live] == await _ranking(activity)
    await deps.redis.flushdb()  # Redis lost: rebuilt from the facts
    live = await counting.live_page(deps.redis, activity, 0, 10)
    assert [(r.userid, r.count) for r in live] == await _ranking(activity)
