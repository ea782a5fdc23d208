"""`scrmbot demo`'s points seed on the demo corp: a programme on two groups, customers with
streaks and balances that a recomputation from the ledger agrees with, and one redemption
whose card waits in the owning staff member's sandbox inbox."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from handlers.points import demo
from storage.points import PointsAccount, PointsProgram, PointsRedemption, PointsReward
from tests.harness import running_stack
from tests.points.support import assert_consistent


async def test_demo_seeds_a_running_programme(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = seed_demo_corp(Corp())
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        for _, hook in stack.deps.dispatcher.hooks("sync"):
            await hook(stack.deps)
        await demo.seed(stack.deps)
        accounts = await PointsAccount.all()
        assert len(accounts) >= 10
        assert max(a.streak for a in accounts) >= 3
        assert max(a.balance for a in accounts) >= 300
        for a in accounts:
            await assert_consistent(a.external_userid)
        redemption = await PointsRedemption.get()
        assert redemption.state == "pending" and redemption.userid
        inbox = corp.inbox(redemption.userid)
        assert inbox and "定制帆布袋" in inbox[-1].card["main_title"]["title"]  # type: ignore[index]
        assert await PointsReward.all().count() == 3
        await demo.seed(stack.deps)  # a second run changes nothing
        assert await PointsProgram.all().count() == 1
        assert await PointsRedemption.all().count() == 1
