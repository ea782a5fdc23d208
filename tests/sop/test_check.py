"""`scrmbot check` says whether the app may use the moments APIs and which plan staff WeCom
refused as senders, with what to switch on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.check import run_checks
from bot.embedded_redis import EmbeddedRedis
from handlers.sop import router
from storage.db import init_db
from storage.sop import Mode, SopRun
from tests.harness import running_stack

REAL_SECRET = "Qm3v8K1xZp4T9wLr2Yh6Nc7Bd5Fg0Sj-aE_uXo"


async def test_moments_permissions_and_refused_senders(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[router], security={"secret": REAL_SECRET}
    ) as stack:
        assert await run_checks(stack.settings, [router]) is True
        out = capsys.readouterr().out
        assert "✓ 朋友圈SOP: get_moment_list with the customer-contact secret" in out
        assert "✓ 朋友圈SOP: senders WeCom accepted (last 30 days) — none refused" in out

        stack.corp.moments_api_allowed = False
        await init_db(stack.settings.database.url, create_schema=False)  # check closed ours
        now = stack.deps.now()
        await SopRun.create(
            plan_id=1,
            key="1:x",
            token="t.x",
            due_at=now - timedelta(days=1),
            started_at=now,
            mode=Mode.TASK,
            follow_until=now,
            invalid_userids=["lina"],
        )
        assert await run_checks(stack.settings, [router]) is False
        out = capsys.readouterr().out
        assert "✗ 朋友圈SOP: get_moment_list with the customer-contact secret" in out
        assert "可调用应用" in out
        assert "✗ 朋友圈SOP: senders WeCom accepted (last 30 days) — refused: lina" in out
        assert "使用范围" in out
