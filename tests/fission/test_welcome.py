"""The welcome arbiter with the real providers: fission's welcome wins over the default one for
an add through a participant's QR code, and when the add is late the staff member gets the
fallback card with fission's text to forward."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from handlers.facts import router as facts_router
from handlers.fission import router as fission_router
from handlers.fission.credit import state_of
from handlers.welcome import router as welcome_router
from storage.directory import Staff
from storage.fission import FissionActivity, FissionAttempt, FissionParticipant
from storage.welcome import DefaultWelcome
from tests.harness import Stack, running_stack
from tests.welcome.test_arbiter import corp, decided


async def participant(stack: Stack) -> FissionParticipant:
    await Staff.get_or_create(userid="lina", defaults={"name": "李娜", "departments": [1]})
    now = stack.deps.now()
    activity = await FissionActivity.create(
        name="好友助力",
        start_at=now - timedelta(hours=1),
        end_at=now + timedelta(days=1),
        published=True,
        staff=["lina"],
        welcome_text="欢迎参加好友助力！",
    )
    return await FissionParticipant.create(
        activity_id=activity.id,
        external_userid="wm_owner",
        code="abcd1234",
        name="小王",
        joined_at=now,
    )


async def test_fission_welcome_wins_over_the_default(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    routers = [facts_router, welcome_router, fission_router]
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp(), routers=routers) as s:
        await DefaultWelcome.create(id=1, enabled=True, text="默认欢迎语")
        p = await participant(s)
        result = await s.driver.customer_adds_staff("lina", state=state_of(p.code), name="好友甲")
        ext = str(result.info["external_userid"])
        row = await decided(ext)
        assert (row.status, row.provider) == ("sent", "fission.helper_welcome")
        text = s.corp.welcome_messages[0].payload["text"]["content"]
        assert text.startswith("欢迎参加好友助力！") and "感谢你为 小王 助力" in text
        # the web process only read: the worker credits the add from the facts' FollowAdded
        assert not await FissionAttempt.exists(helper=ext)
        await s.run_jobs()
        assert str((await FissionAttempt.get(helper=ext)).outcome) == "counted"
        plain = await s.driver.customer_adds_staff("lina", name="路人")
        other = await decided(str(plain.info["external_userid"]))
        assert other.provider == "welcome.default_welcome"


async def test_late_add_gets_the_fallback_card_with_fission_text(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    clock = [time.time() - 30]  # the add happened 30 s ago: past WeCom's 20 s
    routers = [welcome_router, fission_router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(clock), routers=routers
    ) as s:
        p = await participant(s)
        result = await s.driver.customer_adds_staff("lina", state=state_of(p.code), name="好友乙")
        row = await decided(str(result.info["external_userid"]))
        assert (row.status, row.reason, row.fallback_sent) == ("not_sent", "late", True)
        assert row.provider == "fission.helper_welcome"
        assert s.corp.welcome_messages == []
        card = s.corp.inbox("lina")[-1].card or {}
        assert "感谢你为 小王 助力" in str(card)
