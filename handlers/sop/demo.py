"""Demo: two plans over the demo corp's sales staff (a personal-post plan whose first run goes
out a minute after the demo starts, and a weekly enterprise task), and 「模拟发布与点击」: in the
sandbox, some staff post the run's content (as shareToExternalMoments would), customers like
it and open the tracked link, so the data pages and the click alerts have something real."""

from __future__ import annotations

import logging
import random
import struct
import zlib
from datetime import timedelta

import aiohttp
from aiohttp import web

from bot import schedule
from bot.auth_types import Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok
from bot.sandbox.player import sandbox_player
from handlers.sop import media, plans
from handlers.sop.router import router
from handlers.sop.runs import link_url
from storage.directory import Staff
from storage.facts import FollowRelation
from storage.sop import Mode, SopPlan, SopRun, SopTask, TaskState

log = logging.getLogger(__name__)
DEMO_NAME = "每日新品推荐"
COVER = "sopdemo-cover-0000000000.png"


def _png(width: int = 120, height: int = 120) -> bytes:
    """A plain blue PNG (the demo's link cover)."""
    raw = b"".join(b"\x00" + b"\x16\x77\xff" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@router.demo
async def seed(deps: Deps) -> None:
    if await SopPlan.filter(name=DEMO_NAME, deleted=False).exists():
        return
    (media.upload_dir(deps.settings) / COVER).write_bytes(_png())
    sales = [str(u) for u in await Staff.filter(status=1).values_list("userid", flat=True)][:5]
    tz, now = deps.settings.tz, deps.now()
    first = now + timedelta(minutes=1)
    local = first.astimezone(tz)
    link = {"title": "春季新品手册", "url": "https://example.com/spring", "cover": COVER}
    daily = await SopPlan.create(
        name=DEMO_NAME,
        mode=Mode.PERSONAL,
        userids=sales,
        at_time=f"{local:%H:%M}",
        start_date=local.date(),
        end_date=local.date() + timedelta(days=30),
        remind_again_minutes=30,
        items=[
            {"text": "春季新品上市，点开看看适合您的那一款 👇", "kind": "link", "link": link},
            {"text": "今天店里到了一批新货，欢迎来看看！", "kind": "text"},
        ],
        created_by="admin",
    )
    await plans.plan_runs(deps, daily)
    await SopPlan.create(
        name="周末活动预告",
        mode=Mode.TASK,
        userids=sales,
        freq="weekly",
        weekdays=[4],
        at_time="10:00",
        start_date=local.date(),
        items=[{"text": "周末会员日，全场 8 折，欢迎到店！", "kind": "text"}],
        created_by="admin",
    )
    for plan in await SopPlan.filter(name="周末活动预告"):
        await plans.plan_runs(deps, plan)
    log.info("sop demo: plans seeded, the first reminders go out at %s", f"{local:%H:%M}")


async def play_run(deps: Deps, sop_run: SopRun, seed: int | None = None) -> dict[str, int]:
    """In the sandbox: most of the run's staff post it (personal mode) or confirm the task,
    their customers like and comment, and open the tracked link."""
    rng = random.Random(seed)
    tasks = await SopTask.filter(run_id=sop_run.id, state=TaskState.PENDING)
    posters = [t for t in tasks if rng.random() < 0.75] or tasks[:1]
    done = {"posted": 0, "likes": 0, "clicks": 0}
    link = sop_run.item.get("link") or {}
    refusal = "只有连接沙箱企业微信时才能模拟发布与点击"
    async with sandbox_player(deps.settings.wecom.api_base, refusal) as play:
        for task in posters:
            if sop_run.mode is Mode.TASK:
                if not sop_run.moment_id:
                    continue
                await play(
                    "staff_publishes_moment",
                    {"userid": task.userid, "moment_id": sop_run.moment_id},
                )
                moment_id = sop_run.moment_id
            else:
                url = link_url(deps, task.token) if link else ""
                made = await play(
                    "staff_posts_moment",
                    {
                        "userid": task.userid,
                        "text": str(sop_run.item.get("text", "")),
                        "link_url": url,
                        "link_title": str(link.get("title", "")),
                    },
                )
                info = made.get("info")
                moment_id = str(info.get("moment_id", "")) if isinstance(info, dict) else ""
            done["posted"] += 1
            customers = await FollowRelation.filter(userid=task.userid, active=True).values_list(
                "external_userid", flat=True
            )
            for ext in [str(c) for c in customers][:6]:
                if rng.random() < 0.5:
                    await play(
                        "customer_likes_moment",
                        {"userid": task.userid, "moment_id": moment_id, "external_userid": ext},
                    )
                    done["likes"] += 1
            if link and sop_run.mode is Mode.PERSONAL:
                for _ in range(rng.randint(1, 3)):
                    async with (
                        aiohttp.ClientSession() as visitor,
                        visitor.get(link_url(deps, task.token), allow_redirects=False) as resp,
                    ):
                        done["clicks"] += resp.status == 302
    # follow the run at once: its next poll moves to now
    for run in await schedule.runs_of("sop.poll", f"{sop_run.id}:"):
        if run.state.value == "pending":
            await schedule.plan("sop.poll", run.key, deps.now())
    return done


@router.post("/api/sop/plans/{id}/demo/play", role=Role.ADMIN)
async def demo_play(ctx: RequestContext) -> web.StreamResponse:
    plan = await plans.load(ctx)
    sop_run = await SopRun.filter(plan_id=plan.id).order_by("-due_at").first()
    if sop_run is None:
        raise ApiError(409, "这个计划还没有发送过，请等第一次发送后再模拟")
    return json_ok(await play_run(ctx.deps, sop_run))
