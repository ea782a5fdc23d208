"""The demo: the seed makes its plans once, and 模拟发布与点击 has staff post the run in the
sandbox, customers like it and open the link; the next poll sees it and alerts arrive."""

from __future__ import annotations

from pathlib import Path

from bot import schedule
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers.sop import demo
from storage.sop import SopClick, SopInteraction, SopPlan, SopTask, TaskState
from tests.harness import running_stack
from tests.leaderboard.stack import sync_directory


def demo_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    for userid, name in (("alice", "张丽"), ("bob", "王博")):
        corp.add_staff(userid, name, [2])
        for n in range(4):
            ext = corp.add_customer(f"{name}的客户{n}").external_userid
            corp.add_follow(userid, ext)
    return corp


async def test_demo_seed_and_play(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> None:
    corp = demo_corp()
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        deps = stack.deps
        await demo.seed(deps)
        await demo.seed(deps)  # a second demo start adds nothing
        assert await SopPlan.filter(deleted=False).count() == 2
        daily = await SopPlan.get(name=demo.DEMO_NAME)
        first = next(r for r in await schedule.runs_of("sop.run", f"{daily.id}:"))
        await schedule.plan("sop.run", first.key, deps.now())  # its minute has come
        await schedule.sweep(deps)
        await stack.run_jobs()
        assert await SopTask.filter(plan_id=daily.id).count() == 2
        run = (await SopTask.filter(plan_id=daily.id).first()).run_id  # type: ignore[union-attr]
        from storage.sop import SopRun

        played = await demo.play_run(deps, await SopRun.get(id=run), seed=3)
        assert played["posted"] >= 1 and played["clicks"] >= 1
        await schedule.sweep(deps)
        await stack.run_jobs()
        posted = await SopTask.filter(plan_id=daily.id, state=TaskState.POSTED).count()
        assert posted == played["posted"]
        assert await SopClick.all().count() >= 1
        assert await SopInteraction.filter(kind="like").count() == played["likes"]
        alerts = [
            m
            for u in ("alice", "bob")
            for m in corp.inbox(u)
            if "点开了你朋友圈的链接" in str((m.card or {}).get("main_title"))
        ]
        assert alerts
