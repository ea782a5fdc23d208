"""`scrmbot demo`'s fission seed: a running activity and a chain of helpers played through the
sandbox — the starter wins the first tier, a friend's own chain goes on, self-help is refused,
and every helper got fission's welcome with their own link."""

from __future__ import annotations

from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from handlers.fission import demo
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
)
from tests.fission.test_sandbox_chain import sync_directory
from tests.harness import running_stack
from tests.support import wait_until


async def test_demo_plays_a_chain_with_a_winner(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = seed_demo_corp(Corp())
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await sync_directory(stack)
        await demo.seed(stack.deps)
        await stack.run_jobs()
        activity = await FissionActivity.get(name=demo.DEMO_NAME)
        starter = await FissionParticipant.get(
            activity_id=activity.id, external_userid=demo.STARTER[0]
        )
        assert await FissionHelp.filter(participant_id=starter.id).count() == 3
        award = await FissionAward.get(participant_id=starter.id)
        assert award.state is AwardState.WON
        second = await FissionParticipant.get(
            activity_id=activity.id, external_userid="wm_demo_fission_f0"
        )
        assert second.invited_by == starter.id
        assert await FissionHelp.filter(participant_id=second.id).count() == 2
        refused = await FissionAttempt.filter(helper=demo.STARTER[0])
        assert [str(r.outcome) for r in refused] == ["self"], [
            (r.key, r.outcome, r.at, r.recorded_at) for r in refused
        ]
        await wait_until(lambda: len(corp.welcome_messages) >= 6)
        texts = [str(m.payload["text"]["content"]) for m in corp.welcome_messages]
        assert sum("感谢你为 陈小雨 助力" in t for t in texts) == 3
        assert any("不能为自己助力" in t for t in texts)
        await demo.seed(stack.deps)  # a second run changes nothing
        assert await FissionActivity.filter(name=demo.DEMO_NAME).count() == 1
