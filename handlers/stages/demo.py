"""Demo content: a 销售旅程 over the demo corp with rules on tags set through scrmbot and on
group joins, a month of stage history for the funnel, a sweep (which sends the reminder cards
of relations sitting in 有意向), then a few tags and group joins played through the sandbox
so the normal pipeline (scrmbot tag / callback → facts → domain event → rule) moves them."""

from __future__ import annotations

import logging
import random
from datetime import UTC, timedelta

from bot.deps import Deps
from bot.http import ApiError
from bot.sandbox.player import sandbox_enabled, sandbox_player
from handlers.facts import mark_tags
from handlers.stages import sweep
from handlers.stages.engine import move
from handlers.stages.router import router
from storage.facts import CorpTag, CustomerGroup, FollowRelation, FollowTag
from storage.stages import Journey, MoveBy, Stage, StageCurrent, StageReminder, StageRule

log = logging.getLogger(__name__)
DEMO_NAME = "销售旅程"
STAGES = [
    ("新客户", "刚添加的客户"),
    ("有意向", "表达了对产品的兴趣"),
    ("体验中", "加入了新品体验群"),
    ("已成交", "A类客户且在VIP群"),
    ("复购", "再次购买（手动设置）"),
]
INTEREST = ["基础版", "专业版", "企业版"]
TRIAL_GROUPS = ["新品体验官1群", "新品体验官2群"]


@router.demo
async def seed(deps: Deps) -> None:
    if await Journey.filter(name=DEMO_NAME, deleted=False).exists():
        return
    now = deps.now()
    tags = {
        str(n): str(t) for t, n in await CorpTag.filter(deleted=False).values_list("tag_id", "name")
    }
    groups = {str(n): str(c) for c, n in await CustomerGroup.all().values_list("chat_id", "name")}
    journey = await Journey.create(
        name=DEMO_NAME,
        description="从添加到成交、复购的销售跟进",
        position=0,
        created_at=now,
        updated_at=now,
    )
    stages = [
        await Stage.create(journey_id=journey.id, position=i, name=n, description=d)
        for i, (n, d) in enumerate(STAGES)
    ]
    rules = [
        (0, "添加即进入", [{"type": "days_added", "days": 0}]),
        (
            1,
            "打上意向产品标签",
            [{"type": "tags", "match": "any", "tag_ids": [tags[n] for n in INTEREST if n in tags]}],
        ),
        (
            2,
            "加入新品体验群",
            [{"type": "group", "chat_ids": [groups[n] for n in TRIAL_GROUPS if n in groups]}],
        ),
    ]
    if "A类客户" in tags and "VIP客户交流群" in groups:
        rules.append(
            (
                3,
                "A类客户进VIP群",
                [
                    {"type": "tags", "match": "all", "tag_ids": [tags["A类客户"]]},
                    {"type": "group", "chat_ids": [groups["VIP客户交流群"]]},
                ],
            )
        )
    for index, name, conditions in rules:
        await StageRule.create(
            journey_id=journey.id,
            stage_id=stages[index].id,
            name=name,
            conditions=conditions,
            enabled=True,
        )
    await StageReminder.create(journey_id=journey.id, stage_id=stages[1].id, kind="stay", days=3)
    await StageReminder.create(journey_id=journey.id, stage_id=stages[2].id, kind="stay", days=7)
    await StageReminder.create(
        journey_id=journey.id, stage_id=stages[0].id, kind="silent", days=7, enabled=False
    )
    await _history(deps, journey, stages)
    result = await sweep.sweep(deps)
    log.info("stages demo: sweep moved %s relations, sent %s reminders", *result.values())
    if sandbox_enabled(deps.settings.wecom.api_base):
        await _play(deps, journey, tags, groups)


async def _history(deps: Deps, journey: Journey, stages: list[Stage]) -> None:
    """A month of staff moves for a sample of relations, so the funnel has a shape."""
    rng = random.Random(16)
    now = deps.now()
    rels = list(
        await FollowRelation.filter(active=True)
        .order_by("id")
        .values_list("userid", "external_userid")
    )
    for userid, ext in rng.sample(rels, min(80, len(rels))):
        at = now - timedelta(days=rng.uniform(20, 35))
        for position, stage in enumerate(stages):
            if position and rng.random() > (0.65 if position < 3 else 0.4):
                break
            at += timedelta(hours=rng.uniform(6, 24 * 6))
            if at >= now:
                break
            await move(
                deps,
                journey_id=journey.id,
                userid=str(userid),
                external_userid=str(ext),
                to_stage_id=stage.id,
                by=MoveBy.STAFF,
                key=f"demo:{journey.id}:{userid}:{ext}:{position}",
                created_by=str(userid),
                reason="演示数据：跟进记录",
                at=at.astimezone(UTC),
            )


async def _play(deps: Deps, journey: Journey, tags: dict[str, str], groups: dict[str, str]) -> None:
    """Tags set through scrmbot and group joins played in the sandbox: the worker delivers
    the events and the rules move these customers."""
    new = await Stage.filter(journey_id=journey.id, position=0).first()
    if new is None:
        return
    in_new = list(
        await StageCurrent.filter(journey_id=journey.id, stage_id=new.id)
        .order_by("id")
        .limit(40)
        .values_list("userid", "external_userid")
    )
    rng = random.Random(7)
    rng.shuffle(in_new)
    interest = [tags[n] for n in INTEREST if n in tags]
    tagged = 0
    for userid, ext in in_new[:4]:
        if (
            interest
            and not await FollowTag.filter(
                userid=userid, external_userid=ext, tag_id__in=interest
            ).exists()
        ):
            try:
                await mark_tags(
                    deps,
                    userid=str(userid),
                    external_userid=str(ext),
                    add=[rng.choice(interest)],
                    remove=[],
                    by="demo",
                    feature="stages",
                )
                tagged += 1
            except Exception:
                log.exception("stages demo: tagging %s failed", ext)
    chat = groups.get(TRIAL_GROUPS[0])
    joined = 0
    if chat:
        async with sandbox_player(deps.settings.wecom.api_base) as play:
            for _, ext in in_new[4:7]:
                try:
                    await play("customer_joins_group", {"chat_id": chat, "external_userid": ext})
                    joined += 1
                except ApiError as exc:
                    log.warning("stages demo: %s could not join: %s", ext, exc)
    log.info("stages demo: %s tagged through scrmbot, %s joined a trial group", tagged, joined)
