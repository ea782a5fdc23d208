"""Demo data: a running activity over the demo corp's staff, and "play a day" of referrals in
the sandbox so the normal pipeline (callback → facts → listeners → cards) runs end to end."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from bot.auth_types import Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok, read_json
from bot.sandbox.player import sandbox_enabled, sandbox_player
from handlers.leaderboard import access, counting, schedule
from handlers.leaderboard.activities import set_members, state_of, sync_participants
from handlers.leaderboard.router import router
from handlers.leaderboard.schedule import plan_runs
from storage.directory import Staff
from storage.leaderboard import Activity, ActivityState

log = logging.getLogger(__name__)

DEMO_NAME = "春季拉新冲刺"
DAILY_JOB = "leaderboard_demo_daily"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def _customer_name(rng: random.Random) -> str:
    return str(rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(["", *_GIVEN]))


async def play_day(
    deps: Deps, activity: Activity, customers: int = 12, seed: int | None = None
) -> int:
    """Have `customers` new customers add the activity's participants through the sandbox
    (earlier participants get more, so the ranking has a shape); then queue the daily
    broadcast a few seconds later, once the worker has counted them. Returns the adds made."""
    participants = sorted(await counting.participant_ids(activity.id))
    if not participants:
        raise ApiError(409, "活动还没有参与成员")
    rng = random.Random(seed)
    weights = [len(participants) - i for i in range(len(participants))]
    made = 0
    refusal = "只有连接沙箱企业微信时才能模拟客户添加"
    async with sandbox_player(deps.settings.wecom.api_base, refusal) as play:
        for userid in rng.choices(participants, weights=weights, k=customers):
            await play("customer_adds_staff", {"userid": userid, "name": _customer_name(rng)})
            made += 1
    day = deps.local_now().date().isoformat()
    await deps.queue.enqueue(
        DAILY_JOB, activity.id, job_id=f"lb-demo-daily:{activity.id}:{day}", defer_by=3
    )
    return made


async def send_daily_now(deps: Deps, activity: Activity) -> int:
    """Today's daily broadcast regardless of its set time (still once per participant a day)."""
    if state_of(activity, deps.now()) is not ActivityState.RUNNING:
        return 0
    activity.remind_daily, activity.daily_time = True, "00:00"  # in memory only: not saved
    return await schedule.run_daily(deps, activity, deps.now())


@router.job
async def leaderboard_demo_daily(ctx: dict[str, Any], activity_id: int) -> None:
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is not None:
        await send_daily_now(ctx["deps"], activity)


class PlayIn(BaseModel):
    customers: int = Field(default=12, ge=1, le=50, title="模拟客户数")


@router.post("/api/leaderboard/activities/{id}/demo/play-day", role=Role.ADMIN)
async def play_day_view(ctx: RequestContext) -> web.StreamResponse:
    activity = await access.load(ctx, manage=True)
    if state_of(activity, ctx.deps.now()) is not ActivityState.RUNNING:
        raise ApiError(409, "只有进行中的活动可以模拟客户添加")
    args = await read_json(ctx.request, PlayIn)
    made = await play_day(ctx.deps, activity, args.customers)
    return json_ok({"added": made})


@router.demo
async def seed(deps: Deps) -> None:
    activity = await Activity.filter(name=DEMO_NAME, deleted=False).first()
    if activity is not None:
        return
    now = deps.now()
    staff = [str(u) for u in await Staff.filter(status=1).values_list("userid", flat=True)]
    activity = await Activity.create(
        name=DEMO_NAME,
        description="活动期间添加的新客户越多排名越高，前 3 名有奖励。",
        start_at=now - timedelta(days=3),
        end_at=now + timedelta(days=4),
        top_n=3,
        started_done=True,
        created_by="",
    )
    await set_members(activity.id, staff, [])
    await sync_participants(deps.redis, activity)
    await counting.rebuild(deps.redis, activity)
    await plan_runs(deps, activity)
    if staff and sandbox_enabled(deps.settings.wecom.api_base):
        added = await play_day(deps, activity, customers=max(8, 2 * len(staff)), seed=1)
        log.info("leaderboard demo: %s customers added through the sandbox", added)
