"""`scrmbot demo`'s stages seed: the sales journey, and customers moved by its rules as the
sandbox plays group joins and scrmbot sets tags (through the real callback and event path)."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from handlers.stages import demo
from storage.stages import Journey, StageTransition
from tests.fission.test_sandbox_chain import sync_directory
from tests.harness import running_stack
from tests.support import wait_until


async def test_demo_journey_moves_customers_on_played_joins_and_tags(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = seed_demo_corp(Corp())
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        await demo.seed(stack.deps)
        journey = await Journey.get(name=demo.DEMO_NAME)

        async def moved_by(kind: str) -> bool:
            await stack.run_jobs()
            rows = await StageTransition.filter(journey_id=journey.id, by="rule")
            return sum(r.facts.get("trigger") == kind for r in rows) >= 1

        await wait_until(lambda: moved_by("group"))
        await wait_until(lambda: moved_by("tags"))
        await demo.seed(stack.deps)  # a second run changes nothing
        assert await Journey.filter(name=demo.DEMO_NAME).count() == 1
