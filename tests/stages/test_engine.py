"""The correctness core: rules move a relation exactly once under replayed and reordered
events, tags set in the WeCom client never count, the furthest matching stage wins, moves
are forward only, the sweep catches time conditions, and the current stage always equals
what the append-only transitions say."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest

from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined, RadarVisited, StageMoved, TagsMarked
from handlers.stages import engine, listeners, sweep
from storage.core import DomainEventRow
from storage.stages import MoveBy, StageCurrent, StageTransition
from tests.stages.conftest import (
    T0,
    deliver,
    join_group,
    make_journey,
    make_rule,
    tag_relation,
)
from tests.support import Clock

pytestmark = pytest.mark.usefixtures("corp")


def marked(userid: str, ext: str, *tags: str, by: str = "scrmbot") -> TagsMarked:
    return TagsMarked(
        userid=userid,
        external_userid=ext,
        at=T0,
        add=list(tags),
        remove=[],
        by=by,  # type: ignore[arg-type]
    )


def joined(ext: str, chat_id: str = "wr_vip") -> GroupJoined:
    return GroupJoined(chat_id=chat_id, member_id=ext, member_type=2, at=T0)


async def stage_of(journey_id: int, userid: str, ext: str) -> int | None:
    row = await StageCurrent.get_or_none(journey_id=journey_id, userid=userid, external_userid=ext)
    return row.stage_id if row else None


async def test_scrmbot_tag_moves_once_however_often_replayed(deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "tags", "match": "any", "tag_ids": ["t_hot"]})
    await tag_relation("alice", "wm_ann", "t_hot")
    for _ in range(3):  # WeCom retries, re-run jobs, the same fact published again
        await deliver(deps, marked("alice", "wm_ann", "t_hot"), key="mark-1")
        await listeners.on_tags_marked(deps, marked("alice", "wm_ann", "t_hot"))
    rows = await StageTransition.filter(journey_id=journey.id)
    assert [(r.userid, r.external_userid, r.to_stage_id, r.by) for r in rows] == [
        ("alice", "wm_ann", stages[1].id, "rule")
    ]
    assert rows[0].facts["conditions"] == [{"type": "tags", "tag_ids": ["t_hot"]}]
    assert rows[0].facts["trigger"] == "tags"
    assert await stage_of(journey.id, "alice", "wm_ann") == stages[1].id
    # bob's relation with the same customer was not tagged: it stays in the pool
    assert await stage_of(journey.id, "bob", "wm_ann") is None
    # one StageMoved, keyed by the transition
    assert await DomainEventRow.filter(kind="StageMoved").count() == 1


async def test_client_set_tags_neither_trigger_nor_count(deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "tags", "match": "any", "tag_ids": ["t_hot"]})
    await make_rule(
        stages[2],
        {"type": "group", "chat_ids": ["wr_vip"]},
        {"type": "tags", "match": "any", "tag_ids": ["t_vip"]},
    )
    await tag_relation("alice", "wm_ann", "t_hot", "t_vip")  # set in the WeCom client
    await deliver(deps, marked("alice", "wm_ann", "t_hot", "t_vip", by="client"), key="c-1")
    assert await StageTransition.all().count() == 0
    # a later trigger (a group join, the sweep) does not count the client's tags either
    await join_group("wm_ann")
    await deliver(deps, joined("wm_ann"), key="j-1")
    await sweep.sweep(deps)
    assert await StageTransition.all().count() == 0
    # the same tag set through scrmbot counts
    await deliver(deps, marked("alice", "wm_ann", "t_vip"), key="s-1")
    assert await stage_of(journey.id, "alice", "wm_ann") == stages[2].id


async def test_tag_removed_in_client_no_longer_counts(deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[2], {"type": "tags", "match": "all", "tag_ids": ["t_a", "t_b"]})
    await tag_relation("alice", "wm_ann", "t_a")
    await deliver(deps, marked("alice", "wm_ann", "t_a"), key="s-a")
    from storage.facts import FollowTag

    await FollowTag.filter(tag_id="t_a").delete()  # removed in the client
    await tag_relation("alice", "wm_ann", "t_b")
    await deliver(deps, marked("alice", "wm_ann", "t_b"), key="s-b")
    assert await stage_of(journey.id, "alice", "wm_ann") is None  # "all": t_a is gone


async def test_furthest_matching_stage_is_chosen(deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[0], {"type": "state", "states": ["expo"]})
    await make_rule(stages[1], {"type": "days_added", "days": 1})
    await make_rule(
        stages[3], {"type": "group", "chat_ids": ["wr_vip"]}, {"type": "state", "states": ["expo"]}
    )
    await make_rule(stages[2], {"type": "group", "chat_ids": []})
    await join_group("wm_ann")
    await deliver(deps, joined("wm_ann"), key="j-1")
    # alice's relation came through "expo" and is in the group: the furthest, 已成交
    assert await stage_of(journey.id, "alice", "wm_ann") == stages[3].id
    # bob's relation with the same customer: in a group but not through expo → 已报价
    assert await stage_of(journey.id, "bob", "wm_ann") == stages[2].id
    # one move each, straight there
    assert await StageTransition.filter(journey_id=journey.id).count() == 2


async def test_forward_only_and_a_staff_move_back_sticks(deps: Deps) -> None:
    journey, stages = await make_journey()
    rule = await make_rule(stages[2], {"type": "group", "chat_ids": ["wr_vip"]})
    await join_group("wm_ben")
    await deliver(deps, joined("wm_ben"), key="j-1")
    assert await stage_of(journey.id, "alice", "wm_ben") == stages[2].id
    # a staff member moves them back: the rule version that moved them does not undo it
    await engine.move(
        deps,
        journey_id=journey.id,
        userid="alice",
        external_userid="wm_ben",
        to_stage_id=stages[1].id,
        by=MoveBy.STAFF,
        key="staff:1",
        created_by="alice",
        reason="客户还在比较",
    )
    await deliver(deps, joined("wm_ben"), key="j-2")
    await sweep.sweep(deps)
    assert await stage_of(journey.id, "alice", "wm_ben") == stages[1].id
    # an edited rule is a new version: it may move them once more
    rule.version += 1
    await rule.save()
    await sweep.sweep(deps)
    await sweep.sweep(deps)
    assert await stage_of(journey.id, "alice", "wm_ben") == stages[2].id
    assert await StageTransition.filter(journey_id=journey.id).count() == 3


async def test_exactly_once_under_every_order_of_replayed_events(deps: Deps) -> None:
    """Four facts (a scrmbot tag, a client tag, a group join, a radar visit), each delivered
    twice, in every order: the end stage and the number of moves never depend on it."""
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "tags", "match": "any", "tag_ids": ["t_hot"]})
    await make_rule(stages[2], {"type": "radar", "radar_ids": [7]})
    await make_rule(
        stages[3], {"type": "radar", "radar_ids": []}, {"type": "group", "chat_ids": ["wr_vip"]}
    )
    await tag_relation("alice", "wm_ben", "t_hot", "t_client")
    await join_group("wm_ben")
    calls = [
        lambda: listeners.on_tags_marked(deps, marked("alice", "wm_ben", "t_hot")),
        lambda: listeners.on_tags_marked(deps, marked("alice", "wm_ben", "t_client", by="client")),
        lambda: listeners.on_group_joined(deps, [joined("wm_ben")]),
        lambda: listeners.on_radar_visited(
            deps,
            RadarVisited(
                visit_id="v1", radar_id=7, external_userid="wm_ben", userid="alice", at=T0
            ),
        ),
    ]
    outcomes = set()
    for order in itertools.permutations(range(4)):
        await StageTransition.all().delete()
        await StageCurrent.all().delete()
        from storage.stages import StageRadarView, StageTagMark

        await StageTagMark.all().delete()
        await StageRadarView.all().delete()
        for i in order + order:  # each delivered twice
            await calls[i]()
        rows = await StageTransition.filter(journey_id=journey.id).order_by("seq")
        final = await stage_of(journey.id, "alice", "wm_ben")
        assert final == stages[3].id, order
        # forward only, and no rule version used twice
        keys = [r.key for r in rows]
        assert len(keys) == len(set(keys))
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        outcomes.add(final)
    assert outcomes == {stages[3].id}


async def test_sweep_moves_on_time_conditions_once(deps: Deps, clock: Clock) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "days_added", "days": 12})
    assert (await sweep.sweep(deps))["moved"] == 0  # added 10 days ago
    clock.advance(timedelta(days=2, hours=1).total_seconds())
    assert (await sweep.sweep(deps))["moved"] == 4  # every active relation, once
    assert (await sweep.sweep(deps))["moved"] == 0
    assert await StageTransition.filter(journey_id=journey.id).count() == 4
    row = await StageTransition.filter(userid="carol").first()
    assert row is not None and row.facts["trigger"] == "sweep"
    assert row.facts["conditions"][0]["type"] == "days_added"


async def test_members_and_automation_switch(deps: Deps, clock: Clock) -> None:
    journey, stages = await make_journey(members=["carol"])
    await make_rule(stages[1], {"type": "days_added", "days": 1})
    await sweep.sweep(deps)
    assert set(await StageTransition.all().values_list("userid", flat=True)) == {"carol"}
    off, off_stages = await make_journey(name="售后旅程")
    off.automation = False
    await off.save()
    await make_rule(off_stages[1], {"type": "days_added", "days": 1})
    await sweep.sweep(deps)
    assert await StageTransition.filter(journey_id=off.id).count() == 0


async def test_racing_writers_append_one_step_each(deps: Deps) -> None:
    """Two moves computed from the same current stage: both land as consecutive steps (the
    unique seq makes the second re-read), and the current stage is the last."""
    journey, stages = await make_journey()
    import asyncio

    results = await asyncio.gather(
        *(
            engine.move(
                deps,
                journey_id=journey.id,
                userid="alice",
                external_userid="wm_ann",
                to_stage_id=stages[i].id,
                by=MoveBy.BATCH,
                key=f"batch:{i}",
            )
            for i in (1, 2)
        )
    )
    assert all(r is not None for r in results)
    rows = await StageTransition.filter(journey_id=journey.id).order_by("seq")
    assert [r.seq for r in rows] == [1, 2]
    assert rows[1].from_stage_id == rows[0].to_stage_id
    assert await stage_of(journey.id, "alice", "wm_ann") == rows[1].to_stage_id


async def test_current_equals_transitions_after_random_moves(deps: Deps) -> None:
    journey, stages = await make_journey()
    rng = random.Random(16)
    rels = [("alice", "wm_ann"), ("bob", "wm_ann"), ("alice", "wm_ben"), ("carol", "wm_cat")]
    for i in range(120):
        userid, ext = rng.choice(rels)
        target = rng.choice([*[s.id for s in stages], None])
        await engine.move(
            deps,
            journey_id=journey.id,
            userid=userid,
            external_userid=ext,
            to_stage_id=target,
            by=rng.choice(list(MoveBy)),
            key=f"random:{i % 90}",  # some keys repeat: replays
        )
    derived = await engine.rebuild_current(journey.id)
    live = {
        (c.userid, c.external_userid): (c.stage_id, c.transition_id)
        for c in await StageCurrent.filter(journey_id=journey.id)
    }
    assert live == derived
    assert await StageTransition.all().count() <= 90


async def test_stage_moved_event_payload(deps: Deps) -> None:
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "state", "states": ["expo"]})
    await deliver(
        deps,
        FollowAdded(userid="alice", external_userid="wm_ann", at=T0, state="expo"),
        key="add-1",
    )
    row = await DomainEventRow.get(kind="StageMoved")
    event = StageMoved.model_validate(row.payload)
    assert (event.journey_id, event.from_stage_id, event.to_stage_id, event.by) == (
        journey.id,
        None,
        stages[1].id,
        "rule",
    )
    from storage.facts import TimelineEntry

    entry = await TimelineEntry.get(kind="stage")
    assert "未设置阶段 → 有意向" in entry.text


async def test_points_condition_follows_the_latest_balance(deps: Deps) -> None:
    from bot.domain_events import PointsChanged

    journey, stages = await make_journey()
    await make_rule(stages[2], {"type": "points", "min": 100})

    def changed(entry: int, amount: int, balance: int) -> PointsChanged:
        return PointsChanged(
            external_userid="wm_ben", entry_id=entry, entry_kind="earn", amount=amount,
            balance=balance, at=T0,
        )  # fmt: skip

    await deliver(deps, changed(1, 60, 60), key="p1")
    assert await stage_of(journey.id, "alice", "wm_ben") is None
    await listeners.on_points_changed(deps, changed(3, 50, 110))
    await listeners.on_points_changed(deps, changed(2, -10, 50))  # an older entry, late
    await listeners.on_points_changed(deps, changed(3, 50, 110))  # replayed
    assert await stage_of(journey.id, "alice", "wm_ben") == stages[2].id
    from storage.stages import StagePoints

    assert (await StagePoints.get(external_userid="wm_ben")).balance == 110
    row = await StageTransition.get(journey_id=journey.id)
    assert row.facts["conditions"] == [{"type": "points", "min": 100, "balance": 110}]


def test_quick_tests_agree_with_the_spelled_out_facts() -> None:
    """The sweep's compiled yes/no and the facts written on a move never disagree."""
    from datetime import UTC, datetime

    rng = random.Random(3)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    conds: list[dict[str, object]] = []
    for _ in range(300):
        kind = rng.choice(["tags", "state", "group", "radar", "points", "days_added"])
        conds.append(
            {
                "type": kind,
                "match": rng.choice(["any", "all"]),
                "tag_ids": rng.sample(["a", "b", "c"], rng.randint(0, 2)),
                "states": rng.sample(["", "expo", "web"], rng.randint(0, 2)),
                "chat_ids": rng.sample(["g1", "g2"], rng.randint(0, 2)),
                "radar_ids": rng.sample([1, 2, 3], rng.randint(0, 2)),
                "min": rng.randint(0, 20),
                "days": rng.randint(0, 5),
            }
        )
    for cond in conds:
        for _ in range(20):
            rel = engine.RelationFacts(
                "u", "e", rng.choice(["", "expo", "web"]),
                now - timedelta(days=rng.uniform(0, 6)),
                tags=set(rng.sample(["a", "b", "c"], rng.randint(0, 3))),
                groups=set(rng.sample(["g1", "g2", "g3"], rng.randint(0, 2))),
                radars=set(rng.sample([1, 2, 3, 4], rng.randint(0, 2))),
                points=rng.randint(0, 20),
            )  # fmt: skip
            kept = {k: cond[k] for k in cond}
            assert engine.Test.of(kept).holds(rel, now) == (
                engine.check(kept, rel, now) is not None
            ), (cond, rel)


async def test_why_a_rule_moved_in_words(deps: Deps) -> None:
    from handlers.stages.staff import explain
    from storage.facts import CorpTag, CustomerGroup

    await CorpTag.create(tag_id="t_hot", group_id="g", name="高意向")
    await CustomerGroup.create(chat_id="wr_vip", name="VIP群")
    await listeners.on_radar_visited(
        deps,
        RadarVisited(
            visit_id="v1", radar_id=7, radar_title="产品手册", external_userid="wm_ben",
            userid="alice", at=T0,
        ),
    )  # fmt: skip
    facts = {
        "conditions": [
            {"type": "tags", "tag_ids": ["t_hot"]},
            {"type": "group", "chat_ids": ["wr_vip"]},
            {"type": "radar", "radar_ids": [7]},
            {"type": "radar", "radar_ids": [8]},
            {"type": "state", "state": "expo"},
            {"type": "points", "min": 100, "balance": 120},
            {"type": "days_added", "days": 3},
        ]
    }
    assert await explain(facts) == (
        "标签：高意向；在群：VIP群；查看雷达：产品手册；查看了雷达；添加渠道：expo；"
        "积分 120（不少于 100）；添加满 3 天"
    )


async def test_adds_delivered_together_move_as_one_by_one(deps: Deps) -> None:
    """A batch with two customers, two relations of one customer and a replayed add moves
    the same relations to the same stages as the adds delivered one by one; a relation no
    add names is left alone."""
    journey, stages = await make_journey()
    await make_rule(stages[1], {"type": "state", "states": ["expo", "web"]})
    await make_rule(stages[2], {"type": "group", "chat_ids": ["wr_vip"]})
    await join_group("wm_ben")
    adds = [
        FollowAdded(userid="alice", external_userid="wm_ann", at=T0, state="expo"),
        FollowAdded(userid="bob", external_userid="wm_ann", at=T0),
        FollowAdded(userid="alice", external_userid="wm_ann", at=T0, state="expo"),
        FollowAdded(userid="alice", external_userid="wm_ben", at=T0),
    ]

    async def outcome() -> list[tuple[str, str, int | None, int]]:
        current = await StageCurrent.filter(journey_id=journey.id).values_list(
            "userid", "external_userid", "stage_id"
        )
        moves = await StageTransition.filter(journey_id=journey.id).count()
        return sorted((str(u), str(e), s, moves) for u, e, s in current)

    await listeners.on_follow_added(deps, adds)
    together = await outcome()
    await StageTransition.all().delete()
    await StageCurrent.all().delete()
    for add in adds:
        await listeners.on_follow_added(deps, [add])
    assert (
        await outcome()
        == together
        == [
            ("alice", "wm_ann", stages[1].id, 2),
            ("alice", "wm_ben", stages[2].id, 2),
        ]
    )  # wm_cat's relation (state web) had no add: not evaluated
