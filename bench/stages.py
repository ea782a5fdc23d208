"""Customer stages benchmark (prints; not a test): the hourly sweep's rule evaluation over
100,000 follow relations, against a plain scan of the same rows in the same run.

Seeds a journey of five stages with four rules (days since added, a tag set through scrmbot,
a group, a tag and a group together) over `--relations` relations (a fifth tagged, a tenth
in the group), places every relation where the rules put it (the state after earlier sweeps),
then gives `--due` relations the tag so the next sweep has that many moves. Measured:

1. the plain scan: the rows the sweep reads (relations, tag marks, tags on relations, group
   members, current stages), fetched and dropped (interleaved with the steady sweeps);
2. a sweep with `--due` moves (each an append-only transition, the derived current row, a
   StageMoved event and a 客户动态 entry);
3. a steady sweep (nothing to move: every relation already as far as its facts allow).

    python -m bench.stages [--relations 100000] [--due 1000] [--db postgres://...]
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.db import init_db  # noqa: E402

BATCH = 5000


async def seed(relations: int, now: datetime) -> tuple[int, list[tuple[str, str]]]:
    from storage.facts import FollowRelation, FollowTag, GroupMember
    from storage.stages import Journey, Stage, StageRule, StageTagMark

    rng = random.Random(16)
    journey = await Journey.create(name="销售旅程", created_at=now, updated_at=now)
    stages = [
        await Stage.create(journey_id=journey.id, position=i, name=n)
        for i, n in enumerate(["新客户", "有意向", "体验中", "已成交", "复购"])
    ]
    for stage, conditions in (
        (stages[0], [{"type": "days_added", "days": 1}]),
        (stages[1], [{"type": "tags", "match": "any", "tag_ids": ["t_hot"]}]),
        (stages[2], [{"type": "group", "chat_ids": ["wr_trial"]}]),
        (
            stages[3],
            [
                {"type": "tags", "match": "all", "tag_ids": ["t_hot", "t_paid"]},
                {"type": "group", "chat_ids": ["wr_vip"]},
            ],
        ),
    ):
        await StageRule.create(
            journey_id=journey.id, stage_id=stage.id, conditions=conditions, enabled=True
        )
    untagged = []
    for start in range(0, relations, BATCH):
        rels, marks, tags, members = [], [], [], []
        for i in range(start, min(start + BATCH, relations)):
            userid, ext = f"u{i % 200}", f"wm{i:08d}"
            added = now - timedelta(days=rng.uniform(0, 60))
            rels.append(FollowRelation(userid=userid, external_userid=ext, added_at=added))
            if i % 5 == 0:
                for tag in ("t_hot", "t_paid") if i % 10 == 0 else ("t_hot",):
                    marks.append(
                        StageTagMark(userid=userid, external_userid=ext, tag_id=tag, at=now)
                    )
                    tags.append(
                        FollowTag(userid=userid, external_userid=ext, tag_id=tag, added_at=now)
                    )
            else:
                untagged.append((userid, ext))
            if i % 10 == 0:
                chat = "wr_vip" if i % 20 == 0 else "wr_trial"
                members.append(
                    GroupMember(chat_id=chat, member_id=ext, member_type=2, join_time=now)
                )
        await FollowRelation.bulk_create(rels)
        await StageTagMark.bulk_create(marks)
        await FollowTag.bulk_create(tags)
        await GroupMember.bulk_create(members)
    return journey.id, untagged


async def place(journey_id: int, now: datetime) -> int:
    """Every relation where the rules put it, as earlier sweeps would have left it."""
    from handlers.stages.engine import decide, load_facts, load_plan
    from storage.stages import Journey, StageCurrent, StageTransition

    plan = await load_plan(await Journey.get(id=journey_id))
    rels = await load_facts()
    placed = 0
    at = now - timedelta(hours=2)
    for start in range(0, len(rels), BATCH):
        steps, currents = [], []
        for rel in rels[start : start + BATCH]:
            decision = decide(plan, rel, None, now)
            if decision is None:
                continue
            key = f"seed:{rel.userid}:{rel.external_userid}"
            steps.append(
                StageTransition(
                    key=key, journey_id=journey_id, userid=rel.userid,
                    external_userid=rel.external_userid, seq=1, to_stage_id=decision.stage.id,
                    by="rule", rule_id=decision.rule.id, rule_version=1, facts=decision.facts, at=at,
                )
            )  # fmt: skip
        await StageTransition.bulk_create(steps)
        ids = dict(
            await StageTransition.filter(key__in=[s.key for s in steps]).values_list("key", "id")
        )
        for s in steps:
            currents.append(
                StageCurrent(
                    journey_id=journey_id, userid=s.userid, external_userid=s.external_userid,
                    stage_id=s.to_stage_id, seq=1, transition_id=ids[s.key], entered_at=at,
                )
            )  # fmt: skip
        await StageCurrent.bulk_create(currents)
        placed += len(steps)
    return placed


async def plain_scan() -> int:
    from storage.facts import FollowRelation, FollowTag, GroupMember
    from storage.stages import StageCurrent, StageTagMark

    rows = 0
    rows += len(
        await FollowRelation.filter(active=True).values_list(
            "userid", "external_userid", "state", "added_at"
        )
    )
    rows += len(await StageTagMark.all().values_list("userid", "external_userid", "tag_id"))
    rows += len(await FollowTag.all().values_list("userid", "external_userid", "tag_id"))
    rows += len(await GroupMember.filter(member_type=2).values_list("chat_id", "member_id"))
    rows += len(await StageCurrent.all().values_list("userid", "external_userid", "stage_id"))
    return rows


async def main(args: argparse.Namespace) -> None:
    from handlers.stages import router, sweep
    from storage.facts import FollowTag
    from storage.stages import StageTagMark, StageTransition
    from tests.support import fake_deps

    tmp = Path(tempfile.mkdtemp(prefix="stages-bench-"))
    db_url = args.db or f"sqlite://{tmp}/bench.sqlite3"
    ctx = await init_db(db_url)
    redis_server = EmbeddedRedis(persist=False)
    redis_server.start()
    redis = Redis.from_url(redis_server.url)
    settings = load_settings(None, environ={}, overrides={})
    now = datetime.now(UTC)
    deps = fake_deps(settings, redis, [router], wecom=None, clock=lambda: now)
    try:
        start = time.perf_counter()
        journey_id, untagged = await seed(args.relations, now)
        placed = await place(journey_id, now)
        print(
            f"{args.relations:,} relations seeded and {placed:,} placed in "
            f"{time.perf_counter() - start:.1f} s ({db_url.split(':')[0]})"
        )
        start = time.perf_counter()
        rows = await plain_scan()
        base = time.perf_counter() - start
        print(f"plain scan of the same rows ({rows:,} rows): {base * 1000:.0f} ms")
        due = untagged[: args.due]
        for userid, ext in due:  # a tag set through scrmbot since the last sweep
            await StageTagMark.create(userid=userid, external_userid=ext, tag_id="t_hot", at=now)
            await FollowTag.create(userid=userid, external_userid=ext, tag_id="t_hot", added_at=now)
        before = await StageTransition.all().count()
        start = time.perf_counter()
        moved = await sweep.sweep_rules(deps)
        took = time.perf_counter() - start
        assert moved == len(due) == await StageTransition.all().count() - before, moved
        print(
            f"sweep with {moved:,} moves: {took * 1000:.0f} ms = {took / base:.1f}x the scan "
            f"({(took - base) / max(moved, 1) * 1000:.2f} ms per move beyond it)"
        )
        scans, steady = [], []
        for _ in range(3):  # interleaved, so both see the same load on the machine
            start = time.perf_counter()
            await plain_scan()
            scans.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert await sweep.sweep_rules(deps) == 0
            steady.append(time.perf_counter() - start)
        base, best = min(scans), min(steady)
        print(
            f"steady sweep over {args.relations:,} relations (nothing to move): "
            f"{best * 1000:.0f} ms = {best / base:.1f}x the scan ({base * 1000:.0f} ms, best of 3 each)"
        )
    finally:
        await redis.aclose()
        redis_server.stop()
        await ctx.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--db", default="", help="a PostgreSQL URL (an empty database)")
    asyncio.run(main(parser.parse_args()))
