from __future__ import annotations

import random

import pytest

from bot.deps import Deps
from handlers.facts.store import mark_first_adds
from handlers.leaderboard import counting, listeners, sql
from handlers.leaderboard.activities import set_members
from storage.facts import Customer, CustomerGroup, FollowEvent
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
        await listeners.on_follow_added(deps, [fact])
        if rng.random() < 0.3:  # a replayed callback
            await listeners.on_follow_added(deps, [rng.choice(facts)])
    live = await counting.live_page(deps.redis, activity, 0, 10)
    assert [(r.userid, r.count) for r in live] == await _ranking(activity)
    await deps.redis.flushdb()  # Redis lost: rebuilt from the facts
    live = await counting.live_page(deps.redis, activity, 0, 10)
    assert [(r.userid, r.count) for r in live] == await _ranking(activity)


# 去重 as defined (and first computed): a participant's customers first added inside the window,
# not those someone else added before, by a fact or by the customer's recorded first add.
DEFINITION = """
SELECT c.userid, COUNT(*), MAX(c.first_at) FROM (
  SELECT f.userid AS userid, f.external_userid AS external_userid, MIN(f.at) AS first_at
  FROM follow_event f JOIN lb_participant p ON p.activity_id = ? AND p.userid = f.userid
  WHERE f.kind = 'add' AND f.at >= ? AND f.at < ? GROUP BY f.userid, f.external_userid
) c
WHERE NOT EXISTS (
  SELECT 1 FROM follow_event o WHERE o.external_userid = c.external_userid
  AND o.kind = 'add' AND o.userid <> c.userid AND o.at < c.first_at)
AND NOT EXISTS (
  SELECT 1 FROM customer cu WHERE cu.external_userid = c.external_userid
  AND cu.first_added_by <> '' AND cu.first_added_by <> c.userid
  AND cu.first_added_at < c.first_at)
GROUP BY c.userid
"""


@pytest.mark.parametrize("seed", range(4))
async def test_dedup_totals_agree_with_the_credited_facts(corp: None, seed: int) -> None:
    """The 去重 totals and credited pairs (each add looked at once, the customer's first add
    read from its covering index) agree with the definition, over random facts: adds before,
    inside and after the window, re-adds, one pair twice at one instant, customers whose
    first add is kept, missing (older data) or someone's from a sync with no fact."""
    rng = random.Random(seed)
    activity = await make_activity(dedup=True)
    people = ["alice", "bob", "carol", "dave", "erin"]
    await set_members(activity.id, people[:3], [])
    window = 7 * 24 * 60
    facts = []
    for _ in range(400):
        minutes = rng.choice([-600, -5, 0, 1, 2, 3, 50, window - 1, window, window + 1])
        minutes = rng.choice([minutes, rng.uniform(-100, window + 100)])
        facts.append(await add(rng.choice(people), f"c{rng.randrange(80)}", minutes))
    # One pair added twice at one instant (deleted and added again within the second): a
    # customer whose first add is kept, and one whose is not.
    for userid, customer, minutes in (("alice", "c1000", 10), ("bob", "c1001", 20)):
        facts.append(await add(userid, customer, minutes))
        facts.append(
            await FollowEvent.create(
                key=f"{facts[-1].key}:again",
                userid=userid,
                external_userid=customer,
                kind="add",
                at=facts[-1].at,
            )
        )
    customers = sorted({f.external_userid for f in facts} - {"c1000", "c1001"})
    kept = [*customers[: len(customers) * 3 // 4], "c1000"]
    await Customer.bulk_create([Customer(external_userid=c) for c in kept])
    await mark_first_adds([f for f in facts if f.external_userid in kept])
    synced = kept[0]
    await Customer.filter(external_userid=synced).update(
        first_added_by="zed", first_added_at=activity.start_at.replace(year=2020)
    )
    params = [activity.id, activity.start_at, activity.end_at]
    expected = {r[0]: (r[1], sql.to_dt(r[2])) for r in await sql.fetch(DEFINITION, params)}
    query, params = counting.dedup_totals_sql(activity)
    found = {r[0]: (r[1], sql.to_dt(r[2])) for r in await sql.fetch(query, params)}
    assert found == expected and sum(c for c, _ in found.values()) > 10
    query, params = counting.credited_sql(activity)
    pairs = f"SELECT q.userid, COUNT(*), MAX(q.first_at) FROM ({query}) q GROUP BY q.userid"
    assert {r[0]: (r[1], sql.to_dt(r[2])) for r in await sql.fetch(pairs, params)} == expected
    ranking = {r.userid: r.count for r in await counting.recompute(activity)}
    assert ranking == {u: expected.get(u, (0, None))[0] for u in people[:3]}
    for userid in people[:3]:
        assert await counting.count_for(activity, userid) == expected.get(userid, (0, None))


async def test_group_joins_of_a_delivery_set_credit_as_one_by_one(deps: Deps, corp: None) -> None:
    """The joins of a set in one call (the activities read once): invitor or QR owner credited,
    staff joins, other chats and joins outside the window not; the live ranking is the
    recomputed one."""
    activity = await make_activity(
        metric=Metric.GROUP_JOINS,
        chat_ids=["g1"],
        remind_on_off_list=False,
        remind_about_to_rank=False,
    )
    await set_members(activity.id, ["alice", "bob"], [])
    await CustomerGroup.create(chat_id="g1", owner="bob")
    joins = [
        await join("g1", "c1", 1, invitor="alice"),
        await join("g1", "c2", 2, scene=3),  # QR without invitor: the owner
        await join("g1", "c3", 3),  # invite without invitor: nobody
        await join("g1", "alice", 4, invitor="bob", member_type=1),  # staff join
        await join("g2", "c4", 5, invitor="alice"),  # not a chosen chat
        await join("g1", "c5", -10, invitor="alice"),  # before the window
        await join("g1", "c6", 6, invitor="alice"),
    ]
    await listeners.on_group_joined(deps, joins)
    live = await counting.live_page(deps.redis, activity, 0, 10)
    assert (
        [(r.userid, r.count) for r in live]
        == await _ranking(activity)
        == [
            ("alice", 2),
            ("bob", 1),
        ]
    )
